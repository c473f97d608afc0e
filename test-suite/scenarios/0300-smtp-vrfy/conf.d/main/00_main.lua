main {
  primary_hostname = "mx.example",
  local_domains = { "example.com" },
  spool_directory = "@DIR@/spool",
  log_file_path = "@DIR@/log/%slog",
  dns_servers = "@DNS@",
  smtp_vrfy_hosts = "192.0.2.0/24",
}
