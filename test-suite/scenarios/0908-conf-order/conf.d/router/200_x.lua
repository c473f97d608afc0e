order = order .. ",router/200_x.lua"
router "r200" {
  driver = "lua",
  local_parts = "r200",
  route = function() return accept { transport = "late" } end,
}
