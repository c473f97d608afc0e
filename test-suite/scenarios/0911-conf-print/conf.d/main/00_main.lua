main {
  primary_hostname = "mail.example.com",
  local_domains = { "@", "localhost", "example.com" },
  relay_from_hosts = { "127.0.0.1", "192.0.2.0/24" },
  dns_servers = "@DNS@",
}
