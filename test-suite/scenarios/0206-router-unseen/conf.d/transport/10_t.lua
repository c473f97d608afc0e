transport "archive" { driver = "maildir", directory = "/var/archive/$local_part" }
transport "mailbox" { driver = "maildir", directory = "/var/mail/$local_part" }
