order = order .. ",router/150_x.lua"
router "r150" {
  driver = "lua",
  local_parts = "r150",
  route = function() return accept { transport = "late" } end,
}
