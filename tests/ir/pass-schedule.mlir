// pass-schedule.mlir: the schedule pass gives every kernel node its record (ir/sched.h) from
// the target description: AVX-512 (32 zmm: a 12x32 tile over 32-wide panels, 6x32x2 for
// silu_mul), AVX2 (16 ymm: the 6x16 tile over the 16-wide panels its packer writes, and
// 6x8x2 over the 8-wide gate and up panels it writes for silu_mul, one register left spare), a 16-core AVX-512 target (work cut into >= 8
// items per core, attention spread from less work), a 2-core Zen 3 (one-row work split from
// less), and the portable default of modc-opt without --cpu.  Rows per item (mc) follow the L2 size: half
// of it holds an item's x rows.  A record already in the text is kept; records print and
// parse back unchanged.
// RUN: modc-opt %s --pass schedule | FileCheck %s --check-prefix=DEFAULT
// RUN: modc-opt %s --pass schedule --target x86_64-linux-gnu --cpu skylake-avx512 | FileCheck %s --check-prefix=AVX512
// RUN: modc-opt %s --pass schedule --target x86_64-linux-gnu --cpu haswell | FileCheck %s --check-prefix=AVX2
// RUN: modc-opt %s --pass schedule --target x86_64-linux-gnu --cpu sapphirerapids --cores 16 | FileCheck %s --check-prefix=MANY
// RUN: modc-opt %s --pass schedule --target aarch64-linux-gnu --cpu neoverse-v1 | FileCheck %s --check-prefix=NEON
// RUN: modc-opt %s --pass schedule --target x86_64-linux-gnu --cpu znver3 --cores 2 | FileCheck %s --check-prefix=FEW
// RUN: modc-opt %s --pass schedule --target x86_64-linux-gnu --cpu haswell > %t.mir
// RUN: modc-opt %t.mir > %t.again.mir
// RUN: diff %t.mir %t.again.mir
// RUN: modc-opt %t.mir --pass schedule --target x86_64-linux-gnu --cpu skylake-avx512 | diff %t.mir -

// DEFAULT-LABEL: graph @avx512_packed
// DEFAULT: rmsnorm {{.*}} #ew{vw = 16, par_min = 131072}
// DEFAULT: matmul %8, %3 : f32[64,768] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0, pf = 1, amx = 0, par_min = 131072}
// DEFAULT: matmul_silu_mul {{.*}} #matmul{vw = 16, regs = 32, nr = 32, mr = 6, mr_tail = 2, ku = 4, mc = 144, items = 0,
// DEFAULT: attention {{.*}} #attn{vw = 16, regs = 32, mr = 8, kb = 32, cv = 3, qb = 64, dq = 4, dkb = 16, par_min = 131072}
// DEFAULT-LABEL: graph @kept
// DEFAULT: matmul %2, %1 : f32[4,64] #matmul{vw = 8, regs = 16, nr = 32, mr = 2, mr_tail = 1, ku = 1, mc = 4, items = 0, pf = 0, amx = 0, par_min = 0}

// AVX512-LABEL: graph @avx512_packed
// AVX512: matmul %8, %3 : f32[64,768] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0,
// AVX512: matmul_silu_mul {{.*}} #matmul{vw = 16, regs = 32, nr = 32, mr = 6, mr_tail = 2, ku = 4, mc = 144, items = 0,

// AVX2-LABEL: graph @avx2_packed
// AVX2: embed {{.*}} #ew{vw = 8, par_min = 131072}
// AVX2: matmul %8, %3 : f32[64,768] #matmul{vw = 8, regs = 16, nr = 16, mr = 6, mr_tail = 2, ku = 4, mc = 42, items = 0,
// AVX2: matmul_silu_mul {{.*}} #matmul{vw = 8, regs = 16, nr = 8, mr = 6, mr_tail = 2, ku = 4, mc = 42, items = 0,
// AVX2: attention {{.*}} #attn{vw = 8, regs = 16, mr = 4, kb = 16, cv = 3, qb = 64, dq = 2, dkb = 4,

// Two cores: one-row matmuls and decode attention split from 32K multiply-adds, not 128K;
// elementwise kernels keep 128K.
// FEW-LABEL: graph @avx2_packed
// FEW: embed {{.*}} #ew{vw = 8, par_min = 131072}
// FEW: matmul %8, %3 : f32[64,768] #matmul{vw = 8, regs = 16, nr = 16, {{.*}} par_min = 32768}
// FEW: attention {{.*}} #attn{vw = 8, {{.*}} par_min = 32768}

// MANY-LABEL: graph @avx512_packed
// MANY: matmul %8, %3 : f32[64,768] #matmul{vw = 16, regs = 32, nr = 32, mr = 12, mr_tail = 4, ku = 8, mc = 288, items = 128,
// MANY: matmul_silu_mul {{.*}} #matmul{vw = 16, regs = 32, nr = 32, mr = 6, mr_tail = 2, ku = 4, mc = 144, items = 128,
// MANY: attention {{.*}} #attn{vw = 16, regs = 32, mr = 8, kb = 32, cv = 3, qb = 64, dq = 4, dkb = 16, par_min = 16384}

// bf16 weights whose K is a multiple of 32: AMX tiles from 32 rows where the target has
// amx-bf16 (sapphirerapids), never elsewhere.
// MANY-LABEL: graph @amx_bf16
// MANY: matmul %4, %2 : f32[64,768] #matmul{vw = 16, regs = 32, nr = 32, {{.*}} pf = 1, amx = 32, par_min = 131072}
// MANY: matmul %4, %3 : f32[64,48] #matmul{vw = 16, regs = 32, nr = 16, {{.*}} pf = 1, amx = 0, par_min = 131072}
// AVX512-LABEL: graph @amx_bf16
// AVX512: matmul %4, %2 : f32[64,768] #matmul{vw = 16, regs = 32, nr = 32, {{.*}} pf = 1, amx = 0, par_min = 131072}

// NEON-LABEL: graph @neon_packed
// NEON: matmul %6, %3 : f32[64,768] #matmul{vw = 4, regs = 32, nr = 8, mr = 12, mr_tail = 4, ku = 8, mc = 168, items = 0,
// NEON: attention {{.*}} #attn{vw = 4, regs = 32, mr = 4, kb = 8, cv = 6, qb = 64, dq = 1, dkb = 2,

graph @avx512_packed mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[64]
  %1 = input {name = "pos"} : i32[64]
  %2 = weight {name = "e", offset = 0} : f32[256,768]
  %3 = weight {name = "wq", offset = 0, layout = "panel", nr = 32} : f32[768,768]
  %4 = weight {name = "n", offset = 0} : f32[768]
  %5 = weight {name = "gate", offset = 0, layout = "panel", nr = 32} : f32[2048,768]
  %6 = weight {name = "up", offset = 0, layout = "panel", nr = 32} : f32[2048,768]
  %7 = embed %0, %2 : f32[64,768]
  %8 = rmsnorm %7, %4 {eps = 1e-05} : f32[64,768]
  %9 = matmul %8, %3 : f32[64,768]
  %10 = matmul_silu_mul %8, %5, %6 : f32[64,2048]
  %11 = attention %9, %9, %9, %1 {heads = 12, kv_heads = 12} : f32[64,768]
  %12 = output %11 {name = "logits"} : f32[64,768]
}

// -----

graph @avx2_packed mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[64]
  %1 = input {name = "pos"} : i32[64]
  %2 = weight {name = "e", offset = 0} : f32[256,768]
  %3 = weight {name = "wq", offset = 0, layout = "panel", nr = 16} : f32[768,768]
  %4 = weight {name = "n", offset = 0} : f32[768]
  %5 = weight {name = "gate", offset = 0, layout = "panel", nr = 8} : f32[2048,768]
  %6 = weight {name = "up", offset = 0, layout = "panel", nr = 8} : f32[2048,768]
  %7 = embed %0, %2 : f32[64,768]
  %8 = rmsnorm %7, %4 {eps = 1e-05} : f32[64,768]
  %9 = matmul %8, %3 : f32[64,768]
  %10 = matmul_silu_mul %8, %5, %6 : f32[64,2048]
  %11 = attention %9, %9, %9, %1 {heads = 12, kv_heads = 12} : f32[64,768]
  %12 = output %11 {name = "logits"} : f32[64,768]
}

// -----

graph @amx_bf16 mode = forward syms = [] arena = 0 {
  %0 = weight {name = "x", offset = 0} : f32[64,768]
  %1 = weight {name = "n", offset = 0} : f32[768]
  %2 = weight {name = "wq", offset = 0, layout = "panel", nr = 32} : bf16[768,768]
  %3 = weight {name = "wr", offset = 0, layout = "panel", nr = 16} : bf16[48,768]
  %4 = rmsnorm %0, %1 {eps = 1e-05} : f32[64,768]
  %5 = matmul %4, %2 : f32[64,768]
  %6 = matmul %4, %3 : f32[64,48]
  %7 = output %5 {name = "logits"} : f32[64,768]
}

// -----

graph @neon_packed mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[64]
  %1 = input {name = "pos"} : i32[64]
  %2 = weight {name = "e", offset = 0} : f32[256,768]
  %3 = weight {name = "wq", offset = 0, layout = "panel", nr = 8} : f32[768,768]
  %4 = weight {name = "n", offset = 0} : f32[768]
  %7 = embed %0, %2 : f32[64,768]
  %8 = rmsnorm %7, %4 {eps = 1e-05} : f32[64,768]
  %9 = matmul %8, %3 : f32[64,768]
  %11 = attention %9, %9, %9, %1 {heads = 12, kv_heads = 12} : f32[64,768]
  %12 = output %11 {name = "logits"} : f32[64,768]
}

// -----

// A record given in the text is the schedule: the pass keeps it.
graph @kept mode = forward syms = [] arena = 0 {
  %0 = input {name = "tokens"} : i32[4]
  %1 = weight {name = "w", offset = 0, layout = "panel", nr = 32} : f32[64,64]
  %2 = weight {name = "x", offset = 0} : f32[4,64]
  %3 = matmul %2, %1 : f32[4,64] #matmul{vw = 8, regs = 16, nr = 32, mr = 2, mr_tail = 1, ku = 1, mc = 4, items = 0, pf = 0, amx = 0, par_min = 0}
  %4 = output %3 {name = "logits"} : f32[4,64]
}
