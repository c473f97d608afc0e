router "aliases" {
  driver = "redirect",
  lookup = "lsearch;/etc/aliases",
  data = "postmaster@example.com",
}
