-- examples/150_smarthost.lua - send all remote mail through a smart host.
--
-- Copy this file to conf.d/router/ (Postfix: relayhost). It takes the
-- dnslookup router out of the chain and routes every non-local address to
-- the relay below over port 587, with STARTTLS required and the
-- certificate verified, authenticating with the credentials in
-- ../etc/smarthost_credentials ("relay.example.net: user:password",
-- mode 0600).

-- no more direct delivery to MX hosts
router "dnslookup" { override = true, disabled = true }

router "smarthost" {
  driver = "manualroute",
  domains = "! +local_domains",
  route_list = { "* relay.example.net::587" },
  transport = "smarthost_tls",
  no_more = true,
}

transport "smarthost_tls" {
  driver = "smtp",
  port = 587,
  hosts_require_tls = "*",
  tls_verify_hosts = "*",
  hosts_require_auth = "*",
  auth_credentials = "lsearch;" .. tern_etc .. "/smarthost_credentials",
}
