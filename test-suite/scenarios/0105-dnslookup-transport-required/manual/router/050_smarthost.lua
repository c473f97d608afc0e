-- a smart host router, also without a transport


router "smarthost" {
  driver = "manualroute",
  route_list = { "* a-only.test" },
}
