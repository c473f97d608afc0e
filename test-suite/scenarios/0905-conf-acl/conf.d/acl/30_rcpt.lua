acl "connect" {
  accept { hosts = "+relay_from_hosts" },
  accept {},
}
acl "rcpt" {
  accept { hosts = "" },
  deny   { local_parts = "^[./|] : ^.*[@%!]", message = "restricted characters in address" },
  warn   { set = "acl_m_seen = yes" },
  warn   { set = { acl_c_count = "1" } },
  accept { domains = "+local_domains", verify = "recipient" },
  require { verify = "sender" },
  deny   { message = "relay not permitted" },
}
