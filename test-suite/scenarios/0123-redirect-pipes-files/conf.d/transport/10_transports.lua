transport "remote_smtp" { driver = "smtp" }
transport "local_maildir" { driver = "maildir", directory = "$home/Maildir" }
transport "address_pipe" { driver = "pipe" }
transport "address_file" { driver = "mbox" }
