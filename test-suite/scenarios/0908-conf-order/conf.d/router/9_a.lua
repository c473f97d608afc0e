order = order .. ",router/9_a.lua"
router "r9a" {
  driver = "lua",
  local_parts = "r9a",
  route = function() return accept { transport = "late" } end,
}
