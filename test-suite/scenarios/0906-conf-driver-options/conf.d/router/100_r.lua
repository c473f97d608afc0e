router "aliases" { driver = "redirect", data = "postmaster@example.com" }
router "smarthost" { driver = "manualroute", route_list = { "* smarthost.test" }, transport = "remote_smtp" }
router "scripted" { driver = "lua", route = function() return nil end }
