-- One dnslookup router per "self" setting, chosen by the local part; the
-- last one has the default (freeze).
router "dl_fail" {
  driver = "dnslookup",
  domains = "! +local_domains",
  local_parts = "fail",
  self = "fail",
  transport = "remote_smtp",
  no_more = true,
}

router "dl_send" {
  driver = "dnslookup",
  domains = "! +local_domains",
  local_parts = "send",
  self = "send",
  transport = "remote_smtp",
  no_more = true,
}

router "dl_reroute" {
  driver = "dnslookup",
  domains = "! +local_domains",
  local_parts = "reroute",
  self = "reroute:a-only.test",
  transport = "remote_smtp",
  no_more = true,
}

-- self = pass goes on to the next router even though no_more is set
router "dl_pass" {
  driver = "dnslookup",
  domains = "! +local_domains",
  local_parts = "pass",
  self = "pass",
  transport = "remote_smtp",
  no_more = true,
}

router "fallback" {
  driver = "manualroute",
  local_parts = "pass",
  route_list = { "* 192.0.2.99" },
  transport = "remote_smtp",
}

router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  no_more = true,
}
