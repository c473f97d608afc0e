router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/users",
  transport = "local_maildir",
}

-- the members of the example.org loops have mailboxes of their own
router "orgusers" {
  driver = "local_user",
  domains = "example.org",
  users = "lsearch;@DIR@/orgusers",
  user_key = "${local_part}@${domain}",
  transport = "local_maildir",
}

router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains : ! +virtual_domains",
  transport = "remote_smtp",
  no_more = true,
}
