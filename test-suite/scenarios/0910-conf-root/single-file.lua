main { primary_hostname = "from-a-file.example" }
