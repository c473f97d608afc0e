acl "rcpt" {
  accept { hosts = "" },
  accept { domain = "+local_domains" },
}
