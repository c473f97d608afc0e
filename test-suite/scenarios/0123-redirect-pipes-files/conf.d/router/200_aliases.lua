-- The same alias file under three policies, one per domain.

-- example.com: pipes and files delivered by their transports
router "aliases" {
  driver = "redirect",
  domains = "example.com",
  lookup = "lsearch;@DIR@/aliases",
  pipe_transport = "address_pipe",
  file_transport = "address_file",
  qualify_preserve_domain = true,
}

-- notransport.example.com: neither pipe_transport nor file_transport
router "notransport" {
  driver = "redirect",
  domains = "notransport.example.com",
  lookup = "lsearch;@DIR@/aliases",
  qualify_preserve_domain = true,
}

-- forbid.example.com: transports set, but pipes and files forbidden
router "forbid" {
  driver = "redirect",
  domains = "forbid.example.com",
  lookup = "lsearch;@DIR@/aliases",
  pipe_transport = "address_pipe",
  file_transport = "address_file",
  forbid_pipe = true,
  forbid_file = true,
  qualify_preserve_domain = true,
}
