router "scripted" {
  driver = "lua",
  route = "accept",
}
