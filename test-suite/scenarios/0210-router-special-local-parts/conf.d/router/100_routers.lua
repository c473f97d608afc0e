router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "t" } end,
}
router "builtin" {           -- a built-in driver: special local parts skip it
  driver = "redirect",
  domains = "example.com",
  data = "builtin@seen.example",
}
router "allowed" {           -- ... unless allow_special_local_parts is set
  driver = "redirect",
  domains = "special.example",
  allow_special_local_parts = true,
  data = "allowed@seen.example",
}
router "scripted" {          -- a lua router sees them, local part unquoted
  driver = "lua",
  domains = "lua.example",
  route = function(addr)
    return redirect('"lua-' .. addr.local_part .. '"@seen.example')
  end,
}
