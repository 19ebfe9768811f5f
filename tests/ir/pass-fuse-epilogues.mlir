// pass-fuse-epilogues.mlir: fuse-epilogues folds a residual add into the matmul that feeds
// it (either operand order) and SiLU(gate) x up into one matmul_silu_mul over the shared
// input; a matmul with another user, or gate/up over different inputs, stays unfused.
// RUN: modc-opt %s --pass infer-shapes --pass fuse-epilogues | FileCheck %s
// RUN: not modc-opt %S/Inputs/fuse-mod-block.mlir --pass infer-shapes --pass fuse-epilogues 2>&1 | FileCheck %s --check-prefix=BLOCK
// BLOCK: fuse-epilogues: %5 is a mod.block; run lower-mod first

// CHECK-LABEL: graph @block
// CHECK: %[[X:[0-9]+]] = embed %0, %1 : f32[4,8]
// CHECK-NEXT: %[[A:[0-9]+]] = matmul_add %[[X]], %2, %[[X]] : f32[4,8]
// CHECK-NEXT: %[[M:[0-9]+]] = matmul_silu_mul %[[A]], %3, %4 : f32[4,16]
// CHECK-NEXT: %[[Y:[0-9]+]] = matmul_add %[[M]], %5, %[[A]] : f32[4,8]
// CHECK-NEXT: output %[[Y]] {name = "logits"}
// CHECK-NOT: silu_mul %
graph @block mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[4]
  %1 = weight {name = "e", offset = 0} : f32[32,8]
  %2 = weight {name = "o", offset = 1024} : f32[8,8]
  %3 = weight {name = "gate", offset = 1280} : f32[16,8]
  %4 = weight {name = "up", offset = 1792} : f32[16,8]
  %5 = weight {name = "down", offset = 2304} : bf16[8,16]
  %6 = embed %0, %1 : ?
  %7 = matmul %6, %2 : ?
  %8 = add %6, %7 : ?
  %9 = matmul %8, %3 : ?
  %10 = matmul %8, %4 : ?
  %11 = silu_mul %9, %10 : ?
  %12 = matmul %11, %5 : ?
  %13 = add %12, %8 : ?
  %14 = output %13 {name = "logits"} : ?
}

// -----
// Not fused: %3 is read twice (by the add and by the output's add), and the gate and up
// matmuls read different inputs; session graphs (dynamic rows) fuse like forward ones.
// CHECK-LABEL: graph @keep mode = session syms = [s0 <= 8]
// CHECK: %[[X:[0-9]+]] = embed %0, %1 : f32[s0,8]
// CHECK-NEXT: %[[M:[0-9]+]] = matmul %[[X]], %2 : f32[s0,8]
// CHECK-NEXT: %[[A:[0-9]+]] = add %[[X]], %[[M]] : f32[s0,8]
// CHECK-NEXT: %[[G:[0-9]+]] = matmul %[[X]], %2 : f32[s0,8]
// CHECK-NEXT: %[[U:[0-9]+]] = matmul %[[A]], %2 : f32[s0,8]
// CHECK-NEXT: %[[S:[0-9]+]] = silu_mul %[[G]], %[[U]] : f32[s0,8]
// CHECK-NEXT: %[[B:[0-9]+]] = add %[[S]], %[[M]] : f32[s0,8]
// CHECK-NEXT: %[[F:[0-9]+]] = matmul_add %[[B]], %2, %[[A]] : f32[s0,8]
// CHECK-NEXT: output %[[F]]
graph @keep mode = session syms = [s0 <= 8] arena = 0 {
  %0 = input {name = "tokens"} : i32[s0]
  %1 = weight {name = "e", offset = 0} : f32[32,8]
  %2 = weight {name = "w", offset = 1024} : f32[8,8]
  %3 = embed %0, %1 : ?
  %4 = matmul %3, %2 : ?
  %5 = add %3, %4 : ?
  %6 = matmul %3, %2 : ?
  %7 = matmul %5, %2 : ?
  %8 = silu_mul %6, %7 : ?
  %9 = add %8, %4 : ?
  %10 = matmul %9, %2 : ?
  %11 = add %5, %10 : ?
  %12 = output %11 {name = "logits"} : ?
}
