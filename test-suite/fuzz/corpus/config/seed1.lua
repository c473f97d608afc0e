-- acl/30_rcpt.lua - who may send mail to whom (checked at RCPT TO).
--
-- The first decisive statement wins. This is the classic policy: mail for
-- our own domains from anyone, relaying only for trusted clients and
-- authenticated users, never an open relay. Without any rcpt ACL tern
-- applies the same policy built in.
acl "rcpt" {
  -- locally submitted mail (no client host)
  accept { hosts = "" },
  -- local parts that could be used to escape into paths or relays
  deny   { local_parts = "^[./|] : ^.*[@%!] : ^.*/\\.\\./",
           message = "restricted characters in address" },
  accept { domains = "+local_domains", verify = "recipient" },
  accept { domains = "+relay_to_domains", verify = "recipient" },
  accept { hosts = "+relay_from_hosts" },
  accept { authenticated = "*" },
  deny   { message = "relay not permitted" },
}
