acl "rcpt" {
  require { verify = "header_sender" },
}
