router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "t" } end,
}
router "aliases" {
  driver = "redirect",
  domains = "example.com",
  lookup = "lsearch;@DIR@/aliases",
}
router "scripted" {          -- lookup.lsearch from Lua: "_" stands for a
  driver = "lua",            -- blank and "=" for a colon in the key
  domains = "lua.example",
  route = function(addr)
    local key = addr.local_part:gsub("_", " "):gsub("=", ":")
    local v = lookup.lsearch("@DIR@/aliases", key)
    if v == nil then return nil end
    return redirect(v)
  end,
}
router "missing" {           -- the file does not exist: defer, never "not found"
  driver = "redirect",
  domains = "missing.example",
  lookup = "lsearch;@DIR@/no-such-file",
}
router "missing_lua" {
  driver = "lua",
  domains = "missing-lua.example",
  route = function(addr)
    return redirect(lookup.lsearch("@DIR@/no-such-file", addr.local_part) or "x@seen.example")
  end,
}
