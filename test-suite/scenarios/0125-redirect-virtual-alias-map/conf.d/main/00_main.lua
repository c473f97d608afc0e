main {
  primary_hostname = "mail.example.com",
  qualify_recipient = "example.com",
  local_domains = { "@", "localhost", "example.com" },
  dns_servers = "@DNS@",
}

-- domains that exist only as alias maps (Postfix: virtual_alias_domains)
domainlist "virtual_domains" { "example.net", "example.info", "example.org",
                               "example.edu" }
