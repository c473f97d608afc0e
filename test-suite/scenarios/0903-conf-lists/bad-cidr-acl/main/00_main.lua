main {
  primary_hostname = "mail.example.com",
  local_domains = { "@", "example.com" },
  dns_servers = "@DNS@",
}
hostlist "clients" { "192.0.2.0/24", "2001:db8::/32" }
