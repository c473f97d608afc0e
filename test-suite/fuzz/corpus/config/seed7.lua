-- router/300_local_user.lua - system accounts and virtual users.
--
-- A local part that is a system account (getpwnam) is delivered to its
-- Maildir; so is one listed in the virtual user table ../var/virtual_users
-- ("name: home-directory"). Addresses with a "+tag" suffix are delivered
-- to the user ("user+lists@..." goes to "user").
router "local_user" {
  driver = "local_user",
  domains = "+local_domains",
  local_parts = "! root",           -- mail for root goes through aliases
  local_part_suffix = "+*",
  local_part_suffix_optional = true,
  transport = "local_maildir",
}

router "virtual_users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;" .. tern_var .. "/virtual_users",
  local_part_suffix = "+*",
  local_part_suffix_optional = true,
  transport = "local_maildir",
}

-- Unknown local parts of chosen domains to one mailbox (Postfix:
-- luser_relay). Uncomment to use:
-- router "catch_all" {
--   driver = "catch_all",
--   domains = "+local_domains",
--   to = "postmaster",
-- }
