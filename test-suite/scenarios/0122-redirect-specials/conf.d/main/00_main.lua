main {
  primary_hostname = "mail.example.com",
  local_domains = { "@", "localhost", "example.com", "strict.example.com",
                    "confined.example.com" },
  dns_servers = "@DNS@",
}
