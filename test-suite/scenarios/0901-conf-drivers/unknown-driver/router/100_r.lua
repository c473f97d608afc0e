router "remote" {
  driver = "dnslookpu",
  transport = "t",
}
