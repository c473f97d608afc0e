
router "clients_only" {
  driver = "lua",
  domains = "! +clients",
  route = function() return accept { transport = "t" } end,
}
