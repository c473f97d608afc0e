router "middle" {
  override = true,
  driver = "redirect",
  local_parts = "two : three",
  data = "one@example.com",
}
