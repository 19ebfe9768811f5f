// pass-plan-memory.mlir: inputs live in the caller's arrays, weights in the blob at their
// layout offset, the graph's result in the caller's logits buffer, everything else in one
// arena at 64-byte aligned offsets, reused once the last reader has run, never aliasing
// the operands of the node that writes it, except a scatter's h that dies at the scatter
// (updated in place).  Symbols are sized at their bounds.
// RUN: modc-opt %s --pass infer-shapes --pass lower-mod --pass plan-memory | FileCheck %s
// RUN: not modc-opt %s --pass infer-shapes --pass plan-memory 2>&1 | FileCheck %s --check-prefix=UNLOWERED

// CHECK-LABEL: graph @fwd mode = forward syms = [] arena = 384 {
// CHECK-NEXT: %0 = input {name = "tokens"} : i32[8] @tokens
// CHECK-NEXT: %1 = input {name = "pos"} : i32[8] @pos
// CHECK-NEXT: %2 = weight {{.*}} @weights+0
// CHECK-NEXT: %3 = weight {{.*}} @weights+256
// CHECK-NEXT: %4 = weight {{.*}} @weights+320
// CHECK-NEXT: %5 = embed %0, %2 : f32[8,4] @arena+0
// CHECK-NEXT: %6 = matmul %5, %3 : f32[8,1] @arena+128
// CHECK-NEXT: %7 = bias_add %6, %4 : f32[8,1] @arena+192
// The router's matmul result is dead after bias_add: topk reuses its space.
// CHECK-NEXT: %8 = topk %7 {k = 2, layer = 0} : i32[2] @arena+128
// CHECK-NEXT: %9 = gather %5, %8 : f32[2,4] @arena+256
// CHECK-NEXT: %10 = gather %1, %8 : i32[2] @arena+320
// CHECK-NEXT: %11 = add %9, %9 : f32[2,4] @arena+320
// CHECK-NEXT: %12 = scatter_gate %5, %8, %11, %7 {gate = "sigmoid"} : f32[8,4] @out
// CHECK-NEXT: %13 = output %12 {name = "logits"} : f32[8,4] @out
// UNLOWERED: plan-memory: %6 (mod.block): lower-mod must run first
graph @fwd mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[8]
  %1 = input {name = "pos"} : i32[8]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[16,4]
  %3 = weight {name = "model.layers.0.router.weight", offset = 256} : f32[1,4]
  %4 = weight {name = "model.layers.0.router.bias", offset = 320} : f32[1]
  %5 = embed %0, %2 : ?
  %6 = mod.block %5, %1, %3, %4 {layer = 0, capacity = 0.25, k = 2, gate = "sigmoid", predictor = "router", router_bias = 1} : ? {
    %7 = block.arg {index = 0} : ?
    %8 = block.arg {index = 1} : ?
    %9 = add %7, %7 : ?
    %10 = yield %9 : ?
  }
  %11 = output %6 {name = "logits"} : ?
}

// -----
// Dynamic rows are planned at their symbol's bound (s0 <= 32: 32 x 4 floats = 512 bytes).
// CHECK-LABEL: graph @sess mode = session syms = [s0 <= 32] arena = 512 {
// CHECK: %3 = embed %0, %2 : f32[s0,4] @arena+0
// CHECK-NEXT: %4 = take_last %3 : f32[1,4] @out
// CHECK-NEXT: %5 = output %4 {name = "logits"} : f32[1,4] @out
graph @sess mode = session syms = [s0 <= 32] arena = 0 {
  %0 = input {name = "tokens"} : i32[s0]
  %1 = input {name = "pos"} : i32[s0]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[16,4]
  %3 = embed %0, %2 : ?
  %4 = take_last %3 : ?
  %5 = output %4 {name = "logits"} : ?
}

// -----
// A scatter takes the storage of the h it updates when h dies there (%6 at %3's offset),
// and only then: %9's h, %6, is read again by the add after it, so %9 gets a slot of its own.
// CHECK-LABEL: graph @inplace mode = forward syms = [] arena = 256 {
// CHECK: %3 = embed %0, %2 : f32[8,4] @arena+0
// CHECK: %6 = scatter_gate %3, %4, %5, %1 {gate = "raw"} : f32[8,4] @arena+0{{$}}
// CHECK: %9 = scatter_gate %6, %7, %8, %1 {gate = "raw"} : f32[8,4] @arena+128{{$}}
// CHECK: %10 = add %9, %6 : f32[8,4] @out
graph @inplace mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[8]
  %1 = weight {name = "r", offset = 0} : f32[8,1]
  %2 = weight {name = "model.embed_tokens.weight", offset = 64} : f32[16,4]
  %3 = embed %0, %2 : ?
  %4 = weight {name = "idx", offset = 320} : i32[2]
  %5 = weight {name = "y", offset = 384} : f32[2,4]
  %6 = scatter_gate %3, %4, %5, %1 {gate = "raw"} : ?
  %7 = weight {name = "idx2", offset = 448} : i32[2]
  %8 = weight {name = "y2", offset = 512} : f32[2,4]
  %9 = scatter_gate %6, %7, %8, %1 {gate = "raw"} : ?
  %10 = add %9, %6 : ?
  %11 = output %10 {name = "logits"} : ?
}
