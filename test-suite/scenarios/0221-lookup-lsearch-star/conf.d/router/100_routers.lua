router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "t" } end,
}
router "star_at" {           -- key, then "*@domain", then "*"
  driver = "redirect",
  domains = "a.example : b.example",
  lookup = "lsearch*@;@DIR@/virtual",
  lookup_key = "$local_part@$domain",
}
router "star" {              -- key, then "*" (no "*@domain" step)
  driver = "redirect",
  domains = "star.a.example",
  lookup = "lsearch*;@DIR@/virtual",
  lookup_key = "$local_part@a.example",
}
router "nostar" {            -- no "*" entry: unknown domains are not found
  driver = "redirect",
  domains = "c.example : d.example",
  lookup = "lsearch*@;@DIR@/virtual-nostar",
  lookup_key = "$local_part@$domain",
}
router "find" {              -- lookup.find with a spec string from Lua
  driver = "lua",
  domains = "find.example",
  route = function(addr)
    local key = addr.local_part:gsub("=", "@")
    local v = lookup.find("lsearch*@;@DIR@/virtual-nostar", key)
    if v == nil then return fail("not in the table: " .. key) end
    return redirect(v)
  end,
}
