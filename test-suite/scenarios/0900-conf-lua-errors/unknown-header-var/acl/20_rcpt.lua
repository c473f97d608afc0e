acl "rcpt" {
  warn { add_header = "X-Listed: $dnslist_domain $acl_m_ok" },
  warn { add_header = "X-Bad: $dnslist_domian" },
  accept {},
}
