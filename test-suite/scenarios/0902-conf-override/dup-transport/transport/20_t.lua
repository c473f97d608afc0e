
transport "t" { driver = "mbox", file = "/var/mail/$local_part" }
