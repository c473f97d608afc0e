router "home_check" {        -- check_local_user sets $home for later options
  driver = "lua",
  check_local_user = true,
  local_parts = "root",
  condition = function(addr) return addr.home == "/root" end,
  route = function(addr) return redirect(addr.local_part .. "-home-" .. addr.home:gsub("/", "") .. "@seen.example") end,
}
router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "other" } end,
}
router "system_users" {      -- only local parts that are system accounts
  driver = "lua",
  check_local_user = true,
  route = function() return accept { transport = "home_maildir" } end,
}
router "fallback" {
  driver = "lua",
  route = function() return accept { transport = "other" } end,
}
