router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "t" } end,
}
-- redirect to LOCALPART-RESULT@seen.example, RESULT from the lookup keyed
-- by the client address (-oMa)
router "ipl" {
  driver = "lua",
  domains = "ipl.example",
  route = function(addr)
    local v = lookup.iplsearch("@DIR@/clients.ipl", addr.sender_host_address or "")
    return redirect(addr.local_part .. "-" .. (v or "none") .. "@seen.example")
  end,
}
router "cidr" {
  driver = "lua",
  domains = "cidr.example",
  route = function(addr)
    local v = lookup.cidr("@DIR@/clients.cidr", addr.sender_host_address or "")
    return redirect(addr.local_part .. "-" .. (v or "none") .. "@seen.example")
  end,
}
