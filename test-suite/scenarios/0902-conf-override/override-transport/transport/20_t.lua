transport "t" { override = true, driver = "maildir", directory = "/srv/mail/$local_part" }
