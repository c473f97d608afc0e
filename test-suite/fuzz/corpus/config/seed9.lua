-- transport/20_local.lua - local deliveries.
--
-- The shipped default keeps every mailbox under ../var/mail/USER so that
-- `make run` writes nothing outside the repository; an installed system
-- usually wants directory = "$home/Maildir".
transport "local_maildir" {
  driver = "maildir",
  directory = tern_var .. "/mail/${local_part}",
  delivery_date_add = true,
  envelope_to_add = true,
  return_path_add = true,
}

-- "|command" items of an alias file
transport "address_pipe" {
  driver = "pipe",
  return_output = true,
}

-- "/path" items of an alias file (mbox format)
transport "address_file" {
  driver = "mbox",
}
