-- every router accepts with a lua route, so only "domains" decides
local function ok() return accept { transport = "t" } end

router "negated" {          -- list ending in a negative item
  driver = "lua", route = ok,
  domains = "! +local_domains : ! +partners : ! lookup.example : ! ^[0-9]+\\.num\\.example$ : ! *.wild.example : ! *in-file.example",
}
router "named" {            -- a +named list (the main option)
  driver = "lua", route = ok,
  domains = "+local_domains",
}
router "partners" {         -- a domainlist defined with domainlist
  driver = "lua", route = ok,
  domains = { "+partners" },
}
router "wildcard" {         -- "*.wild.example" is not "wild.example"
  driver = "lua", route = ok,
  domains = "*.wild.example",
}
router "regex" {
  driver = "lua", route = ok,
  domains = "^[0-9]+\\.num\\.example$",
}
router "lsearch" {          -- a lookup item, keyed by the domain
  driver = "lua", route = ok,
  domains = "lsearch;@DIR@/domains",
}
router "exclusion" {        -- first match decides: negation before "*"
  driver = "lua", route = ok,
  domains = "! bad.in-file.example : *.in-file.example : in-file.example",
}
