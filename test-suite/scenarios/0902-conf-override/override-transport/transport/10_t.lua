transport "t" { driver = "maildir", directory = "/var/mail/$local_part" }
transport "other" { driver = "maildir", directory = "/var/other/$local_part" }
