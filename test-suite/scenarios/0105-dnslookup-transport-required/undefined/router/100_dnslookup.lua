-- router/100_dnslookup.lua - names a transport that no file defines
router "dnslookup" {
  driver = "dnslookup",
  domains = "! +local_domains",
  transport = "remote_smpt",
  no_more = true,
}
