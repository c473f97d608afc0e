router "aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "dbm;@DIR@/aliases.db",
  qualify_preserve_domain = true,
}
