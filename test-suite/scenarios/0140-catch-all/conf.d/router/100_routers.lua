router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  no_more = true,
}

router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "lsearch;@DIR@/aliases",
  qualify_preserve_domain = true,
}

router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/users",
  transport = "local_maildir",
}

-- unknown local parts of example.com go to its postmaster
router "catch_all" {
  driver = "catch_all",
  domains = "example.com",
  to = "postmaster",
}

-- example.org's catch-all address does not exist itself
router "catch_lost" {
  driver = "catch_all",
  domains = "example.org",
  to = "lost",
}

-- example.info: "to" computed by a Lua function (nil: no catch-all)
router "catch_fn" {
  driver = "catch_all",
  domains = "example.info",
  to = function(addr)
    if addr.local_part == "vip" then return nil end
    return "alice@example.com"
  end,
}
