-- router/100_dnslookup.lua - remote domains go to their MX hosts.
--
-- Addresses whose domain is not local are routed by MX records (A/AAAA
-- when a domain has none). Addresses that would make us send to ourselves
-- or to nowhere are ignored; no_more makes an unknown remote domain fail
-- at once instead of falling through to the local routers.
router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smtp",
  ignore_target_hosts = { "0.0.0.0", "127.0.0.0/8" },
  no_more = true,
}
