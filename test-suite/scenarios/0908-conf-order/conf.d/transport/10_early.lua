order = order .. ",transport"
transport "early" { driver = "maildir", directory = "/var/mail/$local_part" }
