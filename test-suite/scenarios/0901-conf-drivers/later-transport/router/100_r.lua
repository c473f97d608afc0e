router "remote" { driver = "dnslookup", transport = "remote_smtp" }
