/* sched.h: schedule records, the typed performance choices of one kernel node (DESIGN 8).
 *
 * The scheduling pass (passes/schedule.c) attaches one record to every node that becomes a
 * parallel kernel; codegen reads nothing else to decide a tile, a block or a work split, and
 * a tuning file (a later `modc tune`) replaces records, not code.  Records are part of the
 * IR text, after the type and storage:
 *
 *   %7 = matmul %5, %6 : f32[512,768] @arena+0 #matmul{vw = 16, regs = 32, nr = 32, mr = 12, ...}
 *
 * Every field is an integer; each kind has its own fields, all of which must be present.
 * The table below is the one place that lists them: the printer, the parser and the
 * verifier walk it, so a field added here is printed, parsed and checked everywhere.
 *
 *   kind    field    meaning
 *   matmul  vw       f32 lanes per vector (the target's)
 *           regs     vector registers the register tile must fit (the target's)
 *           nr       panel width of the weights (= the weight node's nr: packing follows it)
 *           mr       rows of the register tile on the many-row path
 *           mr_tail  rows of the tile for the rows left over (< mr), then one at a time
 *           ku       one-row path (decode): accumulator groups over k of a panel (1,2,4,8)
 *           mc       rows per work item of the many-row path (a multiple of mr: its x rows
 *                    stay in L2 while panels stream past)
 *           items    many-row path: at least this many work items where the rows allow (row
 *                    tiles shrink below mc), so that many cores stay busy on few rows; 0: none
 *           pf       1: prefetch the next panel into L2 while a tile reuses this one
 *           amx      calls of at least this many rows run on AMX tiles (bf16 weights, nr 32,
 *                    K a multiple of 32: rows rounded to bf16 as they are packed); 0: never
 *           par_min  work (multiply-adds) below which the call runs on the calling thread
 *   attn    vw       f32 lanes per vector of a head (>= the target's when hd is long)
 *           regs     vector registers (the target's)
 *           mr       query rows per register block of the blocked form (prefill)
 *           kb       keys per block of the blocked form (2 vectors)
 *           cv       output vectors per P.V pass (mr x cv accumulators)
 *           qb       query rows per work item (a multiple of mr)
 *           dq       rows per group of the one-row form (decode, fewer rows than mr)
 *           dkb      keys per block of the one-row form
 *           par_min  work below which the call runs on the calling thread
 *   ew      vw       f32 lanes per vector
 *           par_min  work (bytes or elements) below which the call runs on one thread
 */
#ifndef MODC_SCHED_H
#define MODC_SCHED_H

#include <stdint.h>
#include <stdio.h>
#include "ops.h"

/* Stack bytes a matmul_norm_gather task's packed A rows may take (mc x K floats). */
#define SCHED_PACK_BYTES (128 * 1024)
/* Values a kernel's loop may carry (codegen/emit.h EM_MAXCARRY): accumulators and state. */
#define SCHED_MAX_CARRY 40
/* An AMX tile set: 32 rows (two A tiles of 16) x 32 columns (two B tiles), k in steps of 32. */
#define SCHED_AMX_ROWS 32
#define SCHED_AMX_K 32
/* Bound on an attention item's output accumulators, qb x (head rounded up to vw) floats. */
#define SCHED_ATTN_ACC_ELEMS 8192

#define SCHED_KINDS(X) \
  X(SK_NONE, "")          \
  X(SK_MATMUL, "matmul")  \
  X(SK_ATTN, "attn")      \
  X(SK_EW, "ew")

typedef enum {
#define X(e, s) e,
  SCHED_KINDS(X)
#undef X
  SK_COUNT
} SchedKind;

/* X(kind, field): the fields of each kind, in print order. */
#define SCHED_FIELDS(X) \
  X(SK_MATMUL, vw) X(SK_MATMUL, regs) X(SK_MATMUL, nr) X(SK_MATMUL, mr) X(SK_MATMUL, mr_tail) \
  X(SK_MATMUL, ku) X(SK_MATMUL, mc) X(SK_MATMUL, items) X(SK_MATMUL, pf) X(SK_MATMUL, amx) \
  X(SK_MATMUL, par_min) \
  X(SK_ATTN, vw) X(SK_ATTN, regs) X(SK_ATTN, mr) X(SK_ATTN, kb) X(SK_ATTN, cv) X(SK_ATTN, qb) \
  X(SK_ATTN, dq) X(SK_ATTN, dkb) X(SK_ATTN, par_min) \
  X(SK_EW, vw) X(SK_EW, par_min)

typedef struct Sched {
  SchedKind kind;           /* SK_NONE: no record */
  int64_t vw, regs, nr, mr, mr_tail, ku, mc, items, pf, amx, par_min;
  int64_t kb, cv, qb, dq, dkb;
} Sched;

extern const char *const sched_kind_names[SK_COUNT];

/* " #kind{f = v, ...}" (nothing for SK_NONE), the form the parser reads. */
void sched_print(const Sched *s, FILE *out);
/* The same text into buf (for kernel keys); returns its length (truncated to n - 1). */
int sched_format(const Sched *s, char *buf, size_t n);
/* Vector registers a matmul register tile of mr rows x np streams x nv vectors needs: its
 * accumulators, plus either every weight vector of a k step and one broadcast, or every
 * row's broadcast and one weight vector at a time (whichever is fewer: the FMAs can be
 * ordered either way).  AVX-512 (vw 16) broadcasts from memory as an FMA operand, so it
 * needs no broadcast register. */
static inline int64_t sched_mm_regs(int64_t mr, int64_t np, int64_t nv, int64_t vw) {
  int64_t b = vw < 16, w = np * nv + b, r = mr * b + 1;
  return mr * np * nv + (w < r ? w : r);
}

/* AMX tiles read bf16 pair rows of 32-wide panels with 16-lane vectors, K in steps of 32
 * (kern_amx.c); their 32 packed rows of K bf16 sit in the stack buffer.  The shape alone: the
 * target must also have amx-bf16. */
static inline int sched_amx_layout(int64_t K, int bf16, int64_t nr, int64_t vw) {
  return bf16 && nr == 32 && vw == 16 && K > 0 && K % SCHED_AMX_K == 0;
}
static inline int sched_amx_pack_fits(int64_t K) { return SCHED_AMX_ROWS * K * 2 <= SCHED_PACK_BYTES; }

/* The record kind op's kernel takes (SK_NONE: no parallel kernel, no record). */
SchedKind sched_kind_for(Op op);
/* Attention's one-row form (decode) widens the record's vectors until a head is at most 16. */
int sched_attn_decode_vw(int64_t hd, int vw);
/* kind by name; -1 if unknown */
int sched_kind_parse(const char *name);
/* Field `name` of kind k: its address in s, or NULL if kind k has no such field. */
int64_t *sched_field(Sched *s, SchedKind k, const char *name);
/* The first field of kind k not in `set` (bit i = i-th field of the kind), or NULL. */
const char *sched_missing(SchedKind k, uint32_t set);
/* index of field name among kind k's fields, or -1 */
int sched_field_index(SchedKind k, const char *name);

#endif
