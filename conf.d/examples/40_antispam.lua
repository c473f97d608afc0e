-- examples/40_antispam.lua - the classic anti-spam checks at the SMTP door.
--
-- Copy this file to conf.d/acl/ to enable it (tern -bV checks it). It
-- replaces the rcpt ACL of acl/30_rcpt.lua with the same policy plus the
-- checks every Internet-facing MX runs, in the order of Exim's default
-- configuration and its anti-spam additions, and adds a connect ACL:
--
--   * clients connecting too fast are refused (ratelimit per host);
--   * a stolen account cannot flood (ratelimit per authenticated user);
--   * DNS blocklist (DNSBL) with the return codes that mean "spam
--     source", DNS allowlist (DNSWL) to spare known-good senders;
--   * SPF (RFC 7208): fail is refused with 5.7.23, softfail gets a
--     Received-SPF: header for the filters further down;
--   * greylisting of clients that are in no DNSWL: "450 4.7.1 ... Please
--     try again in 5 minutes"; real mail servers retry, most spam bots
--     do not.
--
-- Replace the placeholder list names below with the lists you use and
-- are allowed to query (zen.spamhaus.org and list.dnswl.org are common;
-- both have usage terms, and need a resolver of your own, not a public
-- one). Tune greylist_delay and friends in main (tern -bP greylist_delay).
-- Every condition reads as in Exim; "!" negates ("!dnslists" is Exim's
-- "!dnslists ="). Variables such as $dnslist_text are set by the
-- condition that matched.

acl "connect" {
  accept { hosts = "+relay_from_hosts" },
  -- more than 30 connections a minute from one address
  deny   { ratelimit = "30 / 1m / per_conn / strict",
           message = "too many connections from $sender_host_address" },
  accept {},
}

acl "rcpt" {
  override = true,
  accept  { hosts = "" },                     -- local submission
  deny    { local_parts = "^[./|] : ^.*[@%!] : ^.*/\\.\\./",
            message = "restricted characters in address" },
  accept  { hosts = "+relay_from_hosts" },
  deny    { authenticated = "*",
            ratelimit = "200 / 1h / per_rcpt / strict / $authenticated_id",
            message = "too many recipients for $authenticated_id" },
  accept  { authenticated = "*" },
  require { domains = "+local_domains : +relay_to_domains",
            message = "relay not permitted" },
  require { verify = "recipient" },
  -- DNSWL: medium and high trust (the 2 bit of the last octet) skip the
  -- checks below
  accept  { dnslists = "list.dnswl.example&0.0.0.2" },
  deny    { dnslists = "zen.example=127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.9",
            message = "550 5.7.1 $sender_host_address is listed in " ..
                      "$dnslist_domain: $dnslist_text" },
  deny    { spf = "fail",
            message = "550 5.7.23 SPF check failed: $spf_smtp_comment" },
  warn    { spf = "softfail", add_header = "$spf_received" },
  defer   { greylist = true },
  accept  {},
}
