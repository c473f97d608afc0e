order = order .. ",router/a_lower.lua"
router "ra" {
  driver = "lua",
  local_parts = "ra",
  route = function() return accept { transport = "late" } end,
}
