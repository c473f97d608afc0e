main {
  dns_timeout = "soon",
}
