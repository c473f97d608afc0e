main {
  qualify_domain = "example.com"
  qualify_recipient = "example.com",
}
