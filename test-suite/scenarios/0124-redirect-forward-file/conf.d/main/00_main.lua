main {
  primary_hostname = "mail.example.com",
  qualify_domain = "example.com",
  local_domains = { "@", "localhost", "example.com" },
  dns_servers = "@DNS@",
}
