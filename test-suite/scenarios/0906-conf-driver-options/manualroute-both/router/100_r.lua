router "smarthost" {
  driver = "manualroute",
  route_list = { "* smarthost.test" },
  route_data = "smarthost.test",
  transport = "remote_smtp",
}
