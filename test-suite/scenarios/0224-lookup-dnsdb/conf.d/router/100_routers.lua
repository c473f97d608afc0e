-- TYPE=NAME@dns.example fails with a message that shows what
-- lookup.dnsdb(TYPE, NAME) returned (records sorted, MX as "PREF HOST")
router "dns" {
  driver = "lua",
  domains = "dns.example",
  route = function(addr)
    local typ, name = addr.local_part:match("^([a-z]+)=(.*)$")
    local r, why = lookup.dnsdb(typ, name)
    if r == nil then
      return fail(typ .. " " .. name .. ": nil, " .. tostring(why))
    end
    local items = {}
    for _, v in ipairs(r) do
      if type(v) == "table" then
        items[#items + 1] = v.pref .. " " .. v.host
      else
        items[#items + 1] = v
      end
    end
    table.sort(items)
    return fail(typ .. " " .. name .. ": " .. table.concat(items, ", "))
  end,
}
-- a routing decision made from DNS: domains whose MX includes mx2.mx-pref.test
router "by_mx" {
  driver = "lua",
  domains = "! dns.example",
  route = function(addr)
    local mx = lookup.dnsdb("mx", addr.domain)
    for _, r in ipairs(mx or {}) do
      if r.host == "mx2.mx-pref.test" then return accept { transport = "t" } end
    end
    return nil
  end,
}
