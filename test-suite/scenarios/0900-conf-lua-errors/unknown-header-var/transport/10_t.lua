transport "t" { driver = "maildir", directory = "/var/mail/$local_part" }
