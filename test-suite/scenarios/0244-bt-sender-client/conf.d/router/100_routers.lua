router "from_partner" {      -- senders decides
  driver = "lua",
  local_parts = "partners-only",
  senders = "*@partner.example",
  route = function() return accept { transport = "t" } end,
}
router "no_bounces" {        -- refuses mail from the null sender
  driver = "lua",
  local_parts = "no-bounces",
  senders = "<>",
  route = function() return fail "bounces are not accepted here" end,
}
router "lan_only" {          -- the client address decides (Lua condition)
  driver = "lua",
  local_parts = "lan-only",
  condition = function(addr)
    return addr.sender_host_address ~= nil
       and addr.sender_host_address:match("^192%.0%.2%.") ~= nil
  end,
  route = function() return accept { transport = "t" } end,
}
router "show" {              -- shows the sender and client it was given
  driver = "lua",
  local_parts = "show",
  route = function(addr)
    return fail("sender=<" .. (addr.sender_address or "") .. "> client=[" ..
                (addr.sender_host_address or "") .. "]")
  end,
}
router "users" {
  driver = "lua",
  local_parts = "no-bounces : user",
  route = function() return accept { transport = "t" } end,
}
