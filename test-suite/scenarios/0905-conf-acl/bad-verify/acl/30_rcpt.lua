acl "rcpt" {
  require { verify = "recipient : senders" },
}
