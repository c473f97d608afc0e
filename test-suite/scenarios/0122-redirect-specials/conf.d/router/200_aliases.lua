-- The same alias file under three policies, one per domain.

-- example.com: :fail: and :defer: allowed, everything else at its default
router "aliases" {
  driver = "redirect",
  domains = "example.com",
  lookup = "lsearch;@DIR@/aliases",
  allow_fail = true,
  allow_defer = true,
  qualify_preserve_domain = true,
}

-- strict.example.com: no :fail:/:defer: (defaults), no :blackhole:, no :include:
router "strict" {
  driver = "redirect",
  domains = "strict.example.com",
  lookup = "lsearch;@DIR@/aliases",
  forbid_blackhole = true,
  forbid_include = true,
  qualify_preserve_domain = true,
}

-- confined.example.com: :include: files must be under @DIR@/lists
router "confined" {
  driver = "redirect",
  domains = "confined.example.com",
  lookup = "lsearch;@DIR@/aliases",
  include_directory = "@DIR@/lists",
  qualify_preserve_domain = true,
}
