router "aliases" {
  driver = "redirect",
  data = "postmaster@example.com",
  route_list = "* smarthost.test",
}
