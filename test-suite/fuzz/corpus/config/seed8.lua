-- transport/10_remote_smtp.lua - SMTP to remote hosts.
--
-- STARTTLS is used whenever the remote host offers it (opportunistic);
-- hosts_require_tls = { "*.example.net" } makes it mandatory for some.
transport "remote_smtp" {
  driver = "smtp",
}
