acl "connect" {
  deny { domains = "example.net" },
}
