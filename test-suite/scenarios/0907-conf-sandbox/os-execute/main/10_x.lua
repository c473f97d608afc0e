
os.execute("touch sandbox-escaped")
