-- a second "middle" without override
router "middle" {
  driver = "lua",
  route = function() return nil end,
}
