router "aliases" {           -- declines for local parts not in the file
  driver = "redirect",
  domains = "example.com",
  lookup = "lsearch;@DIR@/aliases",
  no_more = true,
}
router "passer" {            -- pass() goes on even with no_more set
  driver = "lua",
  domains = "pass.example",
  no_more = true,
  route = function() return pass() end,
}
router "passer_table" {      -- the same with pass {}
  driver = "lua",
  domains = "pass-then-decline.example",
  no_more = true,
  route = function() return pass {} end,
}
router "decliner" {          -- a Lua route that declines (nil), with no_more
  driver = "lua",
  domains = "decline.example : pass-then-decline.example",
  no_more = true,
  route = function() return nil end,
}
router "decline_call" {      -- decline() is the same as nil
  driver = "lua",
  domains = "decline-call.example",
  no_more = true,
  route = function() return decline() end,
}
router "everything" {
  driver = "lua",
  route = function() return accept { transport = "t" } end,
}
