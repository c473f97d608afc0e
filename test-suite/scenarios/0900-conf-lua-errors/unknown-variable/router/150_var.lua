router "vars" {
  driver = "lua",
  condition = "$local_part_sufix",
  route = function() return nil end,
}
