main {
  primary_hostname = "mail.example.com",
  local_domains = { "@", "example.com" },
  dns_servers = "@DNS@",
}
