transport "local" { driver = "maildir", directory = "$home/Maildir" }
