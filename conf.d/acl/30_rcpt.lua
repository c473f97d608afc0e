-- acl/30_rcpt.lua - who may send mail to whom (checked at RCPT TO).
--
-- The first decisive statement wins. This is the classic policy, in the
-- order of Exim's default configuration: mail from local submission,
-- trusted clients and authenticated users; from anyone else only for our
-- own domains (and those we relay for) and only to recipients that
-- route; never an open relay. Without any rcpt ACL tern applies the same
-- policy built in.
acl "rcpt" {
  -- locally submitted mail (no client host)
  accept { hosts = "" },
  -- local parts that could be used to escape into paths or relays
  deny   { local_parts = "^[./|] : ^.*[@%!] : ^.*/\\.\\./",
           message = "restricted characters in address" },
  accept { hosts = "+relay_from_hosts" },
  accept { authenticated = "*" },
  -- 550 5.7.1 relay not permitted
  require { domains = "+local_domains : +relay_to_domains",
            message = "relay not permitted" },
  -- only recipients the routers accept: an unknown user in our domains
  -- gets "550 5.1.1 <user@domain>: unknown user", an address that cannot
  -- be routed elsewhere 550 5.1.2, a temporary failure 451
  require { verify = "recipient" },
  accept {},
}
