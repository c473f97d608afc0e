-- a drop-in that overrides one key of main
main {
  qualify_domain = "example.com",
}
domainlist "hosted" { "hosted-a.example", "*.hosted-b.example" }
