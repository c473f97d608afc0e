acl "rcpt" {
  accept { hosts = "" },
  accept { domains = "+local_domains : +hosted" },
  deny   { message = "relay not permitted" },
}
