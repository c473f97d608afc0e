router "midle" {
  override = true,
  driver = "lua",
  route = function() return nil end,
}
