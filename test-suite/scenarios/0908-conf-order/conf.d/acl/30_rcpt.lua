order = order .. ",acl"
acl "rcpt" { accept {} }
