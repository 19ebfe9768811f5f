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
 * bf16 panels pair rows k and k + 1 of a panel (K rounded up to even, the last odd row's
 * partner zero): pair i = k / 2 is NR 32-bit words, word j = column j's bf16 at k = 2i in its
 * low half and at k = 2i + 1 in its high half.  Read as words, a pair row widens in one
 * instruction per row (word << 16: row 2i; word & 0xffff0000: row 2i + 1), and 16 columns x
 * 16 pairs of it are an AMX B tile as it stands (64 bytes per tile row, stride NR words).
 */
#ifndef MODC_SCHEDULE_H
#define MODC_SCHEDULE_H

#include <stdint.h>
#include "../ir/ir.h"
#include "target.h"

/* Panel width for W[N,K] on target t (NULL: target_default): two vectors of columns (AVX-512
 * 32, AVX2 16, SSE and NEON 8), one vector for matrices at most that wide (routers,
 * predictor heads), to pad less.  streams: how many weights one kernel reads side by side
 * (2 for the MLP's gate and up, fused into matmul_silu_mul; else 1); on a target of fewer
 * than 32 vector registers two streams get one vector each (schedule.c, "Register budget"). */
int sched_panel_nr(int64_t N, int64_t K, DType dt, int streams, const TargetDesc *t);
/* How many weights the kernel that reads the named one reads side by side (sched_panel_nr):
 * 2 for the MLP's gate_proj and up_proj, else 1. */
int sched_weight_streams(const char *name);

/* Rows of one panel: K, for bf16 rounded up to pair rows. */
static inline int64_t sched_panel_k(int64_t K, DType dt) { return dt == DT_BF16 ? (K + 1) / 2 * 2 : K; }
/* Index of W[n][k] in the panel layout (elements). */
static inline int64_t sched_panel_index(int64_t n, int64_t k, int64_t K, int nr, DType dt) {
  int64_t p = n / nr, j = n % nr;
  if (dt == DT_BF16) return (p * sched_panel_k(K, dt) + (k & ~(int64_t)1)) * nr + 2 * j + (k & 1);
  return (p * K + k) * nr + j;
}
/* Elements of the packed matrix (panels padded to NR columns, bf16 to pair rows). */
static inline int64_t sched_panel_elems(int64_t N, int64_t K, int nr, DType dt) {
  return (N + nr - 1) / nr * nr * sched_panel_k(K, dt);
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
  int64_t amx;              /* rows from which a call runs on AMX tiles; 0: never */
  int64_t mc;               /* rows per work item of the many-row path (at most) */
  int64_t items;            /* at least this many items where the rows allow; 0: none */
  int64_t panels;           /* ceil(N / nr) */
} MMSched;
MMSched sched_mm_expand(const Sched *r, int64_t N, SchedEpilogue ep);

/* The heuristics: one record per kernel kind. */
Sched sched_matmul(int64_t N, int64_t K, DType dt, SchedEpilogue ep, SchedA a, int nr, const TargetDesc *t);
/* Whether a matmul of W[.,K] (dt, panel width nr, vw lanes) can run on t's AMX tiles. */
int sched_amx_fits(int64_t K, DType dt, int nr, int64_t vw, const TargetDesc *t);
Sched sched_attention(int64_t hd, const TargetDesc *t);
Sched sched_elementwise(const TargetDesc *t);

/* The pass.  require: typed, lowered, weights of matmuls panel-packed (layout, nr).
 * provide: a record on every kernel node (ir/sched.h: sched_kind_for); records already
 * present (from IR text) are kept, so a schedule can be given by hand; then every node whose
 * kernel key has a record in tu (NULL: none) takes that record, counted in tu->hits. */
struct Tuning;
int pass_schedule(Graph *g, const TargetDesc *t, const struct Tuning *tu, char *err, size_t errlen);

#endif
