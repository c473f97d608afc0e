router "all" {
  driver = "lua",
  route = function() return accept { transport = "t" } end,
}
