-- self = "send": the zone's names that point at 127.0.0.1 are routed too
router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  self = "send",
  transport = "remote_smtp",
  no_more = true,
}
