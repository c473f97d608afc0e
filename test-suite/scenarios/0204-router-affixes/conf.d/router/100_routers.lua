-- each router shows what it saw by redirecting to
-- LOCALPART.PREFIX.SUFFIX@ROUTER.seen (affixes without their "+"/"-")
local function show(name)
  return function(addr)
    local p = (addr.local_part_prefix or "none"):gsub("[-+]", "")
    local s = (addr.local_part_suffix or "none"):gsub("[-+]", "")
    return redirect(addr.local_part .. "." .. p .. "." .. s .. "@" .. name .. ".seen")
  end
end

router "seen" {
  driver = "lua",
  domains = "*.seen",
  route = function() return accept { transport = "t" } end,
}
router "owner" {             -- owner-LIST: prefix required
  driver = "lua",
  domains = "example.com",
  local_part_prefix = "owner-",
  local_parts = "tern-users : tern-dev",
  route = show("owner"),
}
router "plus" {              -- user+tag: suffix required
  driver = "lua",
  domains = "example.com",
  local_part_suffix = "+*",
  route = show("plus"),
}
router "optional" {          -- both optional, several suffixes
  driver = "lua",
  domains = "opt.example",
  local_part_prefix = "owner-",
  local_part_prefix_optional = true,
  local_part_suffix = "-request : +*",
  local_part_suffix_optional = true,
  local_parts = "alice : list",
  route = show("optional"),
}
router "plain" {
  driver = "lua",
  domains = "example.com",
  route = show("plain"),
}
