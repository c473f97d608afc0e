router "seen" {
  driver = "lua",
  domains = "seen.example",
  route = function() return accept { transport = "t" } end,
}
router "caseful" {           -- "User" only, exactly as written
  driver = "lua",
  domains = "example.com",
  caseful_local_part = true,
  local_parts = "User",
  route = function(addr) return redirect("caseful-" .. addr.local_part .. "@seen.example") end,
}
router "caseless" {          -- default: the local part is lowercased first
  driver = "lua",
  domains = "example.com",
  local_parts = "user : ^mixed[a-z]+$",
  route = function(addr) return redirect("caseless-" .. addr.local_part .. "@seen.example") end,
}
