-- router/200_system_aliases.lua - the system alias file.
--
-- postmaster, abuse, mailer-daemon, hostmaster and webmaster point at a
-- local user (see ../etc/aliases; Postfix: alias_maps). Aliases may use
-- ":fail: text" and ":defer: text", pipes ("|command") and files
-- ("/path"). A bare name keeps the domain it was sent to.
router "system_aliases" {
  driver = "redirect",
  domains = "+local_domains",
  lookup = "lsearch;" .. tern_etc .. "/aliases",
  allow_fail = true,
  allow_defer = true,
  qualify_preserve_domain = true,
  pipe_transport = "address_pipe",
  file_transport = "address_file",
}
