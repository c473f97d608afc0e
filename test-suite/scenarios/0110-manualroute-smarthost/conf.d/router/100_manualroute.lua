-- Several manualroute routers, each for its own test domains (*.example);
-- the smart host router comes last and takes every other remote domain.

-- route_list as one string: entries separated by ";"
router "routestring" {
  driver = "manualroute",
  route_list = "one.example a-only.test ; two.example aaaa-only.test : dual.test",
  transport = "remote_smtp",
}

-- route_data with variables: mx1@data.example goes to mx1.mx-pref.test
router "routedata" {
  driver = "manualroute",
  domains = "data.example",
  route_data = "${local_part}.mx-pref.test",
  transport = "remote_smtp",
}

-- route_data as a Lua function returning a table of hosts (nil declines)
router "routefn" {
  driver = "manualroute",
  domains = "fn.example",
  route_data = function(addr)
    if addr.local_part == "none" then return nil end
    return { "[192.0.2.5]:2525", "a-only.test", "[2001:db8::9]:2526" }
  end,
  transport = "remote_smtp",
}

-- the same hosts every time, shuffled
router "random" {
  driver = "manualroute",
  domains = "rand.example",
  route_list = { "* mx1.mx-pref.test : mx2.mx-pref.test : mx3.mx-pref.test" },
  hosts_randomize = true,
  transport = "remote_smtp",
}

-- ... and not shuffled
router "ordered" {
  driver = "manualroute",
  domains = "order.example",
  route_list = { "* mx3.mx-pref.test : mx1.mx-pref.test : mx2.mx-pref.test" },
  transport = "remote_smtp",
}

-- host_find_failed, one router per value; the host list has a host that
-- does not exist (nosuchhost.test: NXDOMAIN) before one that does
router "hff_default" {
  driver = "manualroute",
  domains = "hff-default.example",
  route_list = { "* nosuchhost.test : a-only.test" },
  transport = "remote_smtp",
}

router "hff_defer" {
  driver = "manualroute",
  domains = "hff-defer.example",
  route_list = { "* nosuchhost.test : a-only.test" },
  host_find_failed = "defer",
  transport = "remote_smtp",
}

router "hff_fail" {
  driver = "manualroute",
  domains = "hff-fail.example",
  route_list = { "* nosuchhost.test : a-only.test" },
  host_find_failed = "fail",
  transport = "remote_smtp",
}

router "hff_decline" {
  driver = "manualroute",
  domains = "hff-decline.example",
  route_list = { "* nosuchhost.test : a-only.test" },
  host_find_failed = "decline",
  transport = "remote_smtp",
  no_more = true,
}

router "hff_pass" {
  driver = "manualroute",
  domains = "hff-pass.example",
  route_list = { "* nosuchhost.test : a-only.test" },
  host_find_failed = "pass",
  transport = "remote_smtp",
  no_more = true,
}

router "hff_ignore" {
  driver = "manualroute",
  domains = "hff-ignore.example : hff-ignore-all.example",
  route_list = { "hff-ignore.example nosuchhost.test : a-only.test",
                 "hff-ignore-all.example nosuchhost.test : gone.mx-nxhost.test" },
  host_find_failed = "ignore",
  transport = "remote_smtp",
}

-- the smart host again without self = "send": its only host is this host
router "noself" {
  driver = "manualroute",
  domains = "noself.example",
  route_list = { "* smarthost.test" },
  transport = "remote_smtp",
}

-- the smart host case, after the special routers above: every domain that
-- is not local ("! +local_domains") goes to a relay. route_list entries are
-- "DOMAIN-PATTERN HOSTS", the first matching entry wins; HOSTS is an Exim
-- colon list where "::" is a literal colon (host::port). smarthost.test is
-- 127.0.0.1, so self = "send", as Exim needs for a relay on this host.
router "smarthost" {
  driver = "manualroute",
  domains = "! +local_domains",
  route_list = {
    "smart.example smarthost.test::587",
    "*.smart.example smarthost.test",
    "literal.example [192.0.2.5]::2525 : 192.0.2.6",
    "multi.example mx1.mx-pref.test : a-only.test : [192.0.2.7]::26",
    "* smarthost.test::587",
  },
  self = "send",
  transport = "remote_smtp",
}

-- local domains are not for the smart host; this catches them here
router "local_fallback" {
  driver = "manualroute",
  domains = "+local_domains",
  route_list = { "* 192.0.2.99" },
  transport = "remote_smtp",
}
