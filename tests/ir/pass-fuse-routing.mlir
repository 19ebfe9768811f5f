// pass-fuse-routing.mlir: fuse-routing folds a routed block's gather + rmsnorm into its first
// matmuls (matmul_norm_gather), the block input's residual into the o-projection's epilogue
// (matmul_add_gather) and the scaled scatter into the down projection's (matmul_scatter_gate);
// the gather and the rmsnorm left without readers disappear, the positions' gather stays;
// plan-memory then gives the scatter h's storage, since h dies there.
// RUN: modc-opt %s --pass infer-shapes --pass lower-mod --pass fuse-epilogues --pass fuse-routing --pass plan-memory | FileCheck %s
// RUN: not modc-opt %S/Inputs/fuse-mod-block.mlir --pass infer-shapes --pass fuse-routing 2>&1 | FileCheck %s --check-prefix=BLOCK
// BLOCK: fuse-routing: %5 is a mod.block; run lower-mod first

// CHECK-LABEL: graph @block mode = forward
// CHECK: %[[H:[0-9]+]] = embed %0, %2 : f32[8,8] @arena+[[HOFF:[0-9]+]]
// CHECK-NEXT: %[[R:[0-9]+]] = matmul %[[H]], %3 : f32[8,1]
// CHECK-NEXT: %[[IDX:[0-9]+]] = topk %[[R]] {k = 2, layer = 0} : i32[2]
// CHECK-NEXT: %[[P:[0-9]+]] = gather %1, %[[IDX]] : i32[2]
// CHECK-NEXT: %[[Q:[0-9]+]] = matmul_norm_gather %[[H]], %5, %[[IDX]], %4 {eps = 1e-05} : f32[2,8]
// CHECK-NEXT: %[[K:[0-9]+]] = matmul_norm_gather %[[H]], %6, %[[IDX]], %4 {eps = 1e-05} : f32[2,8]
// CHECK-NEXT: %[[A:[0-9]+]] = attention %[[Q]], %[[K]], %[[K]], %[[P]]
// CHECK-NEXT: %[[X1:[0-9]+]] = matmul_add_gather %[[A]], %7, %[[H]], %[[IDX]] : f32[2,8]
// CHECK-NEXT: %[[N2:[0-9]+]] = rmsnorm %[[X1]], %8
// CHECK-NEXT: %[[M:[0-9]+]] = matmul_silu_mul %[[N2]], %9, %10 : f32[2,16]
// CHECK-NEXT: %[[S:[0-9]+]] = matmul_scatter_gate %[[M]], %11, %[[X1]], %[[H]], %[[IDX]], %[[R]] {gate = "sigmoid"} : f32[8,8] @arena+[[HOFF]]
// CHECK-NEXT: add %[[S]], %[[S]] : f32[8,8] @out
// CHECK-NOT: gather %[[H]]
// CHECK-NOT: scatter_gate %
graph @block mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[8]
  %1 = input {name = "pos"} : i32[8]
  %2 = weight {name = "e", offset = 0} : f32[32,8]
  %3 = weight {name = "router", offset = 1024} : f32[1,8]
  %4 = weight {name = "n1", offset = 1088} : f32[8]
  %5 = weight {name = "wq", offset = 1152} : f32[8,8]
  %6 = weight {name = "wk", offset = 1408} : f32[8,8]
  %7 = weight {name = "wo", offset = 1664} : f32[8,8]
  %8 = weight {name = "n2", offset = 1920} : f32[8]
  %9 = weight {name = "gate", offset = 1984} : f32[16,8]
  %10 = weight {name = "up", offset = 2496} : f32[16,8]
  %11 = weight {name = "down", offset = 3008} : f32[8,16]
  %12 = embed %0, %2 : ?
  %13 = mod.block %12, %1, %3 {layer = 0, capacity = 0.25, k = 2, gate = "sigmoid", predictor = "router", router_bias = 0} : ? {
    %14 = block.arg {index = 0} : ?
    %15 = block.arg {index = 1} : ?
    %16 = rmsnorm %14, %4 {eps = 1e-05} : ?
    %17 = matmul %16, %5 : ?
    %18 = matmul %16, %6 : ?
    %19 = attention %17, %18, %18, %15 {heads = 2, kv_heads = 2} : ?
    %20 = matmul %19, %7 : ?
    %21 = add %14, %20 : ?
    %22 = rmsnorm %21, %8 {eps = 1e-05} : ?
    %23 = matmul %22, %9 : ?
    %24 = matmul %22, %10 : ?
    %25 = silu_mul %23, %24 : ?
    %26 = matmul %25, %11 : ?
    %27 = add %21, %26 : ?
    %28 = yield %27 : ?
  }
  %29 = add %13, %13 : ?
  %30 = output %29 {name = "logits"} : ?
}

// -----
// Kept: the rmsnorm has a reader besides the matmul (so it and the gather stay, while the
// matmul still reads h through the index), the matmul_add's residual is the rmsnorm, not a
// gather, and the block's result has a second reader, so the scatter stays a scatter.
// CHECK-LABEL: graph @keep mode = session syms = [s0 <= 8, s1 <= 8]
// CHECK: %[[H:[0-9]+]] = embed %0, %2 : f32[s0,8]
// CHECK-NEXT: %[[R:[0-9]+]] = matmul %[[H]], %3 : f32[s0,1]
// CHECK-NEXT: %[[IDX:[0-9]+]] = select %[[R]], %1 {layer = 0, sym = 1} : i32[s1]
// CHECK-NEXT: %[[X:[0-9]+]] = gather %[[H]], %[[IDX]] : f32[s1,8]
// CHECK-NEXT: gather %1, %[[IDX]] : i32[s1]
// CHECK-NEXT: %[[N:[0-9]+]] = rmsnorm %[[X]], %4 {eps = 1e-05} : f32[s1,8]
// CHECK-NEXT: %[[Q:[0-9]+]] = matmul_norm_gather %[[H]], %5, %[[IDX]], %4 {eps = 1e-05} : f32[s1,8]
// CHECK-NEXT: %[[Y:[0-9]+]] = matmul_add %[[Q]], %5, %[[N]] : f32[s1,8]
// CHECK-NEXT: add %[[Y]], %[[Y]]
// CHECK-NEXT: scatter_gate %[[H]], %[[IDX]], %[[Y]], %[[R]] {gate = "raw"} : f32[s0,8]
graph @keep mode = session syms = [s0 <= 8, s1 <= 8] arena = 0 {
  %0 = input {name = "tokens"} : i32[s0]
  %1 = input {name = "pos"} : i32[s0]
  %2 = weight {name = "e", offset = 0} : f32[32,8]
  %3 = weight {name = "router", offset = 1024} : f32[1,8]
  %4 = weight {name = "n1", offset = 1088} : f32[8]
  %5 = weight {name = "w", offset = 1152} : f32[8,8]
  %6 = embed %0, %2 : ?
  %7 = mod.block %6, %1, %3 {layer = 0, capacity = 0.25, sym = 1, gate = "raw", predictor = "router", router_bias = 0} : ? {
    %8 = block.arg {index = 0} : ?
    %9 = block.arg {index = 1} : ?
    %10 = rmsnorm %8, %4 {eps = 1e-05} : ?
    %11 = matmul %10, %5 : ?
    %12 = matmul %11, %5 : ?
    %13 = add %10, %12 : ?
    %14 = add %13, %13 : ?
    %15 = yield %13 : ?
  }
  %16 = output %7 {name = "logits"} : ?
}
