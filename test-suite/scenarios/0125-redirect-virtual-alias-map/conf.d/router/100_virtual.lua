-- Postfix-style virtual alias map: keys are full addresses, "*@domain"
-- catches a domain's other local parts, "*" everything else; bare local
-- parts on the right keep the domain they were sent to.
router "virtual" {
  driver = "redirect",
  domains = "example.net : example.info",
  lookup = "lsearch*@;@DIR@/virtual",
  lookup_key = "${local_part}@${domain}",
  qualify_preserve_domain = true,
}

-- another map: bare local parts get qualify_recipient (example.com);
-- generated ancestors are replaced (check_ancestor); bad addresses skipped
router "orgmap" {
  driver = "redirect",
  domains = "example.org",
  lookup = "lsearch;@DIR@/org",
  lookup_key = "${local_part}@${domain}",
  check_ancestor = true,
  skip_syntax_errors = true,
}

-- lsearch* keyed on the local part: "*" is the default entry
router "edu" {
  driver = "redirect",
  domains = "example.edu",
  lookup = "lsearch*;@DIR@/edu",
}
