router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  data = "postmaster@example.com",
  no_more = true,
}
