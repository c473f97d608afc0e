router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  no_more = true,
}
