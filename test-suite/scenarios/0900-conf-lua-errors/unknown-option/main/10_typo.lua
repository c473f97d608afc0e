-- a misspelt option
main { primary_hostnam = "mail.example.com" }
