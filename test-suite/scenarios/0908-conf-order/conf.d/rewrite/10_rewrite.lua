order = order .. ",rewrite"
