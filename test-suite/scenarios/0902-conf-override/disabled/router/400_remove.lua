router "middle" { override = true, disabled = true }
