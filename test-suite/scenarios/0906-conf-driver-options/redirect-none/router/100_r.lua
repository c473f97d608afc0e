router "aliases" {
  driver = "redirect",
}
