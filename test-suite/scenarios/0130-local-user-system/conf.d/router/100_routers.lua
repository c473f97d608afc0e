-- check_local_user on a Lua router for example.com: it runs only for
-- system accounts, with $home set from the password entry, and reports it
router "homes" {
  driver = "lua",
  domains = "example.com",
  check_local_user = true,
  route = function(addr)
    return fail("home of " .. addr.local_part .. " is " .. (addr.home or "unset"))
  end,
}

-- system accounts (getpwnam), "+tag" suffixes allowed
router "system" {
  driver = "local_user",
  domains = "+local_domains",
  local_part_suffix = "+*",
  local_part_suffix_optional = true,
  transport = "local_maildir",
}
