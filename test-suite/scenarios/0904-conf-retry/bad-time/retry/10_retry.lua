-- "2 hours" is no time
retry "* * F,2 hours,15m"
