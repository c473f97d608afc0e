retry { "*", "timed_out", "F,2h,15m" }
