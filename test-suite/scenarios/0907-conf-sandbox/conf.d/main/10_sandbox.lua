-- what the sandbox leaves out is nil; what it keeps is there
local gone = {
  os_execute = os.execute, os_exit = os.exit, os_remove = os.remove,
  os_rename = os.rename, os_getenv = os.getenv, io = io, load = load,
  loadfile = loadfile, dofile = dofile, debug = debug, package = package,
  collectgarbage = collectgarbage,
}
for name, v in pairs(gone) do error(name .. " is reachable") end
assert(type(string.format) == "function" and type(table.concat) == "function")
assert(type(os.time) == "function" and type(math.floor) == "function")
-- "require" is the ACL verb of that name, not Lua's module loader
local r = require "os"
assert(type(r) == "table" and r.execute == nil and r._verb == "require")
