main { dns_retry = { 1, 2 } }
