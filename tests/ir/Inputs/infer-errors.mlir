graph @bad_matmul mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[5]
  %1 = weight {name = "e", offset = 0} : f32[10,6]
  %2 = weight {name = "w", offset = 256} : f32[3,5]
  %3 = embed %0, %1 : ?
  %4 = matmul %3, %2 : ?
}
// -----
graph @bad_topk mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[5]
  %1 = weight {name = "e", offset = 0} : f32[10,6]
  %2 = weight {name = "w", offset = 256} : f32[1,6]
  %3 = embed %0, %1 : ?
  %4 = matmul %3, %2 : ?
  %5 = topk %4 {k = 9} : ?
}
