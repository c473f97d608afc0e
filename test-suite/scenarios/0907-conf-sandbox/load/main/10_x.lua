
local chunk = load("return 1")
