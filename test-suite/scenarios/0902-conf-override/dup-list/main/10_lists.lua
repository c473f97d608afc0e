domainlist "hosted" { "a.example" }
domainlist "hosted" { "b.example" }
