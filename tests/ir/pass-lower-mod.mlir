// pass-lower-mod.mlir: lower-mod turns a mod.block into explicit routing: the router
// matmul (+ bias), topk (forward) or select (session, causal), gathers of the rows and their
// positions, the body inlined on the gathered rows, and scatter_gate with the block's gate.
// RUN: modc-opt %s --pass infer-shapes --pass lower-mod | FileCheck %s

// CHECK-LABEL: graph @fwd mode = forward
// CHECK-NOT: mod.block
// CHECK: %[[H:[0-9]+]] = embed %0, %2 : f32[8,4]
// CHECK-NEXT: %[[R0:[0-9]+]] = matmul %[[H]], %3 : f32[8,1]
// CHECK-NEXT: %[[R:[0-9]+]] = bias_add %[[R0]], %4 : f32[8,1]
// CHECK-NEXT: %[[IDX:[0-9]+]] = topk %[[R]] {k = 2, layer = 0} : i32[2]
// CHECK-NEXT: %[[X:[0-9]+]] = gather %[[H]], %[[IDX]] : f32[2,4]
// CHECK-NEXT: %[[P:[0-9]+]] = gather %1, %[[IDX]] : i32[2]
// CHECK-NEXT: %[[Y:[0-9]+]] = add %[[X]], %[[X]] : f32[2,4]
// CHECK-NEXT: %[[S:[0-9]+]] = scatter_gate %[[H]], %[[IDX]], %[[Y]], %[[R]] {gate = "sigmoid"} : f32[8,4]
// CHECK-NEXT: output %[[S]] {name = "logits"}
// CHECK-NOT: block.arg
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
// Session graphs route causally: the router score itself decides (p = r > 0), and the
// chosen rows' count is the block's symbol s1.
// CHECK-LABEL: graph @sess mode = session syms = [s0 <= 32, s1 <= 32]
// CHECK: %[[R:[0-9]+]] = matmul %[[H:[0-9]+]], %3 : f32[s0,1]
// CHECK-NEXT: %[[IDX:[0-9]+]] = select %[[R]], %1 {layer = 0, sym = 1} : i32[s1]
// CHECK-NEXT: %[[X:[0-9]+]] = gather %[[H]], %[[IDX]] : f32[s1,4]
// CHECK-NEXT: %[[P:[0-9]+]] = gather %1, %[[IDX]] : i32[s1]
// CHECK-NEXT: %[[Y:[0-9]+]] = add %[[X]], %[[X]] : f32[s1,4]
// CHECK-NEXT: scatter_gate %[[H]], %[[IDX]], %[[Y]], %[[R]] {gate = "raw"} : f32[s0,4]
graph @sess mode = session syms = [s0 <= 32, s1 <= 32] arena = 0 {
  %0 = input {name = "tokens"} : i32[s0]
  %1 = input {name = "pos"} : i32[s0]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[16,4]
  %3 = weight {name = "model.layers.0.router.weight", offset = 256} : f32[1,4]
  %5 = embed %0, %2 : ?
  %6 = mod.block %5, %1, %3 {layer = 0, capacity = 0.25, sym = 1, gate = "raw", predictor = "router", router_bias = 0} : ? {
    %7 = block.arg {index = 0} : ?
    %8 = block.arg {index = 1} : ?
    %9 = add %7, %7 : ?
    %10 = yield %9 : ?
  }
  %11 = output %6 {name = "logits"} : ?
}

// -----
// A forward graph's block with a sym (routing.forward: threshold) routes causally as a
// session's does: select against the threshold, the rows its symbol s0; the call's rows stay 8.
// CHECK-LABEL: graph @fwd_causal mode = forward syms = [s0 <= 8]
// CHECK: %[[R:[0-9]+]] = matmul %[[H:[0-9]+]], %3 : f32[8,1]
// CHECK-NEXT: %[[IDX:[0-9]+]] = select %[[R]], %1 {layer = 0, sym = 0, threshold = 0.5} : i32[s0]
// CHECK-NEXT: %[[X:[0-9]+]] = gather %[[H]], %[[IDX]] : f32[s0,4]
// CHECK: scatter_gate %[[H]], %[[IDX]], %{{[0-9]+}}, %[[R]] {gate = "raw"} : f32[8,4]
// CHECK-NOT: topk
graph @fwd_causal mode = forward syms = [s0 <= 8] arena = 0 {
  %0 = input {name = "tokens"} : i32[8]
  %1 = input {name = "pos"} : i32[8]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[16,4]
  %3 = weight {name = "model.layers.0.router.weight", offset = 256} : f32[1,4]
  %5 = embed %0, %2 : ?
  %6 = mod.block %5, %1, %3 {layer = 0, capacity = 0.25, sym = 0, threshold = 0.5, gate = "raw", predictor = "router", router_bias = 0} : ? {
    %7 = block.arg {index = 0} : ?
    %8 = block.arg {index = 1} : ?
    %9 = add %7, %7 : ?
    %10 = yield %9 : ?
  }
  %11 = output %6 {name = "logits"} : ?
}

// -----
// The mlp predictor: p = fc2(silu(fc1 h + b1)) + b2 decides against the block's causal
// threshold, which select carries; the gate still uses r.
// CHECK-LABEL: graph @mlp mode = session
// CHECK: %[[R:[0-9]+]] = matmul %[[H:[0-9]+]], %3 : f32[s0,1]
// CHECK-NEXT: %[[A:[0-9]+]] = matmul %[[H]], %4 : f32[s0,3]
// CHECK-NEXT: %[[B:[0-9]+]] = bias_add %[[A]], %5 : f32[s0,3]
// CHECK-NEXT: %[[C:[0-9]+]] = silu %[[B]] : f32[s0,3]
// CHECK-NEXT: %[[D:[0-9]+]] = matmul %[[C]], %6 : f32[s0,1]
// CHECK-NEXT: %[[PR:[0-9]+]] = bias_add %[[D]], %7 : f32[s0,1]
// CHECK-NEXT: %[[IDX:[0-9]+]] = select %[[PR]], %1 {layer = 2, sym = 1, threshold = -0.375} : i32[s1]
// CHECK: scatter_gate %[[H]], %[[IDX]], %{{[0-9]+}}, %[[R]] {gate = "raw"}
graph @mlp mode = session syms = [s0 <= 32, s1 <= 32] arena = 0 {
  %0 = input {name = "tokens"} : i32[s0]
  %1 = input {name = "pos"} : i32[s0]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[16,4]
  %3 = weight {name = "model.layers.2.router.weight", offset = 256} : f32[1,4]
  %4 = weight {name = "model.layers.2.predictor.fc1.weight", offset = 320} : f32[3,4]
  %5 = weight {name = "model.layers.2.predictor.fc1.bias", offset = 384} : f32[3]
  %6 = weight {name = "model.layers.2.predictor.fc2.weight", offset = 448} : f32[1,3]
  %7 = weight {name = "model.layers.2.predictor.fc2.bias", offset = 512} : f32[1]
  %8 = embed %0, %2 : ?
  %9 = mod.block %8, %1, %3, %4, %5, %6, %7 {layer = 2, capacity = 0.5, sym = 1, threshold = -0.375, gate = "raw", predictor = "mlp", router_bias = 0} : ? {
    %10 = block.arg {index = 0} : ?
    %11 = block.arg {index = 1} : ?
    %12 = yield %10 : ?
  }
  %13 = output %9 {name = "logits"} : ?
}
