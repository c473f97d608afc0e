router "numbers" {
  driver = "lua",
  local_parts = "^[0-9+$",
  route = function() return accept { transport = "t" } end,
}
