transport "local_maildir" { driver = "maildir", directory = "$home/Maildir" }
