
router "strict" {
  driver = "lua",
  no_more = "yes",
  route = function() return nil end,
}
