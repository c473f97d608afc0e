main { relay_from_hosts = "127.0.0.1 : 192.0.2.300" }
