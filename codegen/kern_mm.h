/* kern_mm.h: what the matmul family's two files share (kern_matmul.c: the FMA register
 * tiles and the one-row path; kern_amx.c: AMX tiles).  A call is described by an MM (its
 * record expanded, shapes, epilogue, where its A rows come from); both paths cut it into the
 * same items (row tile, output panel) and end in the same epilogue per output vector. */
#ifndef MODC_KERN_MM_H
#define MODC_KERN_MM_H
#include "kern.h"

/* items are scaled by MM_UNIT in the parallel_for range, so that the runtime's grain (16)
 * never serialises a matrix of few panels */
#define MM_UNIT 16

typedef struct MM {
  MMSched s;
  int64_t N, K;
  DType dt;
  SchedEpilogue ep;
  SchedA src;
  Norm norm;                /* SCHED_A_NORM_GATHER: the rmsnorm applied while packing */
  int sig;                  /* SCHED_MM_SCATTER: the gate is sigmoid (else raw) */
} MM;

/* Where row r's results go and what its epilogue reads (element offsets and pointers). */
typedef struct MMRow {
  LLVMValueRef out;         /* row r of the result (a scatter: h's row idx[r]) */
  LLVMValueRef res;         /* the residual row, or NULL */
  LLVMValueRef h, g;        /* a scatter: h's row idx[r] and its gate g(s[idx[r]]) */
} MMRow;

/* rows of the matmul: x's, which for a scatter differ from the result's (h's) */
static inline LLVMValueRef mm_m(const MM *m, const KArgs *a) { return m->ep == SCHED_MM_SCATTER ? a->r[0] : a->rows; }
/* the row of h that routed row r stands for: idx[r], clamped into h's rows */
LLVMValueRef mm_hrow(Em *e, LLVMValueRef idx, LLVMValueRef r, LLVMValueRef hrows);
MMRow mm_row(Em *e, const MM *m, const KArgs *a, LLVMValueRef r);
/* the epilogue of one output vector y (vw lanes; up: silu_mul's) at column col of row o */
void mm_store(Em *e, const MM *m, const MMRow *o, LLVMValueRef y, LLVMValueRef up, LLVMValueRef col, LLVMValueRef mask);
/* The row tiles of a call over `rows` in blocks of mr rows, at most mc rows a tile (more
 * tiles where the record asks for items and the blocks allow); *blocks = ceil(rows / mr). */
LLVMValueRef mm_row_tiles(Em *e, const MM *m, LLVMValueRef rows, int64_t mr, int64_t mc, LLVMValueRef *blocks);
/* Item t of T row tiles over `blocks` blocks of mr rows: row tile *rt, output panel *p, rows [*r0, *r1). */
void mm_item(Em *e, const MM *m, const KArgs *a, LLVMValueRef t, LLVMValueRef T, LLVMValueRef blocks, int64_t mr,
             LLVMValueRef *rt, LLVMValueRef *p, LLVMValueRef *r0, LLVMValueRef *r1);

/* kern_amx.c: many rows on AMX tiles (the record's amx rows or more), items as mm_item's */
void mm_amx_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx);
/* the AMX tiles' row tile (rows per item, a multiple of 32, their bf16 within the stack buffer) */
int64_t mm_amx_mc(const MM *m);

#endif
