retry "* * F,2h,15m; G,16h,1h; F,4d,6h"
