transport "home_maildir" { driver = "maildir", directory = "$home/Maildir" }
transport "other" { driver = "maildir", directory = "/var/mail/$local_part" }
