-- a smart host router without its route
router "smarthost" {
  driver = "manualroute",
  transport = "remote_smtp",
}
