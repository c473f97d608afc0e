main {
  primary_hostname = "mail.example.com",
  local_domains = { "@", "example.com", "opt.example" },
  dns_servers = "@DNS@",
}
