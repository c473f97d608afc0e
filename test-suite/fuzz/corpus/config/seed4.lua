-- retry/00_default.lua - when to retry temporary failures (Exim's rules).
--
-- Every 15 minutes for 2 hours, then intervals growing by 1.5 from 1 hour
-- up to 16 hours after the first failure, then every 6 hours until 4 days
-- have passed; then the message bounces.
retry { "*", "*", "F,2h,15m; G,16h,1h,1.5; F,4d,6h" }
