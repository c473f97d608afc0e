router "aliases" {
  driver = "redirect",
  domains = "example.com",
  lookup = "lsearch;@DIR@/aliases",
  qualify_preserve_domain = true,
}
router "users" {
  driver = "lua",
  local_parts = "alice : bob : carol",
  route = function() return accept { transport = "t" } end,
}
