router "first" {
  driver = "lua",
  local_parts = "one",
  route = function() return accept { transport = "t" } end,
}
