router "define_late" {       -- tries to define a router while routing
  driver = "lua",
  local_parts = "define",
  route = function(addr)
    router "sneaky" { driver = "lua", route = function() return nil end }
    return accept { transport = "t" }
  end,
}
router "main_late" {         -- tries to change main options while routing
  driver = "lua",
  local_parts = "main",
  route = function(addr)
    main { primary_hostname = "changed.example" }
    return accept { transport = "t" }
  end,
}
router "io_late" {           -- the sandbox holds at routing time too
  driver = "lua",
  local_parts = "io",
  route = function(addr)
    local f = io.open("/etc/passwd")
    return accept { transport = "t" }
  end,
}
router "spin" {              -- a runaway route function
  driver = "lua",
  local_parts = "spin",
  route = function(addr)
    while true do end
  end,
}
router "users" {
  driver = "lua",
  route = function() return accept { transport = "t" } end,
}
