router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "t" } end,
}
router "string_data" {       -- a string with a variable; then a redirect
  driver = "redirect",
  domains = "example.com",
  address_data = "from-$local_part",
  data = "target@dest.example",
}
router "function_data" {     -- a Lua function; the route sees the value too
  driver = "lua",
  domains = "fn.example",
  address_data = function(addr)
    if addr.local_part == "none" then return nil end
    return "fn-" .. addr.local_part
  end,
  route = function(addr)
    return redirect(addr.local_part .. "." .. addr.address_data .. "@dest.example")
  end,
}
router "strict" {            -- nil from address_data declines; with no_more
  driver = "lua",            -- that ends the chain
  domains = "strict.example",
  no_more = true,
  address_data = function(addr) return nil end,
  route = function() return accept { transport = "t" } end,
}
router "dest" {              -- runs only for addresses that carry data
  driver = "lua",
  domains = "dest.example",
  condition = "$address_data",
  route = function(addr)
    return redirect(addr.local_part .. "." .. addr.address_data .. "@seen.example")
  end,
}
router "other" {
  driver = "lua",
  route = function(addr) return accept { transport = "t" } end,
}
