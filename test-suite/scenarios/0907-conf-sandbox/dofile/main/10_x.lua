
dofile("/etc/passwd")
