acl "rcpt" {
  deny { dnslists = "dbl.example/$sender_domain" },
}
