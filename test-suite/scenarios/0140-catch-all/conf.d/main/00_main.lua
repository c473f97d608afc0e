main {
  primary_hostname = "mail.example.com",
  local_domains = { "@", "localhost", "example.com", "example.net",
                    "example.org", "example.info" },
  dns_servers = "@DNS@",
}
