/* kern.h: what the kernel emitters share (codegen/kernels.c and codegen/kern_*.c only).
 *
 * cg_kernel (kernels.c) looks a node's op up in one table of emitters and keys; each idea
 * has its file: the skeleton every kernel is built on and the small helpers (kernels.c),
 * elementwise ops, norms and RoPE (kern_ew.c), the matmul family (kern_matmul.c), attention
 * (kern_attn.c), and the routing and row plumbing (kern_route.c).  Adding an op is its row
 * in ir/ops.h, its shape and interpreter rules, and one entry in kernels.c's table with its
 * emitter.
 *
 * A kernel has codegen.h's uniform signature
 *   void k(ptr exec, ptr out, i64 rows_out, ptr a, i64 ra, ptr b, i64 rb, ... (CG_KOPS operands))
 * with every inner dimension baked in as a constant and the row counts taken at run time.
 */
#ifndef MODC_KERN_H
#define MODC_KERN_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit.h"
#include "../passes/kkey.h"
#include "../passes/schedule.h"

/* Items few and large (attention's (query block, head) pairs) are spread as ITEM_SPAN
 * indices each, item i taken by the task whose range holds i * ITEM_SPAN: the runtime hands
 * out whole grains of 16 indices, so every item can go to a thread of its own. */
#define ITEM_SPAN 16

/* The kernel's parameters: exec, the result, and the operands with their row counts. */
typedef struct KArgs {
  LLVMValueRef exec, out, rows;
  LLVMValueRef p[CG_KOPS], r[CG_KOPS];
} KArgs;

/* The node a kernel is built for. */
typedef struct Kern {
  CgCtx *c;
  const Graph *g;
  const Node *n;
  const Type *out;
  const Type *in[IR_MAXIN];
  char name[256];
} Kern;

typedef void (*Body)(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *ctx);

static inline LLVMValueRef gep_f32(Em *e, LLVMValueRef p, LLVMValueRef i) { return em_gep(e, e->c->t_f32, p, i); }
static inline LLVMValueRef gep_i32(Em *e, LLVMValueRef p, LLVMValueRef i) { return em_gep(e, e->c->t_i32, p, i); }

/* rmsnorm's one-row arithmetic, shared by the rmsnorm kernel and matmul_norm_gather's packing
 * (so the fused and unfused forms give the same bits) */
typedef struct Norm {
  int64_t d;
  double eps;
  int vw;                   /* the record's vector width: the sum's order follows it */
  LLVMValueRef out, x, w, inv;
} Norm;

/* ---- kernels.c: the skeleton and small helpers ---- */
void kdie(const Kern *k, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
const Sched *ksched(const Kern *k);                  /* the node's record, of its op's kind */
void record_suffix(const Sched *r, char *buf, size_t n);
int64_t cdim(const Kern *k, const Type *t, int i);   /* a constant dim (1 past the rank) */
int64_t ccols(const Kern *k, const Type *t);         /* product of the dims after the first */
LLVMTypeRef elem_type(CgCtx *c, DType dt);
void kbegin(Em *e, const Kern *k, KArgs *a);
LLVMValueRef kend(Em *e);
void par_for(Em *e, const Kern *k, const KArgs *a, LLVMValueRef n, LLVMValueRef work, Body body,
             const void *ctx);
void span_items(Em *e, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef *ilo, LLVMValueRef *ihi);
LLVMValueRef clamp_row(Em *e, LLVMValueRef i, LLVMValueRef n);
void copy_unless_inplace(Em *e, LLVMValueRef out, LLVMValueRef h, LLVMValueRef bytes);
LLVMValueRef silu(Em *e, LLVMValueRef x);
LLVMValueRef sigmoid(Em *e, LLVMValueRef x);
LLVMValueRef vdot(Em *e, LLVMValueRef pa, LLVMValueRef pb, int64_t n, int w);

/* ---- the emitters ---- */
void norm_row(Em *e, Norm n, LLVMValueRef x, LLVMValueRef w, LLVMValueRef out); /* kern_ew.c */
double norm_eps(const Kern *k);
LLVMValueRef k_elementwise(Kern *k);
LLVMValueRef k_rmsnorm(Kern *k);
LLVMValueRef k_rope(Kern *k);
LLVMValueRef k_matmul(Kern *k);                                                  /* kern_matmul.c */
LLVMValueRef k_attention(Kern *k);                                               /* kern_attn.c */
LLVMValueRef layer_ptr(Em *e, LLVMValueRef exec, int field, int64_t layer, LLVMTypeRef ty);
LLVMValueRef k_take_last(Kern *k);                                               /* kern_route.c */
LLVMValueRef k_gather(Kern *k);
LLVMValueRef k_topk(Kern *k);
LLVMValueRef k_select(Kern *k);
LLVMValueRef k_scatter_gate(Kern *k);

#endif
