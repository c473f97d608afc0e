router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  no_more = true,
}
router "states" {            -- gone@ fails, later@ defers
  driver = "lua",
  local_parts = "gone : later",
  route = function(addr)
    if addr.local_part == "gone" then return fail "no longer here" end
    return defer "mailbox locked"
  end,
}
router "users" {
  driver = "lua",
  local_parts = "alice : bob : carol",
  route = function() return accept { transport = "local" } end,
}
