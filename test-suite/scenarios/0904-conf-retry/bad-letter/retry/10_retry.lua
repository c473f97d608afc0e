retry "* * X,2h,15m"
