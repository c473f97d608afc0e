acl "rcpt" {
  require { acl = "not_there" },
}
