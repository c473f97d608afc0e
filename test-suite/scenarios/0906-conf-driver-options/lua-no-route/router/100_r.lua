router "scripted" {
  driver = "lua",
  domains = "example.com",
}
