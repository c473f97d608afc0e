-- disabled without override: still a second definition
router "middle" { disabled = true }
