acl "rcpt" {
  accept { hosts = "" },
  pass { domains = "+local_domains" },
}
