
transport "box" {
  driver = "maildir",
  create_directory = true,
}
