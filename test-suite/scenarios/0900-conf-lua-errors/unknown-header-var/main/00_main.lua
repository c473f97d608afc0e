main {
  primary_hostname = "mail.example.com",
  dns_servers = "@DNS@",
}
