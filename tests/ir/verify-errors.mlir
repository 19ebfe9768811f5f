// verify-errors.mlir: the verifier's diagnostics on graphs that parse but break the IR's
// rules, one case per piece; each names the node as "%IDX (op)".
// RUN: not modc-opt %s 2>&1 >/dev/null | FileCheck %s --implicit-check-not=error:
// --no-verify skips the verifier: every piece then prints.
// RUN: modc-opt %s --no-verify | FileCheck %s --check-prefix=NOVERIFY
// NOVERIFY-COUNT-36: // -----
// NOVERIFY-NEXT: graph @sched_attn

// CHECK: error: in graph @missing_eps: verify: %2 (rmsnorm): missing attribute 'eps'
graph @missing_eps mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : ?
  %1 = weight {name = "w", offset = 0} : f32[64]
  %2 = rmsnorm %0, %1 : ?
}

// -----

// CHECK: error: in graph @select_threshold: verify: %2 (select): attribute 'threshold' must be a finite number
graph @select_threshold mode = session syms = [s0 <= 8, s1 <= 8] arena = 0 {
  %0 = input {name = "pos"} : i32[s0]
  %1 = weight {name = "w", offset = 0} : f32[8,1]
  %2 = select %1, %0 {layer = 1, sym = 1, threshold = "high"} : i32[s1]
}

// -----

// CHECK: error: in graph @missing_offset: verify: %0 (weight): missing attribute 'offset'
graph @missing_offset mode = forward syms = [] arena = 0 {
  %0 = weight {name = "w"} : f32[64]
}

// -----

// CHECK: error: in graph @missing_kv_heads: verify: %1 (attention): missing attribute 'kv_heads'
graph @missing_kv_heads mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = attention %0, %0, %0, %0 {heads = 4} : ?
}

// -----

// CHECK: error: in graph @name_kind: verify: %1 (output): attribute 'name' must be a string
graph @name_kind mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = output %0 {name = 3} : ?
}

// -----

// CHECK: error: in graph @input_name: verify: %0 (input): name must be "tokens" or "pos", not "ids"
graph @input_name mode = forward syms = [] arena = 0 {
  %0 = input {name = "ids"} : i32[16]
}

// -----

// CHECK: error: in graph @block_operands: verify: %1 (mod.block): takes 3, 4, 7 or 8 operands (h, pos, w_router [, b_router] [, predictor fc1_w, fc1_b, fc2_w, fc2_b]), has 5
graph @block_operands mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = yield %2 : ?
  }
}

// -----

// CHECK: error: in graph @block_k_and_sym: verify: %1 (mod.block): has both 'k' (top-k routing) and 'sym' (causal routing)
graph @block_k_and_sym mode = forward syms = [s0 <= 4] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, k = 2, sym = 0, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = yield %2 : ?
  }
}

// -----

// CHECK: error: in graph @block_no_capacity: verify: %1 (mod.block): missing attribute 'capacity'
graph @block_no_capacity mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = yield %2 : ?
  }
}

// -----

// CHECK: error: in graph @region_start: verify: %1 (mod.block): region must start with block.arg
graph @region_start mode = forward syms = [] arena = 0 {
  %0 = weight {name = "w", offset = 0} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = silu %0 : ?
    %3 = yield %2 : ?
  }
}

// -----

// CHECK: error: in graph @region_end: verify: %1 (mod.block): region must end with yield
graph @region_end mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = silu %2 : ?
  }
}

// -----

// CHECK: error: in graph @empty_region: verify: %1 (mod.block): region (1, 2) is empty or out of range
graph @empty_region mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
  }
}

// -----

// CHECK: error: in graph @two_yields: verify: %3 (yield): yield must be the last node of its region
graph @two_yields mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = yield %2 : ?
    %4 = yield %2 : ?
  }
}

// -----

// CHECK: error: in graph @stray_yield: verify: %1 (yield): yield outside a mod.block region
graph @stray_yield mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = yield %0 : ?
}

// -----

// CHECK: error: in graph @late_arg: verify: %4 (block.arg): block.arg after the region's other nodes
graph @late_arg mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = silu %2 : ?
    %4 = block.arg {index = 1} : ?
    %5 = yield %3 : ?
  }
}

// -----

// CHECK: error: in graph @nested: verify: %3 (mod.block): regions do not nest: mod.block inside the region of %1
graph @nested mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = mod.block %2, %2, %2 {layer = 2, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
      %4 = block.arg {index = 0} : ?
      %5 = yield %4 : ?
    }
    %6 = yield %3 : ?
  }
}

// -----

// A region sees its own values and top-level weights; the residual stream %0 is not one.
// CHECK: error: in graph @captures: verify: %4 (add): operand 1 (%0) is outside the region of %2 (a region uses its own values and top-level weights only)
graph @captures mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = weight {name = "w", offset = 0} : ?
  %2 = mod.block %0, %0, %1 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %3 = block.arg {index = 0} : ?
    %4 = add %3, %0 : ?
    %5 = yield %4 : ?
  }
}

// -----

// CHECK: error: in graph @escapes: verify: %5 (silu): operand 0 (%3) is inside the region of %1
graph @escapes mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = silu %2 : ?
    %4 = yield %3 : ?
  }
  %5 = silu %3 : ?
}

// -----

// CHECK: error: in graph @input_in_region: verify: %3 (input): only at top level, not in the region of %1
graph @input_in_region mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : ?
  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = "raw", predictor = "router"} : ? {
    %2 = block.arg {index = 0} : ?
    %3 = input {name = "tokens"} : ?
    %4 = yield %2 : ?
  }
}

// -----

// A declared type that inference disagrees with.
// CHECK: error: in graph @wrong_type: verify: %4 (matmul): type is f32[16,32] but its operands give f32[16,64]
graph @wrong_type mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
  %1 = weight {name = "e", offset = 0} : f32[256,64]
  %2 = weight {name = "w", offset = 0} : f32[64,64]
  %3 = embed %0, %1 : f32[16,64]
  %4 = matmul %3, %2 : f32[16,32]
}

// -----

// Operands that no type rule accepts (the rule's own words follow the node's name).
// CHECK: error: in graph @bad_operands: verify: %4 (matmul): {{.+}}
graph @bad_operands mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
  %1 = weight {name = "e", offset = 0} : f32[256,64]
  %2 = weight {name = "w", offset = 0} : f32[64,32]
  %3 = embed %0, %1 : f32[16,64]
  %4 = matmul %3, %2 : f32[16,64]
}

// -----

// The routed rows of a forward block are its k (here 2), so a block.arg of 3 rows is wrong.
// CHECK: error: in graph @arg_rows: verify: %5 (block.arg): type is f32[3,64] but its operands give f32[2,64]
graph @arg_rows mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
  %1 = input {name = "pos"} : i32[16]
  %2 = weight {name = "e", offset = 0} : f32[256,64]
  %3 = embed %0, %2 : f32[16,64]
  %4 = mod.block %3, %1, %2 {layer = 1, capacity = 0.125, k = 2, gate = "raw", predictor = "router"} : ? {
    %5 = block.arg {index = 0} : f32[3,64]
    %6 = yield %5 : ?
  }
}

// -----

// A panel-packed weight (the matmul kernels' layout) names a known layout and its width.
// CHECK: error: in graph @bad_layout: verify: %1 (weight): layout must be "panel"
graph @bad_layout mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
  %1 = weight {name = "w", offset = 0, layout = "rows", nr = 32} : f32[64,32]
}

// -----

// CHECK: error: in graph @bad_nr: verify: %1 (weight): a panel layout needs nr, a positive multiple of 4 up to 256
graph @bad_nr mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 6} : f32[64,32]
}

// -----

// CHECK: error: in graph @panel_vector: verify: %1 (weight): only a matrix is panel-packed
graph @panel_vector mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[16]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 16} : f32[64]
}

// -----

// A node that is no kernel takes no record.
// CHECK: error: in graph @sched_on_weight: verify: %0 (weight): takes no schedule record, has #ew
graph @sched_on_weight mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,8] #ew{vw = 8, par_min = 0}
}

// -----

// CHECK: error: in graph @sched_kind: verify: %2 (matmul): takes a #matmul record, not #ew
graph @sched_kind mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,64]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : f32[64,64]
  %2 = matmul %0, %1 : f32[4,64] #ew{vw = 8, par_min = 0}
}

// -----

// The record's panel width is the weight's: packing follows the record.
// CHECK: error: in graph @sched_nr: verify: %2 (matmul): #matmul record does not fit: nr = 16 but the weight operand is packed with nr = 32
graph @sched_nr mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,64]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : f32[64,64]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 8, regs = 16, nr = 16, mr = 6, mr_tail = 2, ku = 4, mc = 42, items = 0, pf = 1, amx = 0, par_min = 0}
}

// -----

// A 4x32 tile of ymm vectors needs 16 accumulators and 4 weight vectors and a broadcast
// (or 4 broadcasts and a weight vector).
// CHECK: error: in graph @sched_regs: verify: %2 (matmul): #matmul record does not fit: register tile 4x32 needs 21 vector registers, regs = 16
graph @sched_regs mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,64]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : f32[64,64]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 8, regs = 16, nr = 32, mr = 4, mr_tail = 1, ku = 2, mc = 40, items = 0, pf = 1, amx = 0, par_min = 0}
}

// -----

// A tile wider than the panel: the panel is not a whole number of vectors.
// CHECK: error: in graph @sched_wide: verify: %2 (matmul): #matmul record does not fit: nr must be a multiple of vw, at most 16 vectors
graph @sched_wide mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,64]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 8} : f32[64,64]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 16, regs = 32, nr = 8, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0, pf = 1, amx = 0, par_min = 0}
}

// -----

// CHECK: error: in graph @sched_mc: verify: %2 (matmul): #matmul record does not fit: mc must be a positive multiple of mr
graph @sched_mc mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,64]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : f32[64,64]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 100, items = 0, pf = 1, amx = 0, par_min = 0}
}

// -----

// AMX tiles read bf16 pair rows of 32-wide panels, K in steps of 32.
// CHECK: error: in graph @sched_amx_f32: verify: %2 (matmul): #matmul record does not fit: amx needs bf16 weights packed with nr = 32, vw = 16 and K a multiple of 32
graph @sched_amx_f32 mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,64]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : f32[64,64]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0, pf = 1, amx = 32, par_min = 0}
}

// -----

// CHECK: error: in graph @sched_amx_k: verify: %2 (matmul): #matmul record does not fit: amx needs bf16 weights packed with nr = 32, vw = 16 and K a multiple of 32
graph @sched_amx_k mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,48]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : bf16[64,48]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0, pf = 1, amx = 32, par_min = 0}
}

// -----

// CHECK: error: in graph @sched_amx_one: verify: %2 (matmul): #matmul record does not fit: amx must be 0 (off) or a row count in 2..2^20
graph @sched_amx_one mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,64]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : bf16[64,64]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0, pf = 1, amx = 1, par_min = 0}
}

// -----

// AMX packs 32 rows of K bf16 on the task's stack (128 KiB): K <= 2048.
// CHECK: error: in graph @sched_amx_pack: verify: %2 (matmul): #matmul record does not fit: amx: 32 packed bf16 rows of K = 2080 exceed the 131072-byte stack buffer
graph @sched_amx_pack mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[4,2080]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : bf16[64,2080]
  %2 = matmul %0, %1 : f32[4,64] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0, pf = 1, amx = 32, par_min = 0}
}

// -----

// matmul_norm_gather packs mc rows of K floats on the task's stack (128 KiB).
// CHECK: error: in graph @sched_pack: verify: %5 (matmul_norm_gather): #matmul record does not fit: mc = 288 packed rows of K = 768 exceed the 131072-byte stack buffer
graph @sched_pack mode = forward syms = [] arena = 0 {
  %0 = input {name = "pos"} : i32[2]
  %1 = weight {name = "h", offset = 0} : f32[8,768]
  %2 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : f32[64,768]
  %3 = weight {name = "n", offset = 0} : f32[768]
  %4 = weight {name = "idx", offset = 0} : i32[2]
  %5 = matmul_norm_gather %1, %2, %4, %3 {eps = 1e-05} : f32[2,64] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 288, items = 0, pf = 1, amx = 0, par_min = 0}
}

// -----

// Attention's key block is two vectors.
// CHECK: error: in graph @sched_attn: verify: %2 (attention): #attn record does not fit: kb must be 2 vectors (2 x vw)
graph @sched_attn mode = forward syms = [] arena = 0 {
  %0 = weight {name = "q", offset = 0} : f32[8,64]
  %1 = input {name = "pos"} : i32[8]
  %2 = attention %0, %0, %0, %1 {heads = 1, kv_heads = 1} : f32[8,64] #attn{vw = 16, regs = 32, mr = 8, kb = 16, cv = 3, qb = 64, dq = 4, dkb = 16, par_min = 0}
}
