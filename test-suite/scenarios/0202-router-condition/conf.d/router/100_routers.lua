local function ok() return accept { transport = "t" } end

router "never" { driver = "lua", route = ok, condition = "false" }
router "never_no" { driver = "lua", route = ok, condition = "no" }
router "never_zero" { driver = "lua", route = ok, condition = "0" }
router "never_empty" { driver = "lua", route = ok, condition = "" }
router "never_bool" { driver = "lua", route = ok, condition = false }
router "from_client" {       -- true only when a client IP is known (-oMa)
  driver = "lua", route = ok,
  local_parts = "client",
  condition = "$sender_host_address",
}
router "with_sender" {       -- true only with a non-null sender (-f)
  driver = "lua", route = ok,
  local_parts = "sender",
  condition = "${sender_address}",
}
router "lua_cond" {          -- a Lua function reading the address fields
  driver = "lua", route = ok,
  condition = function(addr)
    return addr.domain == "example.com" and addr.local_part:sub(1, 3) == "vip"
  end,
}
router "lua_sender" {        -- the function sees the sender and client too
  driver = "lua", route = ok,
  local_parts = "check",
  condition = function(addr)
    return addr.sender_address == "a@b.example"
       and addr.sender_host_address == "192.0.2.7"
  end,
}
router "broken" {           -- an error in a condition defers the address
  driver = "lua", route = ok,
  local_parts = "broken",
  condition = function(addr) error("no condition today") end,
}
router "always" { driver = "lua", route = ok, condition = "true",
                  local_parts = "! client : ! sender : ! check : ! broken" }
