acl "rcpt" {
  warn { set = "seen = yes" },
}
