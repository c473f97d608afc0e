-- read last: its main{} keys override the earlier ones
order = order .. ",auth"
main { qualify_domain = "last-" .. tostring(order:gsub("[^%w]+", "-")) .. ".example" }
