main {
  primary_hostname = "mail.example.com",
  local_domains = { "@", "localhost", "example.com", "notransport.example.com",
                    "forbid.example.com" },
  dns_servers = "@DNS@",
}
