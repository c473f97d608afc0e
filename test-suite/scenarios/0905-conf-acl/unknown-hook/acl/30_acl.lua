acl "recipient" {
  accept {},
}
