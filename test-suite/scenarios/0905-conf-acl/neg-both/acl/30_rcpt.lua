acl "rcpt" {
  deny { verify = "sender", ["!verify"] = "recipient" },
}
