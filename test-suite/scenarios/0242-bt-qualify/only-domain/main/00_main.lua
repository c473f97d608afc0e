main {
  primary_hostname = "mail.example.com",
  qualify_domain = "q.example",
  dns_servers = "@DNS@",
}
