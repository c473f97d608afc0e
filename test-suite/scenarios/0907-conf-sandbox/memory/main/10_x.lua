
local huge = ("x"):rep(1e9)
