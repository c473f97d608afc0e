router "verify_reject" {     -- used only when verifying: refuses "ghost"
  driver = "lua",
  verify_only = true,
  local_parts = "ghost",
  route = function() return fail "no such user here" end,
}
router "not_for_verify" {    -- never used when verifying
  driver = "lua",
  verify = false,
  local_parts = "delivery-only : ghost",
  route = function() return accept { transport = "t" } end,
}
router "verify_accept" {     -- verify_only accepting without a transport
  driver = "lua",
  verify_only = true,
  local_parts = "listed",
  route = function() return accept {} end,
}
router "users" {
  driver = "lua",
  local_parts = "alice : listed",
  route = function() return accept { transport = "t" } end,
}
