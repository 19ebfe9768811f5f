// mixed.mlir: read by driver.mlir (not a test itself): good pieces among failing ones.
graph @good1 mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[4]
}
// -----
graph @bad_parse mode = forward syms = [] arena = 0 {
  %0 = bogus : ?
}
// -----
graph @good2 mode = forward syms = [] arena = 0 {
}
// -----
graph @bad_verify mode = forward syms = [] arena = 0 {
  %0 = weight {name = "w"} : f32[4]
}
