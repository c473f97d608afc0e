order = order .. ",retry"
retry "* * F,2h,15m"
