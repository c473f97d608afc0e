-- router/100_dnslookup.lua - a dnslookup router without a transport:
-- a configuration error
router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  no_more = true,
}
