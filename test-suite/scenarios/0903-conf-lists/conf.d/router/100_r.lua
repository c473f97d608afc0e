router "local" { driver = "lua", domains = "+local_domains", route = function() return accept { transport = "t" } end }
