// pass-infer-shapes.mlir: types flow from inputs and weights through every op; a region's
// block.args take the block's k (forward) or symbol (session) rows; errors name the node.
// RUN: modc-opt %s --pass infer-shapes | FileCheck %s
// RUN: not modc-opt %S/Inputs/infer-errors.mlir --pass infer-shapes 2>&1 | FileCheck %s --check-prefix=ERR

// CHECK-LABEL: graph @t
// CHECK: %5 = embed %0, %2 : f32[5,6]
// CHECK-NEXT: %6 = rmsnorm %5, %4 {eps = 1e-05} : f32[5,6]
// CHECK-NEXT: %7 = matmul %6, %3 : f32[5,3]
// CHECK-NEXT: %8 = take_last %7 : f32[1,3]
graph @t mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[5]
  %1 = input {name = "pos"} : i32[5]
  %2 = weight {name = "e", offset = 0} : bf16[10,6]
  %7 = weight {name = "w", offset = 128} : bf16[3,6]
  %8 = weight {name = "n", offset = 192} : f32[6]
  %3 = embed %0, %2 : ?
  %4 = rmsnorm %3, %8 {eps = 1e-05} : ?
  %5 = matmul %4, %7 : ?
  %6 = take_last %5 : ?
}

// ERR: error: in graph @bad_matmul: pass 'infer-shapes': %4 (matmul): x is [.,6] but W is [3,5]
// ERR: error: in graph @bad_topk: pass 'infer-shapes': %5 (topk): k = 9 outside [1, 5]
