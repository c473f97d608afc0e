-- example.com: virtual users keyed by local part
router "users" {
  driver = "local_user",
  domains = "example.com",
  users = "lsearch;@DIR@/users",
  transport = "local_maildir",
}

-- example.net: keyed by the whole address
router "vusers" {
  driver = "local_user",
  domains = "example.net",
  users = "lsearch;@DIR@/vusers",
  user_key = "${local_part}@${domain}",
  transport = "local_maildir",
}

-- example.org: the table does not exist (yet)
router "later" {
  driver = "local_user",
  domains = "example.org",
  users = "lsearch;@DIR@/orgusers",
  transport = "local_maildir",
}
