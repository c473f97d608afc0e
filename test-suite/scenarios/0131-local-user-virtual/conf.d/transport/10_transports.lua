transport "remote_smtp" { driver = "smtp" }
transport "local_maildir" { driver = "maildir", directory = "$home/Maildir" }
