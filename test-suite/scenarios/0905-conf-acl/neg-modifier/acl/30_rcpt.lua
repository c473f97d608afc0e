acl "rcpt" {
  deny { hosts = "192.0.2.1", ["!message"] = "x" },
}
