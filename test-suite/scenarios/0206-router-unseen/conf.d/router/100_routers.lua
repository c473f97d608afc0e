router "archive_copy" {      -- a copy of ceo@ is archived; routing goes on
  driver = "lua",
  local_parts = "ceo",
  unseen = true,
  route = function() return accept { transport = "archive" } end,
}
router "team_copy" {         -- an unseen redirect: the children and the
  driver = "redirect",       -- original address are both delivered
  local_parts = "team",
  data = "archive-team@example.com",
  unseen = true,
}
router "aliases" {
  driver = "redirect",
  lookup = "lsearch;@DIR@/aliases",
}
router "mailboxes" {
  driver = "lua",
  route = function() return accept { transport = "mailbox" } end,
}
