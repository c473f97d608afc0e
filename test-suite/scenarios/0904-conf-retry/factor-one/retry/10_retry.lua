retry "* * G,16h,1h,1"
