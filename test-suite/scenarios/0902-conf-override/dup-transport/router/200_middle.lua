-- the router later files replace or remove
router "middle" {
  driver = "lua",
  local_parts = "two",
  route = function() return accept { transport = "t" } end,
}
