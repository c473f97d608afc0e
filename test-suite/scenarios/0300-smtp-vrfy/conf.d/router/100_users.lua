router "users" {
  driver = "local_user",
  domains = "+local_domains",
  users = "lsearch;@DIR@/users",
  transport = "local",
}
