-- main/00_main.lua - tern's shipped default: an "internet site".
--
-- Mail for the local domains is delivered to Maildirs; everything else goes
-- out by SMTP to the MX hosts of the recipient's domain. Aliases such as
-- postmaster and abuse point at a local user.
--
-- Paths: the shipped configuration keeps its state beside this directory,
-- in ../var (the repository's ./var under `make run`). `make install`
-- adds main/10_paths.lua, which moves everything to /var/spool/tern,
-- /var/log/tern and /etc/tern. Later files override earlier ones, key by
-- key, so a drop-in never needs to edit this file.

-- Globals defined here are visible to every later file of the configuration.
tern_var = tern.config_dir:match("^(.*)/[^/]*$") .. "/var"
tern_etc = tern.config_dir:match("^(.*)/[^/]*$") .. "/etc"

main {
  -- This host's name in HELO, Received: headers and bounces (Postfix:
  -- myhostname). Unset, tern uses the system's host name.
  -- primary_hostname = "mail.example.com",

  -- Domains delivered here (Postfix: mydestination). "@" is
  -- primary_hostname. Routers refer to this list as "+local_domains".
  local_domains = { "@", "localhost" },

  -- Domains we relay for, from anyone (Postfix: relay_domains).
  relay_to_domains = { },

  -- Clients allowed to relay anywhere (Postfix: mynetworks).
  relay_from_hosts = { "127.0.0.1", "::1" },

  spool_directory = tern_var .. "/spool",
  log_file_path = tern_var .. "/log/%slog",

  -- Where the daemon listens (Postfix: inet_interfaces). The shipped
  -- default stays on the loopback interface, on an unprivileged port.
  local_interfaces = { "127.0.0.1" },
  daemon_smtp_ports = { 2525 },

  -- Started as root, tern runs as this system account (`make deps`
  -- creates it) and never delivers as root; it has no effect otherwise.
  -- tern_user = "tern",

  -- DNS servers, "ip" or "ip:port"; unset means /etc/resolv.conf.
  -- dns_servers = "127.0.0.1:53",
}
