-- pcall cannot swallow the stop
local ok = pcall(function() while true do end end)
main { primary_hostname = "survived.example" }
