this is not Lua {{{
router "users" { driver = "lua", route = function() return nil end }
