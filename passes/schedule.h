/* schedule.h: the schedule record of a matmul kernel (DESIGN section 8), in one place.
 *
 * The weight packer (passes/weights.c) and codegen (codegen/kernels.c) both ask here, so the
 * panel width a weight is packed with and the width the kernel reads always agree: the
 * packer records it on the weight node (attrs layout = "panel", nr = NR) and codegen reads
 * it back from there.  Everything is a deterministic function of the shape, the weights
 * dtype and the target's vector width; nothing else in the compiler picks these numbers.
 *
 * Panel layout of a weight W[N,K] (PyTorch Linear, y = x W^T) with panel width NR:
 *   panel p = columns [p*NR, p*NR + NR) of the output, stored [K][NR] contiguous;
 *   element W[n][k] at  ((n / NR) * K + k) * NR + n % NR;  columns past N are zero.
 * The kernel's k step loads NR/vw vectors of one panel row, in exactly this order.
 * bf16 panels pair their columns inside each panel row: column j < NR/2 at position 2j,
 * column NR/2 + j at 2j + 1, so the row read as NR/2 32-bit words widens in two instructions
 * (word << 16: the first half of the columns; word & 0xffff0000: the second half) instead
 * of a zero-extension and a shift per vector.
 */
#ifndef MODC_SCHEDULE_H
#define MODC_SCHEDULE_H

#include <stdint.h>
#include "../ir/ir.h"

/* Panel width for W[N,K].  The packer does not know the target (the weights file depends on
 * the spec alone), so NR is a multiple of every vector width we emit (4, 8, 16): 32 columns,
 * or 16 for matrices at most 16 wide (routers, predictor heads), to pad less. */
int sched_panel_nr(int64_t N, int64_t K, DType dt);

/* Index of W[n][k] in the panel layout (elements). */
static inline int64_t sched_panel_index(int64_t n, int64_t k, int64_t K, int nr, DType dt) {
  int64_t j = n % nr;
  if (dt == DT_BF16) j = j < nr / 2 ? 2 * j : 2 * (j - nr / 2) + 1;
  return ((n / nr) * K + k) * nr + j;
}
/* Elements of the packed matrix (panels padded to NR columns). */
static inline int64_t sched_panel_elems(int64_t N, int64_t K, int nr) {
  return (N + nr - 1) / nr * nr * K;
}

/* What the epilogue does with the tile: store; + residual; silu(gate) * up; + residual
 * rows read through an index (matmul_add_gather); + residual then the scaled scatter into
 * h's rows through the index (matmul_scatter_gate). */
typedef enum { SCHED_MM, SCHED_MM_ADD, SCHED_MM_SILU_MUL, SCHED_MM_ADD_GATHER, SCHED_MM_SCATTER } SchedEpilogue;

/* Where the A rows come from: read in place, or gathered through an index and RMS-normalised
 * into a packed buffer on the task's stack (matmul_norm_gather), mc rows at a time. */
typedef enum { SCHED_A_ROWS, SCHED_A_NORM_GATHER } SchedA;

/* Stack bytes a packed A buffer may take; fuse-routing packs only rows that fit a whole
 * register tile in it (sched_pack_fits). */
#define SCHED_PACK_BYTES (128 * 1024)
int sched_pack_fits(int64_t K);

/* One matmul kernel's schedule. */
typedef struct MMSched {
  int vw;                   /* vector width, floats */
  int nr;                   /* panel width (from the weight node) */
  int nv;                   /* vectors per panel row: nr / vw */
  int mr;                   /* rows of the register tile, many-row path */
  int mr_tail;              /* rows of the tile for the last rows < mr (then 1 at a time) */
  int np;                   /* panels per register tile, many-row path (2 for silu_mul: gate, up) */
  int gemv_ku;              /* one-row path (decode): accumulator groups over k of a panel */
  int64_t mc;               /* rows per work item (a multiple of mr): its x rows stay in L2
                               (packed A: mc x K floats fit SCHED_PACK_BYTES) */
  int64_t kc;               /* K chunk (K: one pass; the k order of every output is fixed anyway) */
  int64_t panels;           /* ceil(N / nr) */
} MMSched;

/* M: the row count when known at compile time, else -1 (session graphs). */
MMSched sched_matmul(int64_t M, int64_t N, int64_t K, DType dt, int vw, int nr, SchedEpilogue ep, SchedA a);

#endif
