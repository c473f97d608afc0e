-- a plain function in place of the statement list is fine
acl "rcpt" (function(session) return accept() end)
