domainlist "all_hosted" { "+hosted_a", "+hosted_b" }
domainlist "hosted_a" { "a.example" }
