-- remote delivery

router "remote" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
}
