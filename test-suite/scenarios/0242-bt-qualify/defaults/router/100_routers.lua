router "from_q" {            -- senders in the qualify domain
  driver = "lua",
  local_parts = "sendercheck",
  senders = "*@q.example",
  route = function() return accept { transport = "t" } end,
}
router "everyone" {
  driver = "lua",
  local_parts = "! sendercheck",
  route = function() return accept { transport = "t" } end,
}
