-- .forward-style files: one per local part under @DIR@/forward
router "forward" {
  driver = "redirect",
  domains = "+local_domains",
  file = "@DIR@/forward/$local_part",
  pipe_transport = "address_pipe",
  file_transport = "address_file",
}
