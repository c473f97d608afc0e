-- defined after the routers that name it (transport/ is read after router/)
transport "late" { driver = "maildir", directory = "/var/late/$local_part" }
