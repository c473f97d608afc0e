acl "rcpt" {
  warn { set = { acl_m_ok = "1" } },
  warn { set = { counter = "1" } },
}
