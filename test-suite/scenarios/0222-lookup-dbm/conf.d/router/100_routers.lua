router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "t" } end,
}
router "aliases" {
  driver = "redirect",
  domains = "example.com",
  lookup = "dbm;@DIR@/aliases.db",
}
router "hosted" {            -- a dbm lookup as a domain list item
  driver = "lua",
  domains = "dbm;@DIR@/hosted.db",
  route = function(addr) return redirect("hosted-" .. addr.local_part .. "@seen.example") end,
}
router "scripted" {          -- lookup.dbm from Lua
  driver = "lua",
  domains = "lua.example",
  route = function(addr)
    local v = lookup.dbm("@DIR@/aliases.db", addr.local_part)
    return v and redirect(v) or fail("no dbm entry for " .. addr.local_part)
  end,
}
