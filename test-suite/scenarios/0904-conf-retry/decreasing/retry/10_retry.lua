
retry "* * F,4d,6h; F,2h,15m"
