// roundtrip.mlir: the printer's exact text.  Values are renumbered to their indices,
// regions indented, attributes kept in order, floats in their shortest exact spelling,
// and printing the printed form again gives the same bytes.
// RUN: modc-opt %s | FileCheck %s
// RUN: modc-opt %s > %t.a && modc-opt %t.a > %t.b && diff -u %t.a %t.b
// RUN: modc-opt < %s | FileCheck %s
// RUN: modc-opt %s | FileCheck %s --check-prefix=INDENT --strict-whitespace --match-full-lines

// CHECK-LABEL: graph @forward_t16 mode = forward syms = [] arena = 16384 {
// CHECK-NEXT: %0 = input {name = "tokens"} : i32[16] @tokens
// CHECK-NEXT: %1 = input {name = "pos"} : i32[16] @pos
// CHECK-NEXT: %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[256,64] @weights+0
// CHECK-NEXT: %3 = weight {name = "model.layers.0.router.weight", offset = 65536, layout = "panel", nr = 16} : f32[1,64] @weights+65536
// CHECK-NEXT: %4 = weight {name = "model.layers.0.input_layernorm.weight", offset = 65792} : f32[64] @weights+65792
// CHECK-NEXT: %5 = weight {name = "model.layers.0.self_attn.q_proj.weight", offset = 66048, layout = "panel", nr = 32} : bf16[64,64] @weights+66048
// CHECK-NEXT: %6 = weight {name = "model.layers.0.self_attn.k_proj.weight", offset = 74240, layout = "panel", nr = 32} : bf16[32,64] @weights+74240
// CHECK-NEXT: %7 = weight {name = "model.layers.0.self_attn.v_proj.weight", offset = 78336, layout = "panel", nr = 32} : bf16[32,64] @weights+78336
// CHECK-NEXT: %8 = weight {name = "model.layers.0.self_attn.o_proj.weight", offset = 82432, layout = "panel", nr = 32} : bf16[64,64] @weights+82432
// CHECK-NEXT: %9 = weight {name = "model.norm.weight", offset = 90624} : f32[64] @weights+90624
// CHECK-NEXT: %10 = weight {name = "lm_head.weight", offset = 90880, layout = "panel", nr = 32} : f32[256,64] @weights+90880
// CHECK-NEXT: %11 = embed %0, %2 : f32[16,64] @arena+0
// CHECK-NEXT: %12 = mod.block %11, %1, %3 {layer = 0, capacity = 0.125, k = 2, gate = "raw", predictor = "router"} : f32[16,64] @arena+4096 {
// CHECK-NEXT: %13 = block.arg {index = 0} : f32[2,64]
// CHECK-NEXT: %14 = block.arg {index = 1} : i32[2]
// CHECK-NEXT: %15 = rmsnorm %13, %4 {eps = 1e-05} : f32[2,64] @arena+8192
// CHECK-NEXT: %16 = matmul %15, %5 : f32[2,64] @arena+8704
// CHECK-NEXT: %17 = matmul %15, %6 : f32[2,32] @arena+9216
// CHECK-NEXT: %18 = matmul %15, %7 : f32[2,32] @arena+9472
// CHECK-NEXT: %19 = rope %16, %14 {heads = 4, theta = 10000.0} : f32[2,64] @arena+9728
// CHECK-NEXT: %20 = rope %17, %14 {heads = 2, theta = 10000.0} : f32[2,32] @arena+10240
// CHECK-NEXT: %21 = attention %19, %20, %18, %14 {heads = 4, kv_heads = 2} : f32[2,64] @arena+10496
// CHECK-NEXT: %22 = matmul %21, %8 : f32[2,64] @arena+11008
// CHECK-NEXT: %23 = add %13, %22 : f32[2,64] @arena+11520
// CHECK-NEXT: %24 = yield %23 : f32[2,64]
// CHECK-NEXT: }
// CHECK-NEXT: %25 = rmsnorm %12, %9 {eps = 1e-05} : f32[16,64] @arena+0
// CHECK-NEXT: %26 = matmul %25, %10 : f32[16,256] @out
// CHECK-NEXT: %27 = output %26 {name = "logits"} : f32[16,256] @out
// CHECK-NEXT: }

// Indentation, exactly: two spaces a level, the region's "}" at the block's own level.
// INDENT:graph @forward_t16 mode = forward syms = [] arena = 16384 {
// INDENT-NEXT:  %0 = input {name = "tokens"} : i32[16] @tokens
// INDENT:  %12 = mod.block %11, %1, %3 {layer = 0, capacity = 0.125, k = 2, gate = "raw", predictor = "router"} : f32[16,64] @arena+4096 {
// INDENT-NEXT:    %13 = block.arg {index = 0} : f32[2,64]
// INDENT:    %24 = yield %23 : f32[2,64]
// INDENT-NEXT:  }
// INDENT-NEXT:  %25 = rmsnorm %12, %9 {eps = 1e-05} : f32[16,64] @arena+0
// INDENT:  %27 = output %26 {name = "logits"} : f32[16,256] @out
// INDENT-NEXT:}
// INDENT-NEXT:// -----
graph @forward_t16 mode = forward syms = [] arena = 16384 {
  %tokens = input {name = "tokens"} : i32[16] @tokens
  %pos = input {name = "pos"} : i32[16] @pos
  %E = weight {name = "model.embed_tokens.weight", offset = 0} : f32[256,64] @weights+0
  %router = weight {name = "model.layers.0.router.weight", offset = 65536, layout = "panel", nr = 16} : f32[1,64] @weights+65536
  %in_norm = weight {name = "model.layers.0.input_layernorm.weight", offset = 65792} : f32[64] @weights+65792
  %wq = weight {name = "model.layers.0.self_attn.q_proj.weight", offset = 66048, layout = "panel", nr = 32} : bf16[64,64] @weights+66048
  %wk = weight {name = "model.layers.0.self_attn.k_proj.weight", offset = 74240, layout = "panel", nr = 32} : bf16[32,64] @weights+74240
  %wv = weight {name = "model.layers.0.self_attn.v_proj.weight", offset = 78336, layout = "panel", nr = 32} : bf16[32,64] @weights+78336
  %wo = weight {name = "model.layers.0.self_attn.o_proj.weight", offset = 82432, layout = "panel", nr = 32} : bf16[64,64] @weights+82432
  %norm = weight {name = "model.norm.weight", offset = 90624} : f32[64] @weights+90624
  %lm = weight {name = "lm_head.weight", offset = 90880, layout = "panel", nr = 32} : f32[256,64] @weights+90880
  %h0 = embed %tokens, %E : f32[16,64] @arena+0
  %h1 = mod.block %h0, %pos, %router {layer = 0, capacity = 0.125, k = 2, gate = "raw", predictor = "router"} : f32[16,64] @arena+4096 {
    %x = block.arg {index = 0} : f32[2,64]
    %xpos = block.arg {index = 1} : i32[2]
    %u = rmsnorm %x, %in_norm {eps = 1e-05} : f32[2,64] @arena+8192
    %q = matmul %u, %wq : f32[2,64] @arena+8704
    %k = matmul %u, %wk : f32[2,32] @arena+9216
    %v = matmul %u, %wv : f32[2,32] @arena+9472
    %qr = rope %q, %xpos {heads = 4, theta = 10000.0} : f32[2,64] @arena+9728
    %kr = rope %k, %xpos {heads = 2, theta = 10000.0} : f32[2,32] @arena+10240
    %att = attention %qr, %kr, %v, %xpos {heads = 4, kv_heads = 2} : f32[2,64] @arena+10496
    %o = matmul %att, %wo : f32[2,64] @arena+11008
    %a = add %x, %o : f32[2,64] @arena+11520
    %y = yield %a : f32[2,64]
  }
  %hn = rmsnorm %h1, %norm {eps = 1e-05} : f32[16,64] @arena+0
  %logits = matmul %hn, %lm : f32[16,256] @out
  %out = output %logits {name = "logits"} : f32[16,256] @out
}

// -----

// A session graph: symbols for the call's rows and the routed rows, an mlp predictor.
// CHECK-NEXT: // -----
// CHECK-NEXT: graph @session mode = session syms = [s0 <= 1024, s1 <= 1024] arena = 0 {
// CHECK-NEXT: %0 = input {name = "tokens"} : i32[s0]
// CHECK-NEXT: %1 = input {name = "pos"} : i32[s0]
// CHECK-NEXT: %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[256,64]
// CHECK-NEXT: %3 = weight {name = "model.layers.1.router.weight", offset = 65536} : f32[1,64]
// CHECK-NEXT: %4 = weight {name = "model.layers.1.predictor.fc1.weight", offset = 65792} : f32[16,64]
// CHECK-NEXT: %5 = weight {name = "model.layers.1.predictor.fc1.bias", offset = 69888} : f32[16]
// CHECK-NEXT: %6 = weight {name = "model.layers.1.predictor.fc2.weight", offset = 69952} : f32[1,16]
// CHECK-NEXT: %7 = weight {name = "model.layers.1.predictor.fc2.bias", offset = 70016} : f32[1]
// CHECK-NEXT: %8 = weight {name = "model.layers.1.self_attn.q_proj.weight", offset = 70080} : f32[64,64]
// CHECK-NEXT: %9 = embed %0, %2 : f32[s0,64]
// CHECK-NEXT: %10 = mod.block %9, %1, %3, %4, %5, %6, %7 {layer = 1, capacity = 0.5, gate = "sigmoid", predictor = "mlp", sym = 1} : f32[s0,64] {
// CHECK-NEXT: %11 = block.arg {index = 0} : f32[s1,64]
// CHECK-NEXT: %12 = block.arg {index = 1} : i32[s1]
// CHECK-NEXT: %13 = matmul %11, %8 : f32[s1,64]
// CHECK-NEXT: %14 = kv_attention %13, %13, %13, %12 {layer = 1, heads = 4, kv_heads = 4} : f32[s1,64]
// CHECK-NEXT: %15 = yield %14 : f32[s1,64]
// CHECK-NEXT: }
// CHECK-NEXT: %16 = take_last %10 : f32[1,64]
// CHECK-NEXT: %17 = output %16 {name = "logits"} : ?
// CHECK-NEXT: }
graph @session mode = session syms = [s0 <= 1024, s1 <= 1024] arena = 0 {
  %0 = input {name = "tokens"} : i32[s0]
  %1 = input {name = "pos"} : i32[s0]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[256,64]
  %3 = weight {name = "model.layers.1.router.weight", offset = 65536} : f32[1,64]
  %4 = weight {name = "model.layers.1.predictor.fc1.weight", offset = 65792} : f32[16,64]
  %5 = weight {name = "model.layers.1.predictor.fc1.bias", offset = 69888} : f32[16]
  %6 = weight {name = "model.layers.1.predictor.fc2.weight", offset = 69952} : f32[1,16]
  %7 = weight {name = "model.layers.1.predictor.fc2.bias", offset = 70016} : f32[1]
  %8 = weight {name = "model.layers.1.self_attn.q_proj.weight", offset = 70080} : f32[64,64]
  %9 = embed %0, %2 : f32[s0,64]
  %10 = mod.block %9, %1, %3, %4, %5, %6, %7 {layer = 1, capacity = 0.5, gate = "sigmoid", predictor = "mlp", sym = 1} : f32[s0,64] {
    %11 = block.arg {index = 0} : f32[s1,64]
    %12 = block.arg {index = 1} : i32[s1]
    %13 = matmul %11, %8 : f32[s1,64]
    %14 = kv_attention %13, %13, %13, %12 {layer = 1, heads = 4, kv_heads = 4} : f32[s1,64]
    %15 = yield %14 : f32[s1,64]
  }
  %16 = take_last %10 : f32[1,64]
  %17 = output %16 {name = "logits"} : ?
}

// -----

// After lowering: the router, top-k, gather and gated scatter as plain ops; un-inferred
// types print as "?".
// CHECK-NEXT: // -----
// CHECK-NEXT: graph @lowered mode = forward syms = [s0 <= 16] arena = 0 {
// CHECK-NEXT: %0 = input {name = "tokens"} : i32[16]
// CHECK-NEXT: %1 = input {name = "pos"} : i32[16]
// CHECK-NEXT: %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[256,64]
// CHECK-NEXT: %3 = weight {name = "model.layers.1.router.weight", offset = 65536} : f32[1,64]
// CHECK-NEXT: %4 = weight {name = "model.layers.1.router.bias", offset = 65792} : f32[1]
// CHECK-NEXT: %5 = embed %0, %2 : f32[16,64]
// CHECK-NEXT: %6 = matmul %5, %3 : f32[16,1]
// CHECK-NEXT: %7 = bias_add %6, %4 : f32[16,1]
// CHECK-NEXT: %8 = topk %7 {k = 2} : i32[2]
// CHECK-NEXT: %9 = gather %5, %8 : f32[2,64]
// CHECK-NEXT: %10 = gather %1, %8 : i32[2]
// CHECK-NEXT: %11 = silu %9 : f32[2,64]
// CHECK-NEXT: %12 = silu_mul %11, %9 : f32[2,64]
// CHECK-NEXT: %13 = scatter_gate %5, %8, %12, %7 {gate = "raw"} : f32[16,64]
// CHECK-NEXT: %14 = select %7, %1 {layer = 1, sym = 0} : i32[s0]
// CHECK-NEXT: %15 = gather %5, %14 : ?
// CHECK-NEXT: %16 = output %13 {name = "logits"} : f32[16,64]
// CHECK-NEXT: }
graph @lowered mode = forward syms = [s0 <= 16] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
  %1 = input {name = "pos"} : i32[16]
  %2 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[256,64]
  %3 = weight {name = "model.layers.1.router.weight", offset = 65536} : f32[1,64]
  %4 = weight {name = "model.layers.1.router.bias", offset = 65792} : f32[1]
  %5 = embed %0, %2 : f32[16,64]
  %6 = matmul %5, %3 : f32[16,1]
  %7 = bias_add %6, %4 : f32[16,1]
  %8 = topk %7 {k = 2} : i32[2]
  %9 = gather %5, %8 : f32[2,64]
  %10 = gather %1, %8 : i32[2]
  %11 = silu %9 : f32[2,64]
  %12 = silu_mul %11, %9 : f32[2,64]
  %13 = scatter_gate %5, %8, %12, %7 {gate = "raw"} : f32[16,64]
  %14 = select %7, %1 {layer = 1, sym = 0} : i32[s0]
  %15 = gather %5, %14 : ?
  %16 = output %13 {name = "logits"} : f32[16,64]
}

// -----

// Values the printer must spell exactly: escapes, floats, rank-0 types, offsets on
// every storage kind.
// CHECK-NEXT: // -----
// CHECK-NEXT: graph @"odd name" mode = forward syms = [s0 <= 0] arena = 0 {
// CHECK-NEXT: %0 = weight {name = "quote \" backslash \\ tab \t nl \n bell \x07", offset = 64, big = 9223372036854775807, neg = -12, f = 1e-05, g = 10000.0, h = 0.1, i = -2.5e-07, j = 1e+300, k = inf} : f32[] @weights+64
// CHECK-NEXT: %1 = input {name = "tokens", nan = nan, m = -inf, z = -0.0, one = 1.0} : i32[0] @tokens+4
// CHECK-NEXT: %2 = input {name = "pos"} : i32[s0] @pos
// CHECK-NEXT: %3 = silu %0 : ? @arena+128
// CHECK-NEXT: }
graph @"odd name" mode = forward syms = [s0 <= 0] arena = 0 {
  %w = weight {name = "quote \" backslash \\ tab \t nl \n bell \x07", offset = 64, big = 9223372036854775807, neg = -12, f = 1e-05, g = 10000.0, h = 0.1, i = -2.5E-7, j = 1e300, k = inf} : f32[] @weights+64
  %t = input {name = "tokens", nan = nan, m = -inf, z = -0.0, one = 1.0} : i32[0] @tokens+4
  %p = input {name = "pos"} : i32[s0] @pos+0
  %r = silu %w : ? @arena+128
}
