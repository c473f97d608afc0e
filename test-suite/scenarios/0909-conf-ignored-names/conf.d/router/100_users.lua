router "users" { driver = "lua", route = function() return accept { transport = "t" } end }
