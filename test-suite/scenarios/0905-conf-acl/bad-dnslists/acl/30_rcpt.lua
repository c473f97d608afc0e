acl "rcpt" {
  deny { dnslists = "bl.example : bl2.example=127.0.0.300" },
}
