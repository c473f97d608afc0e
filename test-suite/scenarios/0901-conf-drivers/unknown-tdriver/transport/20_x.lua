transport "box" {
  driver = "mailbox",
  file = "/var/mail/$local_part",
}
