

router "users" {
  driver = "local_user",
}
