transport "remote_smtp" {
  driver = "smtp",
  port = 2525,
}
