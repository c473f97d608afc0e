transport "t" { driver = "maildir", directory = "/var/mail/$local_part" }
transport "remote_smtp" { driver = "smtp" }
