retry "*.example.net  timeout  F,1h,10m; G,1d,30m,2"
retry { "*", "rcpt_4xx", "F,4h,15m" }
retry { pattern = "*", error = "*", rules = "F,2h,15m; G,16h,1h,1.5; F,4d,6h" }
