-- the driver was forgotten
router "remote" {
  transport = "t",
}
