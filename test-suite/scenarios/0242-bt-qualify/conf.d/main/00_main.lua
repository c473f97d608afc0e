main {
  primary_hostname = "mail.example.com",
  qualify_domain = "q.example",
  qualify_recipient = "r.example",
  local_domains = { "@", "q.example", "r.example" },
  dns_servers = "@DNS@",
}
