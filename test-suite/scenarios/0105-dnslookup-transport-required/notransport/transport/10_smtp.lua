transport "remote_smtp" { driver = "smtp" }
