acl "rcpt" {
  accept { hosts = "127.0.0.1 : 10.0.0.0/40" },
  deny {},
}
