acl "rcpt" {
  accept { hosts = "" },
  allow { domains = "+local_domains" },
}
