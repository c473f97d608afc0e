router "last" {
  driver = "lua",
  route = function() return accept { transport = "t" } end,
}
