-- lua.example: one local part per kind of result
router "script" {
  driver = "lua",
  domains = "lua.example",
  no_more = true,
  route = function(addr)
    local lp = addr.local_part
    if lp == "remote" then
      -- the form of DESIGN.md's example: "name::port"
      return accept { transport = "remote_smtp",
                      hosts = { "a-only.test::587", "mx1.mx-pref.test" } }
    elseif lp == "literal" then
      return accept { transport = "remote_smtp",
                      hosts = { "[192.0.2.1]:2525", "a-only.test" } }
    elseif lp == "alice" then
      return accept { transport = "local_maildir" }
    elseif lp == "badtransport" then
      return accept { transport = "nosuch" }
    elseif lp == "pass" then
      return pass()
    elseif lp == "decline" then
      return decline()
    elseif lp == "nothing" then
      return nil
    elseif lp == "fail" then
      return fail "mailbox closed"
    elseif lp == "defer" then
      return defer "try again later"
    elseif lp == "list" then
      return redirect "alice, bob@a-only.test"
    elseif lp == "table" then
      return redirect { "alice", "bob@a-only.test" }
    elseif lp == "boom" then
      error("boom")
    elseif lp == "number" then
      return 42
    elseif lp == "noverb" then
      return { transport = "remote_smtp" }
    elseif lp == "spin" then
      while true do end
    end
    return fail("unexpected local part " .. lp)
  end,
}

-- mx.example: the local part is a domain; route to its MX hosts, looked
-- up with lookup.dnsdb (the function is run again once DNS has answered)
router "mxroute" {
  driver = "lua",
  domains = "mx.example",
  route = function(addr)
    local mx, why = lookup.dnsdb("mx", addr.local_part)
    if mx == nil then
      return fail("no MX for " .. addr.local_part .. " (" .. why .. ")")
    end
    table.sort(mx, function(a, b) return a.pref < b.pref end)
    local hosts = {}
    for i, r in ipairs(mx) do hosts[i] = r.host end
    return accept { transport = "remote_smtp", hosts = hosts }
  end,
}

-- table.example: hosts from an lsearch file keyed by local part
router "tableroute" {
  driver = "lua",
  domains = "table.example",
  route = function(addr)
    local file = "@DIR@/routes"
    if addr.local_part == "nofile" then file = "@DIR@/nosuchfile" end
    local h = lookup.lsearch(file, addr.local_part)
    if h == nil then return decline() end
    return accept { transport = "remote_smtp", hosts = h }
  end,
}

-- whatever is passed or declined without no_more ends here
router "after" {
  driver = "manualroute",
  route_list = { "* 192.0.2.99" },
  transport = "remote_smtp",
}
