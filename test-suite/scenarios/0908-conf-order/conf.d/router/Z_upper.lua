order = order .. ",router/Z_upper.lua"
router "rZ" {
  driver = "lua",
  local_parts = "rZ",
  route = function() return accept { transport = "late" } end,
}
