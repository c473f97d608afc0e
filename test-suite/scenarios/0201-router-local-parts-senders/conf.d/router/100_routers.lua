local function ok() return accept { transport = "t" } end

router "bounces" {           -- only the null sender
  driver = "lua", route = ok,
  local_parts = "bounce-only",
  senders = "<>",
}
router "trusted" {           -- senders from one domain, one address excluded
  driver = "lua", route = ok,
  local_parts = "restricted",
  senders = "! spammer@partner.example : *@partner.example : boss@elsewhere.example",
}
router "staff" {             -- a +named local part list
  driver = "lua", route = ok,
  local_parts = "+staff",
}
router "lists" {             -- wildcards and a regex on the local part
  driver = "lua", route = ok,
  local_parts = "*-request : owner-* : ^list[0-9]+$",
}
router "not_root" {          -- ends in a negative item: everything but root
  driver = "lua", route = ok,
  local_parts = "! root : ! restricted : ! bounce-only",
}
