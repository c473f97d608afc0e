router "remote" {
  driver = "dnslookup",
  transport = "remote_smpt",
}
