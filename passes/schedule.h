/* schedule.h: the schedule heuristics and the `schedule` pass (DESIGN section 8).
 *
 * The pass gives every kernel node its schedule record (ir/sched.h), chosen from the target
 * description (passes/target.h) by the deterministic heuristics of schedule.c; codegen reads
 * the records and nothing else.  The weight packer asks sched_panel_nr for the same target,
 * so a weight's panel width (its node's attr nr) and its matmuls' records always agree; the
 * verifier checks that they do.
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
#include "target.h"

/* Panel width for W[N,K] on target t (NULL: target_default): two vectors of columns (AVX-512
 * 32, AVX2 16, SSE and NEON 8), one vector for matrices at most that wide (routers,
 * predictor heads), to pad less. */
int sched_panel_nr(int64_t N, int64_t K, DType dt, const TargetDesc *t);

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

SchedEpilogue sched_epilogue(Op op);

/* fuse-routing packs only rows whose register tiles fit the stack buffer (SCHED_PACK_BYTES,
 * ir/sched.h) on any target: at most 12 rows of K floats. */
int sched_pack_fits(int64_t K);

/* A matmul record, expanded with what follows from it and the shape (codegen's view). */
typedef struct MMSched {
  int vw, nr, nv;           /* vector width; panel width; vectors per panel row nr / vw */
  int mr, mr_tail;          /* register tile rows; rows of the tail tile */
  int np;                   /* weight streams per tile: 2 for silu_mul (gate, up), else 1 */
  int gemv_ku;              /* one-row path: accumulator groups over k */
  int pf;                   /* prefetch the next panel */
  int64_t mc;               /* rows per work item of the many-row path (at most) */
  int64_t items;            /* at least this many items where the rows allow; 0: none */
  int64_t panels;           /* ceil(N / nr) */
} MMSched;
MMSched sched_mm_expand(const Sched *r, int64_t N, SchedEpilogue ep);

/* The heuristics: one record per kernel kind. */
Sched sched_matmul(int64_t N, int64_t K, SchedEpilogue ep, SchedA a, int nr, const TargetDesc *t);
Sched sched_attention(int64_t hd, const TargetDesc *t);
Sched sched_elementwise(const TargetDesc *t);

/* The pass.  require: typed, lowered, weights of matmuls panel-packed (layout, nr).
 * provide: a record on every kernel node (ir/sched.h: sched_kind_for); records already
 * present (from IR text) are kept, so a schedule can be given by hand; then every node whose
 * kernel key has a record in tu (NULL: none) takes that record, counted in tu->hits. */
struct Tuning;
int pass_schedule(Graph *g, const TargetDesc *t, const struct Tuning *tu, char *err, size_t errlen);

#endif
