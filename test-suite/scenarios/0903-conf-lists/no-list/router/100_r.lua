router "hosted" {
  driver = "lua",
  domains = "+local_domains : +hosted_domains",
  route = function() return accept { transport = "t" } end,
}
