order = order .. ",router/10_b.lua"
router "r10b" {
  driver = "lua",
  local_parts = "r10b",
  route = function() return accept { transport = "early" } end,
}
