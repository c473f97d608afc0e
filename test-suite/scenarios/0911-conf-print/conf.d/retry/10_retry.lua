retry "* * F,2h,15m"
