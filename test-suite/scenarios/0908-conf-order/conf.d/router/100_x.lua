order = order .. ",router/100_x.lua"
router "r100" {
  driver = "lua",
  local_parts = "r100",
  route = function() return accept { transport = "early" } end,
}
