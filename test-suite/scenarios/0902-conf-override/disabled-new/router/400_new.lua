-- a new router that is disabled from the start: defines nothing
router "spare" {
  disabled = true,
  driver = "lua",
  route = function() return nil end,
}
