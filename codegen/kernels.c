/* kernels.c: one LLVM function per kernel, through the LLVM C API (cg.h: cg_kernel).
 *
 * A kernel has codegen.h's uniform signature
 *   void k(ptr exec, ptr out, i64 rows_out, ptr a, i64 ra, ptr b, i64 rb, ... (CG_KOPS operands))
 * with every inner dimension (d, N, K, heads, hd, vocab) baked in as a constant and the row
 * counts taken at run time, so one function serves forward graphs (constant rows) and
 * session graphs (rows from dims[]) alike.  Functions are keyed by op + inner shapes + dtypes
 * + attributes and shared through c->kernels; the key doubles as the function's name.
 *
 * Numerics (DESIGN section 4): float32 throughout, weights widened exactly from bf16, no
 * approximate math beyond llvm.exp / llvm.sqrt / llvm.cos / llvm.sin (libm) and em_vexp
 * (emit.h: inline, within 2 ulp; the softmax of attention and SiLU).  The arithmetic
 * of every output element is fixed by the node and the call's row count, never by the thread
 * count or the task that computes it (work is split over independent outputs only, and sums
 * use emit.c's fixed halving tree), so results are bit-identical for any number of threads.
 *
 * Parallel kernels outline their loop body into a task `void task(ptr args, i64 lo, i64 hi)`
 * over independent items (rows, column blocks, (row, head) pairs) and call
 * modc_rt_parallel_for with the kernel's own parameters as the args struct.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit.h"
#include "../passes/schedule.h"

/* Work (multiply-adds or elements) below which a kernel runs on the calling thread. */
#define PAR_MIN_WORK (1 << 17)
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

static void die(const Kern *k, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "modc: internal error: codegen of %s: ", k->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

/* dim i of t, which must be a constant (inner dims always are); 1 past the rank */
static int64_t cdim(const Kern *k, const Type *t, int i) {
  if (i >= t->rank) return 1;
  if (DIM_IS_SYM(t->dim[i])) die(k, "dimension %d is dynamic", i);
  return t->dim[i];
}

/* columns of a row-major value: the product of the dims after the first */
static int64_t ccols(const Kern *k, const Type *t) {
  int64_t n = 1;
  for (int i = 1; i < t->rank; i++) n *= cdim(k, t, i);
  return n;
}

static LLVMTypeRef elem_type(CgCtx *c, DType dt) {
  return dt == DT_BF16 || dt == DT_F16 ? c->t_i16 : dt == DT_I32 ? c->t_i32 : c->t_f32;
}

/* ---- kernel skeleton and the parallel task ---- */

static void kbegin(Em *e, const Kern *k, KArgs *a) {
  static const char *const names[CG_KPARAMS] = {"exec", "out", "rows", "a", "ra", "b", "rb", "c", "rc",
                                                "d", "rd", "e", "re", "f", "rf"};
  em_begin(e, k->c, k->name, k->c->t_kernel);
  for (unsigned i = 0; i < CG_KPARAMS; i++) LLVMSetValueName2(LLVMGetParam(e->fn, i), names[i], strlen(names[i]));
  a->exec = LLVMGetParam(e->fn, 0);
  a->out = LLVMGetParam(e->fn, 1);
  a->rows = LLVMGetParam(e->fn, 2);
  for (unsigned i = 0; i < CG_KOPS; i++) {
    a->p[i] = LLVMGetParam(e->fn, 3 + 2 * i);
    a->r[i] = LLVMGetParam(e->fn, 4 + 2 * i);
  }
}

static LLVMValueRef kend(Em *e) {
  LLVMBuildRetVoid(e->b);
  LLVMValueRef f = e->fn;
  em_done(e);
  return f;
}

/* The args struct of a task: the kernel's parameters, in order. */
static LLVMTypeRef args_type(CgCtx *c) {
  LLVMTypeRef f[CG_KPARAMS] = {c->t_ptr, c->t_ptr, c->t_i64};
  for (int i = 0; i < CG_KOPS; i++) f[3 + 2 * i] = c->t_ptr, f[4 + 2 * i] = c->t_i64;
  return LLVMStructTypeInContext(c->ctx, f, CG_KPARAMS, 0);
}

static void args_pack(const KArgs *a, LLVMValueRef *f) {
  f[0] = a->exec, f[1] = a->out, f[2] = a->rows;
  for (int i = 0; i < CG_KOPS; i++) f[3 + 2 * i] = a->p[i], f[4 + 2 * i] = a->r[i];
}

static void args_unpack(KArgs *a, const LLVMValueRef *f) {
  a->exec = f[0], a->out = f[1], a->rows = f[2];
  for (int i = 0; i < CG_KOPS; i++) a->p[i] = f[3 + 2 * i], a->r[i] = f[4 + 2 * i];
}

/* Run body over items [0, n): outline it as `<kernel>.task` and call modc_rt_parallel_for
 * with the exec, or with NULL (the calling thread alone) when the whole call does less than
 * PAR_MIN_WORK. */
static void par_for(Em *e, const Kern *k, const KArgs *a, LLVMValueRef n, LLVMValueRef work,
                    Body body, const void *ctx) {
  CgCtx *c = e->c;
  LLVMTypeRef at = args_type(c);
  char tname[300];
  snprintf(tname, sizeof tname, "%s.task", k->name);
  LLVMValueRef task = LLVMGetNamedFunction(c->mod, tname), f[CG_KPARAMS];
  if (!task) { /* else another kernel already built this task (shared by name) */
    Em t;
    em_begin(&t, c, tname, c->t_task);
    LLVMValueRef ap = LLVMGetParam(t.fn, 0);
    for (unsigned i = 0; i < CG_KPARAMS; i++)
      f[i] = em_load(&t, LLVMStructGetTypeAtIndex(at, i), LLVMBuildStructGEP2(t.b, at, ap, i, ""));
    KArgs ta;
    args_unpack(&ta, f);
    body(&t, &ta, LLVMGetParam(t.fn, 1), LLVMGetParam(t.fn, 2), ctx);
    LLVMBuildRetVoid(t.b);
    task = t.fn;
    em_done(&t);
  }

  LLVMValueRef slot = em_alloca(e, at, "args");
  args_pack(a, f);
  for (unsigned i = 0; i < CG_KPARAMS; i++) em_store(e, f[i], LLVMBuildStructGEP2(e->b, at, slot, i, ""));
  LLVMValueRef small = LLVMBuildICmp(e->b, LLVMIntSLT, work, em_i64(e, PAR_MIN_WORK), "");
  LLVMValueRef x = LLVMBuildSelect(e->b, small, LLVMConstNull(c->t_ptr), a->exec, "exec");
  LLVMValueRef args[4] = {x, task, slot, n};
  LLVMBuildCall2(e->b, LLVMGlobalGetValueType(c->fn_parallel_for), c->fn_parallel_for, args, 4, "");
}

/* ---- small helpers ---- */

/* The items [*ilo, *ihi) of a task over indices [lo, hi) of items spread ITEM_SPAN apart */
static void span_items(Em *e, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef *ilo, LLVMValueRef *ihi) {
  LLVMValueRef s = em_i64(e, ITEM_SPAN), s1 = em_i64(e, ITEM_SPAN - 1);
  *ilo = LLVMBuildUDiv(e->b, em_add(e, lo, s1), s, "");
  *ihi = LLVMBuildUDiv(e->b, em_add(e, hi, s1), s, "");
}

static LLVMValueRef gep_f32(Em *e, LLVMValueRef p, LLVMValueRef i) { return em_gep(e, e->c->t_f32, p, i); }
static LLVMValueRef gep_i32(Em *e, LLVMValueRef p, LLVMValueRef i) { return em_gep(e, e->c->t_i32, p, i); }

/* clamp an i64 into [0, n-1] (n >= 1), so a bad index never reads out of bounds */
static LLVMValueRef clamp_row(Em *e, LLVMValueRef i, LLVMValueRef n) {
  return em_smax(e, em_smin(e, i, em_sub(e, n, em_i64(e, 1))), em_i64(e, 0));
}

/* out = h, skipped when plan-memory gave out h's own storage (an in-place scatter) */
static void copy_unless_inplace(Em *e, LLVMValueRef out, LLVMValueRef h, LLVMValueRef bytes) {
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, out, h, ""));
  em_memmove(e, out, h, bytes);
  em_if_end(e, &f);
}

/* x / (1 + exp(-x)), scalar or vector; em_vexp keeps it vectorised (llvm.exp would be a
 * libm call per lane), and its overflow to +inf for x < -89 gives -0 as the limit wants */
static LLVMValueRef silu(Em *e, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  LLVMValueRef one = em_f32(e, 1.0);
  if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) one = em_splat(e, one, (int)LLVMGetVectorSize(t));
  return em_fdiv(e, x, em_fadd(e, one, em_vexp(e, LLVMBuildFNeg(e->b, x, ""))));
}

/* 1 / (1 + exp(-x)), scalar */
static LLVMValueRef sigmoid(Em *e, LLVMValueRef x) {
  LLVMValueRef one = em_f32(e, 1.0);
  return em_fdiv(e, one, em_fadd(e, one, em_exp(e, LLVMBuildFNeg(e->b, x, ""))));
}

/* sum of pa[i]*pb[i] over a constant n, one <w x float> accumulator, then the tree */
static LLVMValueRef vdot(Em *e, LLVMValueRef pa, LLVMValueRef pb, int64_t n, int w) {
  int64_t nf = n / w * w;
  LLVMValueRef acc = em_vzero(e, w);
  if (nf > 0) {
    EmLoop l;
    em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, nf), w, 1, &acc);
    LLVMValueRef x = em_vload(e, w, gep_f32(e, pa, l.iv), NULL);
    LLVMValueRef y = em_vload(e, w, gep_f32(e, pb, l.iv), NULL);
    LLVMValueRef nx = em_fma(e, x, y, l.carry[0]);
    em_loop_end(e, &l, &nx, NULL);
    acc = l.carry[0];
  }
  if (n > nf) {
    LLVMValueRef m = em_mask_const(e, w, (int)(n - nf));
    LLVMValueRef x = em_vload(e, w, gep_f32(e, pa, em_i64(e, nf)), m);
    LLVMValueRef y = em_vload(e, w, gep_f32(e, pb, em_i64(e, nf)), m);
    acc = em_fma(e, x, y, acc);
  }
  return em_hsum(e, acc);
}

/* ---- elementwise: add, bias_add, silu, silu_mul, and the row copy of embed ---- */

typedef struct Ew {
  Op op;
  int64_t C;                /* columns */
  DType dt;                 /* embed: the table's dtype */
  LLVMValueRef out, a, b;   /* set per row or per range while emitting */
} Ew;

static void ew_step(Em *e, LLVMValueRef off, LLVMValueRef mask, int w, void *vctx) {
  const Ew *x = vctx;
  LLVMValueRef v, a;
  if (x->op == OP_EMBED) {
    v = em_vload_dt(e, x->dt, w, em_gep(e, elem_type(e->c, x->dt), x->a, off), mask);
  } else {
    a = em_vload(e, w, gep_f32(e, x->a, off), mask);
    LLVMValueRef b = x->b ? em_vload(e, w, gep_f32(e, x->b, off), mask) : NULL;
    switch (x->op) {
    case OP_ADD: case OP_BIAS_ADD: v = em_fadd(e, a, b); break;
    case OP_SILU: v = silu(e, a); break;
    default: v = em_fmul(e, silu(e, a), b); break; /* OP_SILU_MUL */
    }
  }
  em_vstore(e, v, gep_f32(e, x->out, off), mask);
}

/* add, silu, silu_mul: one flat range of rows [lo, hi) */
static void ew_flat_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  Ew x = *(const Ew *)vctx;
  LLVMValueRef base = em_mul(e, lo, em_i64(e, x.C));
  x.out = gep_f32(e, a->out, base);
  x.a = gep_f32(e, a->p[0], base);
  x.b = x.op == OP_SILU ? NULL : gep_f32(e, a->p[1], base);
  em_vec_loop(e, em_mul(e, em_sub(e, hi, lo), em_i64(e, x.C)), e->c->vw, ew_step, &x);
}

/* bias_add and embed: row by row (the bias row, the token's table row) */
static void ew_row_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  Ew x = *(const Ew *)vctx;
  EmLoop l;
  em_loop_begin(e, &l, lo, hi, 1, 0, NULL);
  LLVMValueRef C = em_i64(e, x.C);
  x.out = gep_f32(e, a->out, em_mul(e, l.iv, C));
  if (x.op == OP_EMBED) {
    LLVMValueRef id = em_sext64(e, em_load(e, e->c->t_i32, gep_i32(e, a->p[0], l.iv)));
    id = clamp_row(e, id, a->r[1]);
    x.a = em_gep(e, elem_type(e->c, x.dt), a->p[1], em_mul(e, id, C));
  } else {
    x.a = gep_f32(e, a->p[0], em_mul(e, l.iv, C));
    x.b = a->p[1];
  }
  em_vec_loop(e, C, e->c->vw, ew_step, &x);
  em_loop_end(e, &l, NULL, NULL);
}

static LLVMValueRef k_elementwise(Kern *k) {
  Em e;
  KArgs a;
  Ew x = {k->n->op, ccols(k, k->out), DT_F32, NULL, NULL, NULL};
  if (x.op == OP_EMBED) {
    x.dt = k->in[1]->dt;
    if (x.dt != DT_F32 && x.dt != DT_BF16) die(k, "table dtype %s", dtype_name(x.dt));
  }
  kbegin(&e, k, &a);
  Body body = x.op == OP_EMBED || x.op == OP_BIAS_ADD ? ew_row_body : ew_flat_body;
  LLVMValueRef work = em_mul(&e, a.rows, em_i64(&e, x.C));
  EmIf f;
  /* embed with an empty table has nothing to read from */
  if (x.op == OP_EMBED) em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntSGT, a.r[1], em_i64(&e, 0), ""));
  par_for(&e, k, &a, a.rows, work, body, &x);
  if (x.op == OP_EMBED) em_if_end(&e, &f);
  return kend(&e);
}

/* ---- rmsnorm: out = x / sqrt(mean(x^2) + eps) * w ---- */

typedef struct Norm {
  int64_t d;
  double eps;
  LLVMValueRef out, x, w, inv;
} Norm;

static void norm_step(Em *e, LLVMValueRef off, LLVMValueRef mask, int w, void *vctx) {
  const Norm *n = vctx;
  LLVMValueRef x = em_vload(e, w, gep_f32(e, n->x, off), mask);
  LLVMValueRef g = em_vload(e, w, gep_f32(e, n->w, off), mask);
  em_vstore(e, em_fmul(e, em_fmul(e, x, em_splat(e, n->inv, w)), g), gep_f32(e, n->out, off), mask);
}

/* one row: out[0..d) = x[0..d) * inv * w; the arithmetic of every rmsnorm, fused or not */
static void norm_row(Em *e, Norm n, LLVMValueRef x, LLVMValueRef w, LLVMValueRef out) {
  n.x = x, n.w = w, n.out = out;
  LLVMValueRef ss = vdot(e, n.x, n.x, n.d, e->c->vw);
  LLVMValueRef ms = em_fadd(e, em_fdiv(e, ss, em_f32(e, (double)n.d)), em_f32(e, n.eps));
  n.inv = em_fdiv(e, em_f32(e, 1.0), em_sqrt(e, ms));
  em_vec_loop(e, em_i64(e, n.d), e->c->vw, norm_step, &n);
}

static void norm_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const Norm *n = vctx;
  EmLoop l;
  em_loop_begin(e, &l, lo, hi, 1, 0, NULL);
  LLVMValueRef off = em_mul(e, l.iv, em_i64(e, n->d));
  norm_row(e, *n, gep_f32(e, a->p[0], off), a->p[1], gep_f32(e, a->out, off));
  em_loop_end(e, &l, NULL, NULL);
}

static double norm_eps(const Kern *k) {
  const Attr *eps = attr_get(k->n, "eps");
  if (!eps) die(k, "no eps attribute");
  return eps->kind == ATTR_INT ? (double)eps->i : eps->f;
}

static LLVMValueRef k_rmsnorm(Kern *k) {
  Norm n = {ccols(k, k->out), norm_eps(k), NULL, NULL, NULL, NULL};
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  par_for(&e, k, &a, a.rows, em_mul(&e, a.rows, em_i64(&e, 4 * n.d)), norm_body, &n);
  return kend(&e);
}

/* ---- matmul family: out[R,N] = x[R,K] W^T, matmul_add (+ r), matmul_silu_mul, and the
 * routed forms of fuse-routing: matmul_norm_gather, matmul_add_gather, matmul_scatter_gate ----
 *
 * Outer-product form over weights pre-packed in panels (passes/schedule.h: panel p holds
 * output columns [p*NR, p*NR+NR) as [K][NR]).  A register tile is mr rows x ns panel
 * streams; every k step loads NR/vw vectors of each stream's panel row and broadcasts one x
 * element per row (an embedded-broadcast FMA operand on AVX-512), so the tile's mr*ns*nv
 * accumulators stay in registers over all of K.  The epilogue (store, + residual, or
 * silu(gate) * up, + a residual row read through the index, the scaled scatter into h's row
 * through the index) runs on the registers; columns past N (the zero padding of the last
 * panel) are masked off.
 *
 * A rows: read in place, or (matmul_norm_gather) packed per work item: the item's rows are
 * read through the index from h and RMS-normalised by norm_row (the rmsnorm kernel's own
 * arithmetic, so the values are bit-identical to the unfused pair) into a buffer on the
 * task's stack, repacked only when a task moves on to another row tile.
 *
 * Numerics: on the many-row path each output is one llvm.fma chain over k = 0..K-1 in order,
 * whatever the tile shape, the row count or the thread that computes it; the one-row path
 * has its own fixed order (below).  Neither depends on the thread count.
 *
 * Work: many rows: items (row tile of mc rows, output panel), row-tile-major, so a task's x
 * rows stay in L2 while panels stream past and each panel is reused by every register tile
 * of the row tile (large M splits over rows and columns, a routed block's 64 rows over
 * columns).  One row (decode): items are output panels, each read as one sequential stream
 * with gemv_ku accumulator groups over k (so that row's sums are grouped differently from a
 * many-row call's: a decode step may round differently from a prefill, never differently
 * between thread counts); each weight byte read once, both threads splitting the panels.  Items are
 * scaled by MM_UNIT in the parallel_for range so the runtime's grain (16) never serialises
 * a matrix of few panels. */

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

/* Where a tile's A rows are: row r at base + (r - row0) * K. */
typedef struct MMA {
  LLVMValueRef base, row0;
} MMA;

/* rows of the matmul: x's, which for a scatter differ from the result's (h's) */
static LLVMValueRef mm_m(const MM *m, const KArgs *a) { return m->ep == SCHED_MM_SCATTER ? a->r[0] : a->rows; }

/* A bf16 panel row at p (columns paired, schedule.h) as nv <vw x float>: the row's nr/2
 * words, << 16 for the first nr/2 columns, & 0xffff0000 for the rest (exact widening). */
static void mm_bf16_row(Em *e, const MM *m, LLVMValueRef p, LLVMValueRef *out) {
  CgCtx *c = e->c;
  int h = m->s.nr / 2, vw = m->s.vw;
  LLVMTypeRef wt = LLVMVectorType(c->t_i32, (unsigned)h), ft = LLVMVectorType(c->t_f32, (unsigned)h);
  LLVMValueRef w = LLVMBuildLoad2(e->b, wt, p, "");
  LLVMSetAlignment(w, 4);
  LLVMValueRef lo = LLVMBuildBitCast(e->b, LLVMBuildShl(e->b, w, em_splat(e, em_i32(e, 16), h), ""), ft, "");
  LLVMValueRef hi = LLVMBuildBitCast(e->b, LLVMBuildAnd(e->b, w, em_splat(e, em_i32(e, (int32_t)0xffff0000u), h), ""), ft, "");
  for (int v = 0; v < m->s.nv; v++) { /* lanes [v*vw, v*vw+vw) of lo ++ hi */
    LLVMValueRef idx[64];
    for (int j = 0; j < vw; j++) idx[j] = em_i32(e, v * vw + j);
    out[v] = LLVMBuildShuffleVector(e->b, lo, hi, LLVMConstVector(idx, (unsigned)vw), "");
  }
}

/* One k step of a tile at k = kk into the accumulator group acc (mr x ns x nv vectors). */
static void mm_kstep(Em *e, const MM *m, LLVMValueRef *acc, const LLVMValueRef *carry, LLVMValueRef xb,
                     const LLVMValueRef *wb, int mr, int ns, LLVMValueRef kk) {
  int vw = m->s.vw, nv = m->s.nv;
  LLVMTypeRef wt = elem_type(e->c, m->dt);
  LLVMValueRef wv[EM_MAXCARRY], woff = em_mul(e, kk, em_i64(e, m->s.nr));
  for (int s = 0; s < ns; s++) {
    LLVMValueRef p = em_gep(e, wt, wb[s], woff);
    if (m->dt == DT_BF16) {
      mm_bf16_row(e, m, p, wv + s * nv);
      continue;
    }
    for (int v = 0; v < nv; v++) wv[s * nv + v] = em_vload(e, vw, gep_f32(e, p, em_i64(e, v * vw)), NULL);
  }
  for (int i = 0; i < mr; i++) {
    LLVMValueRef xs = em_load(e, e->c->t_f32, gep_f32(e, xb, em_add(e, kk, em_i64(e, i * m->K))));
    LLVMValueRef xv = em_splat(e, xs, vw);
    for (int q = 0; q < ns * nv; q++) acc[i * ns * nv + q] = em_fma(e, xv, wv[q], carry[i * ns * nv + q]);
  }
}

/* Prefetch (into L2) the row at k = kk of the panel after each stream's, so the next panel
 * arrives from memory while this one is being reused from cache (x86 prefetches never fault,
 * so the one past the last panel is harmless). */
static void mm_prefetch_next(Em *e, const MM *m, const LLVMValueRef *wb, int ns, LLVMValueRef kk) {
  CgCtx *c = e->c;
  int64_t es = dtype_size(m->dt), rowb = m->s.nr * es;
  LLVMTypeRef pty = c->t_ptr;
  for (int s = 0; s < ns; s++) {
    LLVMValueRef base = em_gep(e, c->t_i8, wb[s], em_add(e, em_mul(e, kk, em_i64(e, rowb)), em_i64(e, m->K * rowb)));
    for (int64_t off = 0; off < rowb; off += 64) {
      LLVMValueRef args[4] = {em_gep(e, c->t_i8, base, em_i64(e, off)), em_i32(e, 0), em_i32(e, 2), em_i32(e, 1)};
      em_intrin(e, "llvm.prefetch", &pty, 1, args, 4);
    }
  }
}

/* the row of h that routed row r stands for: idx[r], clamped into h's rows */
static LLVMValueRef mm_hrow(Em *e, LLVMValueRef idx, LLVMValueRef r, LLVMValueRef hrows) {
  return clamp_row(e, em_sext64(e, em_load(e, e->c->t_i32, gep_i32(e, idx, r))), hrows);
}

/* Where row r's results go and what its epilogue reads (element offsets and pointers). */
typedef struct MMRow {
  LLVMValueRef out;         /* row r of the result (a scatter: h's row idx[r]) */
  LLVMValueRef res;         /* the residual row, or NULL */
  LLVMValueRef h, g;        /* a scatter: h's row idx[r] and its gate g(s[idx[r]]) */
} MMRow;

static MMRow mm_row(Em *e, const MM *m, const KArgs *a, LLVMValueRef r) {
  LLVMValueRef N = em_i64(e, m->N), own = em_mul(e, r, N);
  MMRow o = {gep_f32(e, a->out, own), NULL, NULL, NULL};
  if (m->ep == SCHED_MM_ADD) o.res = gep_f32(e, a->p[2], own);
  if (m->ep == SCHED_MM_ADD_GATHER) o.res = gep_f32(e, a->p[2], em_mul(e, mm_hrow(e, a->p[3], r, a->r[2]), N));
  if (m->ep == SCHED_MM_SCATTER) {
    LLVMValueRef hr = mm_hrow(e, a->p[4], r, a->r[3]), hoff = em_mul(e, hr, N);
    LLVMValueRef sc = em_load(e, e->c->t_f32, gep_f32(e, a->p[5], hr));
    o.res = gep_f32(e, a->p[2], own);
    o.out = gep_f32(e, a->out, hoff);
    o.h = gep_f32(e, a->p[3], hoff);
    o.g = m->sig ? sigmoid(e, sc) : sc;
  }
  return o;
}

/* the epilogue of one output vector y at column col of row o */
static void mm_store(Em *e, const MM *m, const MMRow *o, LLVMValueRef y, LLVMValueRef up, LLVMValueRef col,
                     LLVMValueRef mask) {
  int vw = m->s.vw;
  if (o->res) y = em_fadd(e, y, em_vload(e, vw, gep_f32(e, o->res, col), mask));
  if (m->ep == SCHED_MM_SILU_MUL) y = em_fmul(e, silu(e, y), up);
  if (m->ep == SCHED_MM_SCATTER) { /* x + g (y - x), x = h[idx[r]]: scatter_gate's arithmetic */
    LLVMValueRef x = em_vload(e, vw, gep_f32(e, o->h, col), mask);
    y = em_fadd(e, x, em_fmul(e, em_splat(e, o->g, vw), em_fsub(e, y, x)));
  }
  em_vstore(e, y, gep_f32(e, o->out, col), mask);
}

/* Rows [r0, r0+mr) x output panels [p0, p0+npo): the tile, k loop and epilogue.  ku > 1 (the
 * one-row path): ku accumulator groups take k = ku*j + g, then a tail over the last K % ku
 * into group 0, then the groups are added in a fixed tree; so one panel row after another is
 * read as one sequential stream with ku independent FMA chains per vector. */
static void mm_tile(Em *e, const MM *m, const KArgs *a, const MMA *A, LLVMValueRef r0, int mr, LLVMValueRef p0,
                    int npo, int ku, int pf) {
  CgCtx *c = e->c;
  int vw = m->s.vw, nv = m->s.nv, nr = m->s.nr, per = m->ep == SCHED_MM_SILU_MUL ? 2 : 1;
  int ns = npo * per, ng = mr * ns * nv, nacc = ng * ku;
  int64_t K = m->K, pstride = K * nr, kmain = K / ku * ku;
  LLVMTypeRef wt = elem_type(c, m->dt);
  LLVMValueRef xb = gep_f32(e, A->base, em_mul(e, em_sub(e, r0, A->row0), em_i64(e, K)));
  LLVMValueRef wb[16];
  for (int s = 0; s < ns; s++) { /* stream s: output panel p0 + s/per, weight operand 1 + s%per */
    LLVMValueRef p = em_add(e, p0, em_i64(e, s / per));
    wb[s] = em_gep(e, wt, a->p[1 + s % per], em_mul(e, p, em_i64(e, pstride)));
  }
  LLVMValueRef acc[EM_MAXCARRY];
  for (int q = 0; q < nacc; q++) acc[q] = em_vzero(e, vw);
  if (kmain > 0) {
    EmLoop l;
    em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, kmain), ku, nacc, acc);
    for (int g = 0; g < ku; g++)
      mm_kstep(e, m, acc + g * ng, l.carry + g * ng, xb, wb, mr, ns, em_add(e, l.iv, em_i64(e, g)));
    if (pf) mm_prefetch_next(e, m, wb, ns, l.iv);
    em_loop_end(e, &l, acc, NULL);
    memcpy(acc, l.carry, sizeof(LLVMValueRef) * nacc);
  }
  for (int64_t kk = kmain; kk < K; kk++) mm_kstep(e, m, acc, acc, xb, wb, mr, ns, em_i64(e, kk));
  for (int w = 1; w < ku; w *= 2) /* fixed tree over the groups: (0+1)+(2+3) ... */
    for (int g = 0; g + w < ku; g += 2 * w)
      for (int q = 0; q < ng; q++) acc[g * ng + q] = em_fadd(e, acc[g * ng + q], acc[(g + w) * ng + q]);
  /* epilogue: per row, output panel, vector */
  LLVMValueRef N = em_i64(e, m->N);
  for (int i = 0; i < mr; i++) {
    MMRow o = mm_row(e, m, a, em_add(e, r0, em_i64(e, i)));
    for (int q = 0; q < npo; q++)
      for (int v = 0; v < nv; v++) {
        LLVMValueRef col = em_add(e, em_mul(e, em_add(e, p0, em_i64(e, q)), em_i64(e, nr)), em_i64(e, v * vw));
        LLVMValueRef mask = m->N % nr ? em_mask_lt(e, vw, em_sub(e, N, col)) : NULL;
        LLVMValueRef up = per == 2 ? acc[(i * ns + q * per + 1) * nv + v] : NULL;
        mm_store(e, m, &o, acc[(i * ns + q * per) * nv + v], up, col, mask);
      }
  }
}

/* rows [r0, r1) of one output panel: tiles of mr rows, then mr_tail, then single rows */
static void mm_rows(Em *e, const MM *m, const KArgs *a, const MMA *A, LLVMValueRef r0, LLVMValueRef r1, LLVMValueRef p) {
  int steps[3] = {m->s.mr, m->s.mr_tail, 1};
  LLVMValueRef lo = r0;
  for (int t = 0; t < 3; t++) {
    if (t > 0 && (steps[t] >= steps[t - 1])) continue;
    LLVMValueRef st = em_i64(e, steps[t]);
    LLVMValueRef hi = t == 2 ? r1 : em_add(e, lo, em_mul(e, LLVMBuildSDiv(e->b, em_sub(e, r1, lo), st, ""), st));
    EmLoop l;
    em_loop_begin(e, &l, lo, hi, steps[t], 0, NULL);
    mm_tile(e, m, a, A, l.iv, steps[t], p, 1, 1, t == 0);
    em_loop_end(e, &l, NULL, NULL);
    lo = hi;
  }
}

/* The row tiles of a call: ceil(blocks / (mc / mr)) of them over its ceil(rows / mr) register
 * blocks, tile t taking blocks [t*blocks/T, (t+1)*blocks/T), so tiles differ by at most one
 * block and an even split of the items over threads is an even split of the work. */
static LLVMValueRef mm_row_tiles(Em *e, const MM *m, LLVMValueRef rows, LLVMValueRef *blocks) {
  LLVMValueRef mr = em_i64(e, m->s.mr), bpt = em_i64(e, m->s.mc / m->s.mr);
  *blocks = LLVMBuildSDiv(e->b, em_add(e, rows, em_i64(e, m->s.mr - 1)), mr, "blocks");
  return LLVMBuildSDiv(e->b, em_add(e, *blocks, em_sub(e, bpt, em_i64(e, 1))), bpt, "rtiles");
}

/* The A rows of a task: in place, or a stack buffer of `rows` packed rows (matmul_norm_gather). */
static MMA mm_a(Em *e, const MM *m, const KArgs *a, int64_t rows) {
  MMA A = {a->p[0], em_i64(e, 0)};
  if (m->src == SCHED_A_NORM_GATHER)
    A.base = em_alloca(e, LLVMArrayType2(e->c->t_f32, (uint64_t)(rows * m->K)), "apack");
  return A;
}

/* Pack rows [r0, r1) into A: row r = rmsnorm(h[idx[r]], w), h = operand 0, idx 2, w 3. */
static void mm_pack(Em *e, const MM *m, const KArgs *a, MMA *A, LLVMValueRef r0, LLVMValueRef r1) {
  EmLoop l;
  em_loop_begin(e, &l, r0, r1, 1, 0, NULL);
  LLVMValueRef src = gep_f32(e, a->p[0], em_mul(e, mm_hrow(e, a->p[2], l.iv, a->r[0]), em_i64(e, m->K)));
  norm_row(e, m->norm, src, a->p[3], gep_f32(e, A->base, em_mul(e, em_sub(e, l.iv, r0), em_i64(e, m->K))));
  em_loop_end(e, &l, NULL, NULL);
  A->row0 = r0;
}

/* many rows: items [lo, hi) / MM_UNIT of (row tile, output panel), row-tile-major; a packed
 * A is refilled whenever the item's row tile differs from the last one's */
static void mm_gemm_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const MM *m = vctx;
  LLVMValueRef u = em_i64(e, MM_UNIT), P = em_i64(e, m->s.panels), mr = em_i64(e, m->s.mr), blocks;
  LLVMValueRef T = mm_row_tiles(e, m, mm_m(m, a), &blocks);
  LLVMValueRef t0 = LLVMBuildSDiv(e->b, lo, u, ""), t1 = LLVMBuildSDiv(e->b, em_add(e, hi, em_i64(e, MM_UNIT - 1)), u, "");
  MMA A = mm_a(e, m, a, m->s.mc);
  LLVMValueRef none = em_i64(e, -1);
  EmLoop l;
  em_loop_begin(e, &l, t0, t1, 1, 1, &none);
  LLVMValueRef rt = LLVMBuildSDiv(e->b, l.iv, P, "rtile"), p = em_sub(e, l.iv, em_mul(e, rt, P));
  LLVMValueRef b0 = LLVMBuildSDiv(e->b, em_mul(e, rt, blocks), T, "");
  LLVMValueRef b1 = LLVMBuildSDiv(e->b, em_mul(e, em_add(e, rt, em_i64(e, 1)), blocks), T, "");
  LLVMValueRef r0 = em_mul(e, b0, mr), r1 = em_smin(e, mm_m(m, a), em_mul(e, b1, mr));
  if (m->src == SCHED_A_NORM_GATHER) {
    EmIf f;
    em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, rt, l.carry[0], ""));
    mm_pack(e, m, a, &A, r0, r1);
    em_if_end(e, &f);
    A.row0 = r0;
  }
  mm_rows(e, m, a, &A, r0, r1, p);
  em_loop_end(e, &l, &rt, NULL);
}

/* one row: output panels [lo, hi) / MM_UNIT, one after another (a task's panels are one
 * contiguous stretch of the packed weights), gemv_ku accumulator groups over k */
static void mm_gemv_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const MM *m = vctx;
  LLVMValueRef u = em_i64(e, MM_UNIT);
  LLVMValueRef p0 = LLVMBuildSDiv(e->b, lo, u, ""), p1 = LLVMBuildSDiv(e->b, em_add(e, hi, em_i64(e, MM_UNIT - 1)), u, "");
  MMA A = mm_a(e, m, a, 1);
  if (m->src == SCHED_A_NORM_GATHER) mm_pack(e, m, a, &A, em_i64(e, 0), em_i64(e, 1));
  EmLoop l;
  em_loop_begin(e, &l, p0, p1, 1, 0, NULL);
  mm_tile(e, m, a, &A, em_i64(e, 0), 1, l.iv, 1, m->s.gemv_ku, 0);
  em_loop_end(e, &l, NULL, NULL);
}

static SchedEpilogue mm_epilogue(Op op) {
  switch (op) {
  case OP_MATMUL_ADD: return SCHED_MM_ADD;
  case OP_MATMUL_SILU_MUL: return SCHED_MM_SILU_MUL;
  case OP_MATMUL_ADD_GATHER: return SCHED_MM_ADD_GATHER;
  case OP_MATMUL_SCATTER_GATE: return SCHED_MM_SCATTER;
  default: return SCHED_MM;
  }
}

/* The schedule for this node: the panel width from its weight node, the rest from
 * passes/schedule.c.  The row count is left unknown (-1) so forward and session graphs
 * share the kernel. */
static MM mm_schedule(const Kern *k) {
  MM m;
  memset(&m, 0, sizeof m);
  const Node *w = &k->g->n[k->n->in[1]];
  m.ep = mm_epilogue(k->n->op);
  m.src = k->n->op == OP_MATMUL_NORM_GATHER ? SCHED_A_NORM_GATHER : SCHED_A_ROWS;
  m.K = cdim(k, k->in[1], 1);
  m.N = cdim(k, k->in[1], 0);
  m.dt = k->in[1]->dt;
  for (int i = 1; i <= (m.ep == SCHED_MM_SILU_MUL ? 2 : 1); i++) {
    const Node *wi = &k->g->n[k->n->in[i]];
    if (wi->op != OP_WEIGHT || strcmp(attr_s(wi, "layout", ""), "panel") || attr_i(wi, "nr", 0) != attr_i(w, "nr", 0))
      die(k, "operand %d is not a panel-packed weight", i);
    if (k->in[i]->dt != m.dt) die(k, "gate and up weights differ in dtype");
  }
  if (m.src == SCHED_A_NORM_GATHER) m.norm = (Norm){m.K, norm_eps(k), NULL, NULL, NULL, NULL};
  if (m.ep == SCHED_MM_SCATTER) {
    const char *gate = attr_s(k->n, "gate", "raw");
    m.sig = !strcmp(gate, "sigmoid");
    if (!m.sig && strcmp(gate, "raw")) die(k, "gate \"%s\"", gate);
  }
  int nr = (int)attr_i(w, "nr", 0);
  if (nr <= 0 || nr % k->c->vw || nr / k->c->vw > 16) die(k, "panel width %d for vector width %d", nr, k->c->vw);
  m.s = sched_matmul(-1, m.N, m.K, m.dt, k->c->vw, nr, m.ep, m.src);
  return m;
}

static LLVMValueRef k_matmul(Kern *k) {
  MM m = mm_schedule(k);
  if (m.dt != DT_F32 && m.dt != DT_BF16) die(k, "weight dtype %s", dtype_name(m.dt));
  if (cdim(k, k->in[0], 1) != m.K) die(k, "x has %lld columns, W %lld", (long long)cdim(k, k->in[0], 1), (long long)m.K);
  int per = m.ep == SCHED_MM_SILU_MUL ? 2 : 1;
  if (m.s.mr * m.s.np * m.s.nv > EM_MAXCARRY || m.s.gemv_ku * per * m.s.nv > EM_MAXCARRY || m.s.gemv_ku < 1)
    die(k, "register tile too large");
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  if (m.ep == SCHED_MM_SCATTER) /* the rows that skip the block: h as it was */
    copy_unless_inplace(&e, a.out, a.p[3], em_mul(&e, a.rows, em_i64(&e, m.N * 4)));
  LLVMValueRef M = mm_m(&m, &a), work = em_mul(&e, M, em_i64(&e, m.N * m.K * per));
  LLVMValueRef P = em_i64(&e, m.s.panels), U = em_i64(&e, MM_UNIT);
  Kern kv = *k, km = *k;
  snprintf(kv.name, sizeof kv.name, "%.240s.gemv", k->name);
  snprintf(km.name, sizeof km.name, "%.240s.gemm", k->name);
  EmIf f;
  em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntEQ, M, em_i64(&e, 1), ""));
  par_for(&e, &kv, &a, em_mul(&e, P, U), work, mm_gemv_body, &m);
  em_if_else(&e, &f);
  LLVMValueRef blocks, tiles = mm_row_tiles(&e, &m, M, &blocks);
  par_for(&e, &km, &a, em_mul(&e, em_mul(&e, tiles, P), U), work, mm_gemm_body, &m);
  em_if_end(&e, &f);
  return kend(&e);
}

/* ---- rope: HF rotate-half at each row's position ---- */

typedef struct Rope {
  int64_t C, heads, hd;
  double theta;
  LLVMValueRef invf;        /* global [hd/2 x double] */
  LLVMValueRef cs, sn;      /* [hd/2 x float] stack tables of the row */
  LLVMValueRef x, out;      /* the head's vectors */
} Rope;

static void rope_step(Em *e, LLVMValueRef off, LLVMValueRef mask, int w, void *vctx) {
  const Rope *r = vctx;
  LLVMValueRef half = em_i64(e, r->hd / 2), off2 = em_add(e, off, half);
  LLVMValueRef x1 = em_vload(e, w, gep_f32(e, r->x, off), mask);
  LLVMValueRef x2 = em_vload(e, w, gep_f32(e, r->x, off2), mask);
  LLVMValueRef c = em_vload(e, w, gep_f32(e, r->cs, off), mask);
  LLVMValueRef s = em_vload(e, w, gep_f32(e, r->sn, off), mask);
  em_vstore(e, em_fsub(e, em_fmul(e, x1, c), em_fmul(e, x2, s)), gep_f32(e, r->out, off), mask);
  em_vstore(e, em_fadd(e, em_fmul(e, x2, c), em_fmul(e, x1, s)), gep_f32(e, r->out, off2), mask);
}

/* cos/sin tables of one position: angle = pos * inv_freq in double, as the reference */
static void rope_tables(Em *e, const Rope *r, LLVMValueRef pos) {
  int64_t half = r->hd / 2;
  LLVMValueRef p = LLVMBuildSIToFP(e->b, pos, e->c->t_f64, "");
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, half), 1, 0, NULL);
  LLVMValueRef f = em_load(e, e->c->t_f64, em_gep(e, e->c->t_f64, r->invf, l.iv));
  LLVMValueRef ang = em_fmul(e, p, f);
  LLVMTypeRef t = e->c->t_f64;
  LLVMValueRef c = em_intrin(e, "llvm.cos", &t, 1, &ang, 1);
  LLVMValueRef s = em_intrin(e, "llvm.sin", &t, 1, &ang, 1);
  em_store(e, LLVMBuildFPTrunc(e->b, c, e->c->t_f32, ""), gep_f32(e, r->cs, l.iv));
  em_store(e, LLVMBuildFPTrunc(e->b, s, e->c->t_f32, ""), gep_f32(e, r->sn, l.iv));
  em_loop_end(e, &l, NULL, NULL);
}

static void rope_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  Rope r = *(const Rope *)vctx;
  LLVMTypeRef tab = LLVMArrayType2(e->c->t_f32, (uint64_t)(r.hd / 2));
  r.cs = em_alloca(e, tab, "cos");
  r.sn = em_alloca(e, tab, "sin");
  EmLoop l, lh;
  em_loop_begin(e, &l, lo, hi, 1, 0, NULL);
  rope_tables(e, &r, em_load(e, e->c->t_i32, gep_i32(e, a->p[1], l.iv)));
  LLVMValueRef row = em_mul(e, l.iv, em_i64(e, r.C));
  em_loop_begin(e, &lh, em_i64(e, 0), em_i64(e, r.heads), 1, 0, NULL);
  LLVMValueRef off = em_add(e, row, em_mul(e, lh.iv, em_i64(e, r.hd)));
  r.x = gep_f32(e, a->p[0], off);
  r.out = gep_f32(e, a->out, off);
  em_vec_loop(e, em_i64(e, r.hd / 2), e->c->vw, rope_step, &r);
  em_loop_end(e, &lh, NULL, NULL);
  em_loop_end(e, &l, NULL, NULL);
}

static LLVMValueRef k_rope(Kern *k) {
  CgCtx *c = k->c;
  Rope r = {ccols(k, k->out), attr_i(k->n, "heads", 0), 0, attr_f(k->n, "theta", 0), NULL, NULL, NULL, NULL, NULL};
  if (r.heads <= 0 || r.C % r.heads || (r.C / r.heads) % 2 || r.theta <= 0) die(k, "bad heads or theta");
  r.hd = r.C / r.heads;
  int64_t half = r.hd / 2;
  LLVMValueRef *f = malloc(sizeof *f * (size_t)half);
  for (int64_t i = 0; i < half; i++) f[i] = LLVMConstReal(c->t_f64, pow(r.theta, -2.0 * (double)i / (double)r.hd));
  LLVMTypeRef at = LLVMArrayType2(c->t_f64, (uint64_t)half);
  char gname[300];
  snprintf(gname, sizeof gname, "%s.inv_freq", k->name);
  r.invf = LLVMAddGlobal(c->mod, at, gname);
  LLVMSetInitializer(r.invf, LLVMConstArray2(c->t_f64, f, (uint64_t)half));
  LLVMSetGlobalConstant(r.invf, 1);
  LLVMSetLinkage(r.invf, LLVMInternalLinkage);
  free(f);
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  par_for(&e, k, &a, a.rows, em_mul(&e, a.rows, em_i64(&e, r.C * 4)), rope_body, &r);
  return kend(&e);
}

/* ---- attention: causal by position, online softmax ----
 *
 * Two forms.  A call with at least a register block of rows (prefill, routed blocks) goes
 * to the blocked form further down (fa_*); one with fewer (a decode step) to this one, in
 * which each row takes its dot products with the keys directly (no key transposes to share).
 * Positions need not be sorted in either (a key block is skipped by comparing positions, not
 * by assuming an order).
 * One work item is (group of BQ consecutive query rows, query head); the rows of a group
 * share the key loop, so their independent dependency chains (dot products, exp, the
 * output update) overlap.  Keys go in blocks of B: the block's positions are compared first
 * and a block that no row of the group sees is skipped; otherwise each row reduces its B
 * dot products (one vector accumulator each, over hd) together into a <B x float> of
 * scores, and its running max m, running sum l and output accumulator are rescaled by
 * exp(m_old - m_new).  A row that sees none of a processed block keeps its state unchanged
 * (as if the block had been skipped for it), so a row's result does not depend on its
 * group: the R % BQ rows left over are items of one row each.  Groups are visited zig-zag
 * (0, last, 1, last-1, ...) so that contiguous chunks of items carry equal causal work. */

#define ATTN_MAXQ 4

typedef struct Attn {
  int kv;                   /* kv_attention */
  int64_t layer, H, Hk, hd;
  int B;                    /* keys per block */
  int bq;                   /* query rows per item */
  int vw, nv;               /* vectors per head (the last masked when hd % vw) */
} Attn;

/* The keys an item runs over, and its query rows. */
typedef struct AttnKeys {
  LLVMValueRef kb, vb;      /* key / value of cache row 0 for the kv head */
  LLVMValueRef kpos, nk;    /* i32 positions of the keys, their count */
  LLVMValueRef q[ATTN_MAXQ], o[ATTN_MAXQ]; /* each row's head */
  LLVMValueRef pos[ATTN_MAXQ];             /* i32 position of each query row */
} AttnKeys;

static LLVMValueRef attn_mask(Em *e, const Attn *t, int c) {
  if (c < t->nv - 1 || t->hd % t->vw == 0) return NULL;
  return em_mask_const(e, t->vw, (int)(t->hd % t->vw));
}

/* positions of keys j0..j0+B (INT32_MAX past the end) */
static LLVMValueRef attn_kpos(Em *e, const Attn *t, const AttnKeys *k, LLVMValueRef j0, LLVMValueRef *inb) {
  LLVMTypeRef vt = LLVMVectorType(e->c->t_i32, (unsigned)t->B);
  LLVMTypeRef tys[2] = {vt, e->c->t_ptr};
  *inb = em_mask_lt(e, t->B, em_sub(e, k->nk, j0));
  LLVMValueRef args[4] = {gep_i32(e, k->kpos, j0), em_i32(e, 4), *inb, em_splat(e, em_i32(e, INT32_MAX), t->B)};
  return em_intrin(e, "llvm.masked.load", tys, 2, args, 4);
}

/* One row's scores for the block: scaled dots, -inf where the key is not visible. */
static LLVMValueRef attn_scores(Em *e, const Attn *t, LLVMValueRef kb, const LLVMValueRef *q,
                                const LLVMValueRef *rows, LLVMValueRef vis) {
  LLVMValueRef d[64];
  for (int jj = 0; jj < t->B; jj++) {
    d[jj] = em_vzero(e, t->vw);
    for (int c = 0; c < t->nv; c++) {
      LLVMValueRef kv = em_vload(e, t->vw, gep_f32(e, kb, em_add(e, rows[jj], em_i64(e, c * t->vw))), attn_mask(e, t, c));
      d[jj] = em_fma(e, q[c], kv, d[jj]);
    }
  }
  LLVMValueRef s = em_fmul(e, em_sum_tree(e, d, t->B), em_splat(e, em_f32(e, 1.0 / sqrt((double)t->hd)), t->B));
  return LLVMBuildSelect(e->b, vis, s, em_splat(e, em_f32(e, -INFINITY), t->B), "scores");
}

/* The block's update of every row's state st[r] = (m, l, acc[nv]). */
static void attn_block(Em *e, const Attn *t, const AttnKeys *k, LLVMValueRef q[][16],
                       LLVMValueRef j0, const LLVMValueRef *vis, LLVMValueRef st[][EM_MAXCARRY]) {
  int B = t->B, vw = t->vw, ns = 2 + t->nv;
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd), rows[64], p[ATTN_MAXQ], old[ATTN_MAXQ][EM_MAXCARRY], dead[ATTN_MAXQ];
  LLVMValueRef last = em_sub(e, k->nk, em_i64(e, 1));
  for (int jj = 0; jj < B; jj++) rows[jj] = em_mul(e, em_smin(e, em_add(e, j0, em_i64(e, jj)), last), kw);
  for (int r = 0; r < t->bq; r++) {
    memcpy(old[r], st[r], sizeof(LLVMValueRef) * ns);
    LLVMValueRef s = attn_scores(e, t, k->kb, q[r], rows, vis[r]);
    LLVMValueRef bm = em_hmax(e, s);
    dead[r] = LLVMBuildFCmp(e->b, LLVMRealOEQ, bm, em_f32(e, -INFINITY), "unseen");
    LLVMValueRef mn = em_fmax(e, st[r][0], bm);
    LLVMValueRef corr = em_vexp(e, em_fsub(e, st[r][0], mn));
    p[r] = em_vexp(e, em_fsub(e, s, em_splat(e, mn, B)));
    st[r][0] = mn;
    st[r][1] = em_fadd(e, em_fmul(e, st[r][1], corr), em_hsum(e, p[r]));
    for (int c = 0; c < t->nv; c++) st[r][2 + c] = em_fmul(e, st[r][2 + c], em_splat(e, corr, vw));
  }
  for (int jj = 0; jj < B; jj++)
    for (int c = 0; c < t->nv; c++) {
      LLVMValueRef vv = em_vload(e, vw, gep_f32(e, k->vb, em_add(e, rows[jj], em_i64(e, c * vw))), attn_mask(e, t, c));
      for (int r = 0; r < t->bq; r++) {
        LLVMValueRef pj = em_splat(e, LLVMBuildExtractElement(e->b, p[r], em_i32(e, jj), ""), vw);
        st[r][2 + c] = em_fma(e, pj, vv, st[r][2 + c]);
      }
    }
  for (int r = 0; r < t->bq; r++)
    for (int i = 0; i < ns; i++) st[r][i] = LLVMBuildSelect(e->b, dead[r], old[r][i], st[r][i], "");
}

/* Skip the block (state unchanged) unless some row sees one of its keys. */
static void attn_key_loop(Em *e, const Attn *t, const AttnKeys *k, LLVMValueRef q[][16],
                          LLVMValueRef st[][EM_MAXCARRY]) {
  int ns = 2 + t->nv, nc = t->bq * ns;
  LLVMValueRef flat[EM_MAXCARRY], vis[ATTN_MAXQ], inb, any = NULL;
  for (int r = 0; r < t->bq; r++) memcpy(flat + r * ns, st[r], sizeof(LLVMValueRef) * ns);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), k->nk, t->B, nc, flat);
  LLVMValueRef kp = attn_kpos(e, t, k, l.iv, &inb);
  LLVMTypeRef bits = LLVMIntTypeInContext(e->c->ctx, (unsigned)t->B);
  for (int r = 0; r < t->bq; r++) {
    vis[r] = LLVMBuildAnd(e->b, inb, LLVMBuildICmp(e->b, LLVMIntSLE, kp, em_splat(e, k->pos[r], t->B), ""), "visible");
    LLVMValueRef v = LLVMBuildBitCast(e->b, vis[r], bits, "");
    any = any ? LLVMBuildOr(e->b, any, v, "") : v;
  }
  LLVMBasicBlockRef from = LLVMGetInsertBlock(e->b), work = em_block(e, "keys"), join = em_block(e, "next");
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntNE, any, LLVMConstNull(bits), "any"), work, join);
  LLVMPositionBuilderAtEnd(e->b, work);
  for (int r = 0; r < t->bq; r++) memcpy(st[r], l.carry + r * ns, sizeof(LLVMValueRef) * ns);
  attn_block(e, t, k, q, l.iv, vis, st);
  LLVMBasicBlockRef wend = LLVMGetInsertBlock(e->b);
  LLVMBuildBr(e->b, join);
  LLVMPositionBuilderAtEnd(e->b, join);
  for (int i = 0; i < nc; i++) {
    LLVMValueRef phi = LLVMBuildPhi(e->b, LLVMTypeOf(l.carry[i]), "");
    LLVMValueRef v[2] = {l.carry[i], st[i / ns][i % ns]};
    LLVMBasicBlockRef bb[2] = {from, wend};
    LLVMAddIncoming(phi, v, bb, 2);
    flat[i] = phi;
  }
  em_loop_end(e, &l, flat, NULL);
  for (int r = 0; r < t->bq; r++) memcpy(st[r], l.carry + r * ns, sizeof(LLVMValueRef) * ns);
}

/* the item's rows over all keys; out = acc / l (0 where no key was visible) */
static void attn_rows(Em *e, const Attn *t, const AttnKeys *k) {
  LLVMValueRef q[ATTN_MAXQ][16], st[ATTN_MAXQ][EM_MAXCARRY];
  for (int r = 0; r < t->bq; r++) {
    for (int c = 0; c < t->nv; c++)
      q[r][c] = em_vload(e, t->vw, gep_f32(e, k->q[r], em_i64(e, c * t->vw)), attn_mask(e, t, c));
    st[r][0] = em_f32(e, -INFINITY);
    st[r][1] = em_f32(e, 0.0);
    for (int c = 0; c < t->nv; c++) st[r][2 + c] = em_vzero(e, t->vw);
  }
  attn_key_loop(e, t, k, q, st);
  for (int r = 0; r < t->bq; r++) {
    LLVMValueRef l = st[r][1];
    LLVMValueRef seen = LLVMBuildFCmp(e->b, LLVMRealOGT, l, em_f32(e, 0.0), "");
    LLVMValueRef inv = LLVMBuildSelect(e->b, seen, em_fdiv(e, em_f32(e, 1.0), l), em_f32(e, 0.0), "");
    for (int c = 0; c < t->nv; c++)
      em_vstore(e, em_fmul(e, st[r][2 + c], em_splat(e, inv, t->vw)), gep_f32(e, k->o[r], em_i64(e, c * t->vw)), attn_mask(e, t, c));
  }
}

static LLVMValueRef layer_ptr(Em *e, LLVMValueRef exec, int field, int64_t layer, LLVMTypeRef ty) {
  return em_load(e, ty, em_gep(e, ty, em_exec_field(e, exec, field), em_i64(e, layer)));
}

/* kv_attention's tasks are shared by every layer (one copy of the code, not n_layers): the
 * layer's kernel hands them its cache in the operand slots the append has consumed, k and
 * v rows -> the cache's K and V, their row counts -> the cache length and (as an integer)
 * the cache's positions; q, pos and out stay as they are. */
static KArgs cache_args(Em *e, const KArgs *a, int64_t layer) {
  CgCtx *c = e->c;
  KArgs ca = *a;
  ca.p[1] = layer_ptr(e, a->exec, EXEC_KV_K, layer, c->t_ptr);
  ca.p[2] = layer_ptr(e, a->exec, EXEC_KV_V, layer, c->t_ptr);
  ca.r[1] = layer_ptr(e, a->exec, EXEC_KV_LEN, layer, c->t_i64);
  ca.r[2] = LLVMBuildPtrToInt(e->b, layer_ptr(e, a->exec, EXEC_KV_POS, layer, c->t_ptr), c->t_i64, "kpos");
  return ca;
}

/* The keys' positions and count: the cache's (cache_args) or this call's own rows. */
static void attn_key_range(Em *e, int kv, const KArgs *a, LLVMValueRef *kpos, LLVMValueRef *nk) {
  *kpos = kv ? LLVMBuildIntToPtr(e->b, a->r[2], e->c->t_ptr, "kpos") : a->p[3];
  *nk = kv ? a->r[1] : a->rows;
}

/* Query group of item gi of ngroups: 0, n-1, 1, n-2, ... so that a thread's contiguous items
 * pair short causal groups with long ones (balanced work). */
static LLVMValueRef balanced_group(Em *e, LLVMValueRef gi, LLVMValueRef ngroups) {
  LLVMValueRef half = LLVMBuildLShr(e->b, gi, em_i64(e, 1), "");
  LLVMValueRef odd = LLVMBuildTrunc(e->b, gi, e->c->t_i1, "");
  return LLVMBuildSelect(e->b, odd, em_sub(e, em_sub(e, ngroups, em_i64(e, 1)), half), half, "group");
}

/* The rows of item group g: BQ rows from g*BQ for the first R/BQ groups, then one row each. */
static void attn_group(Em *e, const Attn *t, const KArgs *a, AttnKeys *k, LLVMValueRef g,
                       LLVMValueRef h, int bq) {
  CgCtx *c = e->c;
  LLVMValueRef nfull = LLVMBuildSDiv(e->b, a->rows, em_i64(e, t->bq), "");
  LLVMValueRef i0 = bq > 1 ? em_mul(e, g, em_i64(e, bq)) : em_add(e, em_mul(e, nfull, em_i64(e, t->bq)), em_sub(e, g, nfull));
  Attn tt = *t;
  tt.bq = bq;
  for (int r = 0; r < bq; r++) {
    LLVMValueRef i = em_add(e, i0, em_i64(e, r));
    LLVMValueRef qo = em_add(e, em_mul(e, i, em_i64(e, t->H * t->hd)), em_mul(e, h, em_i64(e, t->hd)));
    k->q[r] = gep_f32(e, a->p[0], qo);
    k->o[r] = gep_f32(e, a->out, qo);
    k->pos[r] = em_load(e, c->t_i32, gep_i32(e, a->p[3], i));
  }
  attn_rows(e, &tt, k);
}

static void attn_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const Attn *t = vctx;
  AttnKeys k;
  LLVMValueRef H = em_i64(e, t->H), hd = em_i64(e, t->hd), kb = a->p[1], vb = a->p[2];
  attn_key_range(e, t->kv, a, &k.kpos, &k.nk);
  LLVMValueRef bq = em_i64(e, t->bq), nfull = LLVMBuildSDiv(e->b, a->rows, bq, "full");
  LLVMValueRef ngroups = em_add(e, nfull, LLVMBuildSRem(e->b, a->rows, bq, "")), ilo, ihi;
  span_items(e, lo, hi, &ilo, &ihi);
  EmLoop l;
  em_loop_begin(e, &l, ilo, ihi, 1, 0, NULL);
  LLVMValueRef gi = LLVMBuildUDiv(e->b, l.iv, H, "gi"), h = em_sub(e, l.iv, em_mul(e, gi, H));
  LLVMValueRef g = balanced_group(e, gi, ngroups);
  LLVMValueRef kvh = LLVMBuildUDiv(e->b, h, em_i64(e, t->H / t->Hk), "kvh");
  k.kb = gep_f32(e, kb, em_mul(e, kvh, hd));
  k.vb = gep_f32(e, vb, em_mul(e, kvh, hd));
  if (t->bq == 1) {
    attn_group(e, t, a, &k, g, h, 1);
  } else {
    EmIf f;
    em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntSLT, g, nfull, ""));
    attn_group(e, t, a, &k, g, h, t->bq);
    em_if_else(e, &f);
    attn_group(e, t, a, &k, g, h, 1);
    em_if_end(e, &f);
  }
  em_loop_end(e, &l, NULL, NULL);
}

/* ---- attention over blocks of query rows: keys transposed, scores as a small matmul ----
 *
 * With at least MR query rows (prefill, a routed block, a session's prefill) the scores of
 * MR rows against a block of NB = 2 vectors of keys are a register-blocked matmul over hd:
 * the key block is transposed once per item (vw x vw shuffle transposes into kt[hd][NB] on
 * the stack) and shared by all the item's row blocks, each step loading the NB/vw key
 * vectors of one head coordinate and broadcasting one q element per row.  Each row's
 * online-softmax update is vector-wide over the key block (em_vexp: no libm call per lane);
 * its probabilities go to a small stack buffer and P.V accumulates into the rows' output
 * accumulators (a stack buffer, MR rows x CV vectors in registers at a time, one broadcast
 * probability per row and key).  Work items are (head, query block of QB rows), head-major
 * (a thread's share is whole heads where it can be) and zig-zag over the blocks of a head,
 * each spread over ITEM_SPAN indices; a key block that no row of the item (then of a row
 * block) sees is skipped.
 * A row's arithmetic depends on its own position and the keys only: a processed key block
 * it sees none of leaves its state exactly as it was (correction exp(0) = 1, probabilities
 * exp(-inf) = 0, or all zero while it has seen nothing), the rows past the last full row
 * block go one at a time with the same operation order, and the running sum is a vector
 * reduced by the fixed tree at the end.  So results do not depend on QB or the threads. */

#define FA_NH 2             /* key vectors per block */
#define FA_QB_ELEMS 8192    /* bound on QB * hd: the output accumulators of an item (32 KiB) */

typedef struct Fa {
  int kv;                   /* kv_attention: keys from the layer's cache */
  int64_t layer, H, Hk, hd;
  int vw, nv, NB;           /* vector width, vectors per head, keys per block (FA_NH * vw) */
  int MR, CV;               /* rows per register block, output vectors per P.V pass */
  int64_t qbmax, ohd;       /* most rows per item; an accumulator row (nv * vw floats) */
} Fa;

/* One item's keys, stack buffers and current key block. */
typedef struct FaItem {
  LLVMValueRef kb, vb, kpos, nk;     /* keys and values of the kv head, positions, count */
  LLVMValueRef kt, ob, mb, lb, pb, cb; /* kt[hd][NB], o[qb][ohd], m[qb], l[qb][vw], p[MR][NB], corr[MR] */
  LLVMValueRef q, out, pos;          /* the query head of row 0, its output, row positions */
  LLVMValueRef q0;                   /* the item's first row */
  LLVMValueRef j0, kp[FA_NH], inb[FA_NH]; /* key block: first key, positions, in range */
} FaItem;

static LLVMValueRef fa_mask(Em *e, const Fa *t, int c) {
  if (c < t->nv - 1 || t->hd % t->vw == 0) return NULL;
  return em_mask_const(e, t->vw, (int)(t->hd % t->vw));
}

static LLVMValueRef shuf2(Em *e, LLVMValueRef a, LLVMValueRef b, const int *idx, int n) {
  LLVMValueRef m[64];
  for (int i = 0; i < n; i++) m[i] = em_i32(e, idx[i]);
  return LLVMBuildShuffleVector(e->b, a, b, LLVMConstVector(m, (unsigned)n), "");
}

/* In-register transpose of w vectors of w lanes: at distance d = w/2 .. 1, rows i and i + d
 * swap their off-diagonal d x d blocks. */
static void transpose(Em *e, LLVMValueRef *a, int w) {
  int lo[64], hi[64];
  for (int d = w / 2; d >= 1; d /= 2)
    for (int i = 0; i < w; i++) {
      if (i & d) continue;
      for (int k = 0; k < w; k++) {
        lo[k] = k & d ? w + k - d : k;
        hi[k] = k & d ? w + k : k + d;
      }
      LLVMValueRef x = shuf2(e, a[i], a[i + d], lo, w), y = shuf2(e, a[i], a[i + d], hi, w);
      a[i] = x, a[i + d] = y;
    }
}

/* kt[c][jj] = k[min(j0 + jj, nk - 1)][c]: the key block, head coordinates major */
static void fa_transpose(Em *e, const Fa *t, const FaItem *it) {
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd), last = em_sub(e, it->nk, em_i64(e, 1)), v[16];
  for (int hh = 0; hh < FA_NH; hh++)
    for (int cc = 0; cc < t->nv; cc++) {
      for (int i = 0; i < t->vw; i++) {
        LLVMValueRef j = em_smin(e, em_add(e, it->j0, em_i64(e, hh * t->vw + i)), last);
        v[i] = em_vload(e, t->vw, gep_f32(e, it->kb, em_add(e, em_mul(e, j, kw), em_i64(e, cc * t->vw))), fa_mask(e, t, cc));
      }
      transpose(e, v, t->vw);
      for (int i = 0; i < t->vw && cc * t->vw + i < t->hd; i++)
        em_vstore(e, v[i], gep_f32(e, it->kt, em_i64(e, (cc * t->vw + i) * t->NB + hh * t->vw)), NULL);
    }
}

/* S[r][hh] = q_r . k_j over the block's keys: an mr x FA_NH block of accumulators over hd */
static void fa_scores(Em *e, const Fa *t, const FaItem *it, const LLVMValueRef *qr, int mr, LLVMValueRef *S) {
  LLVMValueRef acc[EM_MAXCARRY];
  int na = mr * FA_NH;
  for (int i = 0; i < na; i++) acc[i] = em_vzero(e, t->vw);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, t->hd), 1, na, acc);
  memcpy(acc, l.carry, sizeof(LLVMValueRef) * na);
  LLVMValueRef kv[FA_NH];
  for (int hh = 0; hh < FA_NH; hh++)
    kv[hh] = em_vload(e, t->vw, gep_f32(e, it->kt, em_add(e, em_mul(e, l.iv, em_i64(e, t->NB)), em_i64(e, hh * t->vw))), NULL);
  for (int r = 0; r < mr; r++) {
    LLVMValueRef qb = em_splat(e, em_load(e, e->c->t_f32, gep_f32(e, qr[r], l.iv)), t->vw);
    for (int hh = 0; hh < FA_NH; hh++) acc[r * FA_NH + hh] = em_fma(e, qb, kv[hh], acc[r * FA_NH + hh]);
  }
  em_loop_end(e, &l, acc, NULL);
  memcpy(S, l.carry, sizeof(LLVMValueRef) * na);
}

/* mr floats at p: a float when mr == 1, else an <mr x float> */
static LLVMValueRef fa_lanes_load(Em *e, LLVMValueRef p, int mr) {
  return mr == 1 ? em_load(e, e->c->t_f32, p) : em_vload(e, mr, p, NULL);
}

static void fa_lanes_store(Em *e, LLVMValueRef v, LLVMValueRef p, int mr) {
  if (mr == 1) em_store(e, v, p);
  else em_vstore(e, v, p, NULL);
}

static LLVMValueRef fa_lane(Em *e, LLVMValueRef v, int mr, int r) {
  return mr == 1 ? v : LLVMBuildExtractElement(e->b, v, em_i32(e, r), "");
}

/* The online-softmax update of row slots slot0 .. slot0 + mr by their scores s[r][FA_NH]
 * (-inf where not visible): the rows' maxima, m and the corrections of the old state as
 * mr-lane vectors (one tree, one exp for all rows); each row's probabilities to p[r], its
 * running sum l updated, the corrections to corr[]. */
static void fa_softmax(Em *e, const Fa *t, const FaItem *it, LLVMValueRef slot0, int mr, LLVMValueRef s[][FA_NH]) {
  LLVMValueRef rmx[16];
  for (int r = 0; r < mr; r++) {
    rmx[r] = s[r][0];
    for (int hh = 1; hh < FA_NH; hh++) rmx[r] = em_fmax(e, rmx[r], s[r][hh]);
  }
  LLVMValueRef mp = gep_f32(e, it->mb, slot0), mo = fa_lanes_load(e, mp, mr);
  LLVMValueRef mn = em_fmax(e, mo, em_max_tree(e, rmx, mr));
  LLVMValueRef ninf = em_f32(e, -INFINITY), zero = em_f32(e, 0.0);
  if (mr > 1) ninf = em_splat(e, ninf, mr), zero = em_splat(e, zero, mr);
  /* nothing seen yet: subtract 0, so that exp(-inf - 0) = 0 rather than exp(NaN) */
  LLVMValueRef ms = LLVMBuildSelect(e->b, LLVMBuildFCmp(e->b, LLVMRealOEQ, mn, ninf, ""), zero, mn, "");
  LLVMValueRef corr = em_vexp(e, em_fsub(e, mo, ms));
  fa_lanes_store(e, mn, mp, mr);
  fa_lanes_store(e, corr, it->cb, mr);
  for (int r = 0; r < mr; r++) {
    LLVMValueRef msr = em_splat(e, fa_lane(e, ms, mr, r), t->vw), psum = NULL;
    for (int hh = 0; hh < FA_NH; hh++) {
      LLVMValueRef p = em_vexp(e, em_fsub(e, s[r][hh], msr));
      em_vstore(e, p, gep_f32(e, it->pb, em_i64(e, r * t->NB + hh * t->vw)), NULL);
      psum = psum ? em_fadd(e, psum, p) : p;
    }
    LLVMValueRef lp = gep_f32(e, it->lb, em_mul(e, em_add(e, slot0, em_i64(e, r)), em_i64(e, t->vw)));
    LLVMValueRef lv = em_vload(e, t->vw, lp, NULL);
    em_vstore(e, em_fadd(e, em_fmul(e, lv, em_splat(e, fa_lane(e, corr, mr, r), t->vw)), psum), lp, NULL);
  }
}

/* o[slot0 + r][c0 .. c0 + cw vectors) = o * corr[r] + sum over the block's keys of p[r][j] v_j */
static void fa_pv(Em *e, const Fa *t, const FaItem *it, LLVMValueRef slot0, int mr, int c0, int cw) {
  LLVMValueRef acc[EM_MAXCARRY], op[16];
  int na = mr * cw;
  for (int r = 0; r < mr; r++) {
    op[r] = gep_f32(e, it->ob, em_add(e, em_mul(e, em_add(e, slot0, em_i64(e, r)), em_i64(e, t->ohd)), em_i64(e, c0 * t->vw)));
    LLVMValueRef corr = em_splat(e, em_load(e, e->c->t_f32, gep_f32(e, it->cb, em_i64(e, r))), t->vw);
    for (int v = 0; v < cw; v++)
      acc[r * cw + v] = em_fmul(e, em_vload(e, t->vw, gep_f32(e, op[r], em_i64(e, v * t->vw)), NULL), corr);
  }
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd), last = em_sub(e, it->nk, em_i64(e, 1));
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, t->NB), 1, na, acc);
  memcpy(acc, l.carry, sizeof(LLVMValueRef) * na);
  LLVMValueRef row = em_mul(e, em_smin(e, em_add(e, it->j0, l.iv), last), kw), vv[16];
  for (int v = 0; v < cw; v++)
    vv[v] = em_vload(e, t->vw, gep_f32(e, it->vb, em_add(e, row, em_i64(e, (c0 + v) * t->vw))), fa_mask(e, t, c0 + v));
  for (int r = 0; r < mr; r++) {
    LLVMValueRef p = em_load(e, e->c->t_f32, gep_f32(e, it->pb, em_add(e, em_i64(e, r * t->NB), l.iv)));
    p = em_splat(e, p, t->vw);
    for (int v = 0; v < cw; v++) acc[r * cw + v] = em_fma(e, p, vv[v], acc[r * cw + v]);
  }
  em_loop_end(e, &l, acc, NULL);
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < cw; v++) em_vstore(e, l.carry[r * cw + v], gep_f32(e, op[r], em_i64(e, v * t->vw)), NULL);
}

/* Row slots slot0 .. slot0 + mr against the current key block, unless none of them sees it. */
static void fa_rows(Em *e, const Fa *t, const FaItem *it, LLVMValueRef slot0, int mr) {
  CgCtx *c = e->c;
  LLVMValueRef qr[16], vis[16][FA_NH], any = NULL;
  LLVMTypeRef bits = LLVMIntTypeInContext(c->ctx, (unsigned)t->vw);
  for (int r = 0; r < mr; r++) {
    LLVMValueRef row = em_add(e, it->q0, em_add(e, slot0, em_i64(e, r)));
    qr[r] = gep_f32(e, it->q, em_mul(e, row, em_i64(e, t->H * t->hd)));
    LLVMValueRef p = em_splat(e, em_load(e, c->t_i32, gep_i32(e, it->pos, row)), t->vw);
    for (int hh = 0; hh < FA_NH; hh++) {
      vis[r][hh] = LLVMBuildAnd(e->b, it->inb[hh], LLVMBuildICmp(e->b, LLVMIntSLE, it->kp[hh], p, ""), "visible");
      LLVMValueRef b = LLVMBuildBitCast(e->b, vis[r][hh], bits, "");
      any = any ? LLVMBuildOr(e->b, any, b, "") : b;
    }
  }
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, any, LLVMConstNull(bits), "any"));
  LLVMValueRef S[EM_MAXCARRY];
  fa_scores(e, t, it, qr, mr, S);
  LLVMValueRef scale = em_splat(e, em_f32(e, 1.0 / sqrt((double)t->hd)), t->vw);
  LLVMValueRef ninf = em_splat(e, em_f32(e, -INFINITY), t->vw);
  LLVMValueRef s[16][FA_NH];
  for (int r = 0; r < mr; r++)
    for (int hh = 0; hh < FA_NH; hh++)
      s[r][hh] = LLVMBuildSelect(e->b, vis[r][hh], em_fmul(e, S[r * FA_NH + hh], scale), ninf, "scores");
  fa_softmax(e, t, it, slot0, mr, s);
  int npass = (t->nv + t->CV - 1) / t->CV;
  for (int ps = 0, c0 = 0; ps < npass; ps++) {
    int cw = (t->nv - c0 + (npass - ps) - 1) / (npass - ps);
    fa_pv(e, t, it, slot0, mr, c0, cw);
    c0 += cw;
  }
  em_if_end(e, &f);
}

/* positions of the block's keys (INT32_MAX past the end) and which are in range */
static void fa_key_block(Em *e, const Fa *t, FaItem *it, LLVMValueRef j0) {
  LLVMTypeRef vt = LLVMVectorType(e->c->t_i32, (unsigned)t->vw), tys[2] = {vt, e->c->t_ptr};
  it->j0 = j0;
  for (int hh = 0; hh < FA_NH; hh++) {
    LLVMValueRef jh = em_add(e, j0, em_i64(e, hh * t->vw));
    it->inb[hh] = em_mask_lt(e, t->vw, em_sub(e, it->nk, jh));
    LLVMValueRef args[4] = {gep_i32(e, it->kpos, jh), em_i32(e, 4), it->inb[hh], em_splat(e, em_i32(e, INT32_MAX), t->vw)};
    it->kp[hh] = em_intrin(e, "llvm.masked.load", tys, 2, args, 4);
  }
}

/* The item's state before the first key: m = -inf, l = 0, o = 0; returns the largest
 * position of its rows. */
static LLVMValueRef fa_init(Em *e, const Fa *t, const FaItem *it, LLVMValueRef nrows) {
  LLVMValueRef qmax = em_i32(e, INT32_MIN);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), nrows, 1, 1, &qmax);
  em_store(e, em_f32(e, -INFINITY), gep_f32(e, it->mb, l.iv));
  em_vstore(e, em_vzero(e, t->vw), gep_f32(e, it->lb, em_mul(e, l.iv, em_i64(e, t->vw))), NULL);
  for (int c = 0; c < t->nv; c++)
    em_vstore(e, em_vzero(e, t->vw), gep_f32(e, it->ob, em_add(e, em_mul(e, l.iv, em_i64(e, t->ohd)), em_i64(e, c * t->vw))), NULL);
  LLVMValueRef p = em_load(e, e->c->t_i32, gep_i32(e, it->pos, em_add(e, it->q0, l.iv)));
  LLVMValueRef nx = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, p, l.carry[0], ""), p, l.carry[0], "");
  em_loop_end(e, &l, &nx, NULL);
  return l.carry[0];
}

/* out row = o / l (0 where the row saw no key) */
static void fa_finish(Em *e, const Fa *t, const FaItem *it, LLVMValueRef nrows) {
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), nrows, 1, 0, NULL);
  LLVMValueRef sum = em_hsum(e, em_vload(e, t->vw, gep_f32(e, it->lb, em_mul(e, l.iv, em_i64(e, t->vw))), NULL));
  LLVMValueRef seen = LLVMBuildFCmp(e->b, LLVMRealOGT, sum, em_f32(e, 0.0), "");
  LLVMValueRef inv = em_splat(e, LLVMBuildSelect(e->b, seen, em_fdiv(e, em_f32(e, 1.0), sum), em_f32(e, 0.0), ""), t->vw);
  LLVMValueRef o = gep_f32(e, it->out, em_mul(e, em_add(e, it->q0, l.iv), em_i64(e, t->H * t->hd)));
  for (int c = 0; c < t->nv; c++) {
    LLVMValueRef acc = em_vload(e, t->vw, gep_f32(e, it->ob, em_add(e, em_mul(e, l.iv, em_i64(e, t->ohd)), em_i64(e, c * t->vw))), NULL);
    em_vstore(e, em_fmul(e, acc, inv), gep_f32(e, o, em_i64(e, c * t->vw)), fa_mask(e, t, c));
  }
  em_loop_end(e, &l, NULL, NULL);
}

/* One item: rows [q0, q0 + nrows) of query head h over every key block one of them sees. */
static void fa_item(Em *e, const Fa *t, FaItem *it, LLVMValueRef nrows) {
  LLVMValueRef qmax = fa_init(e, t, it, nrows);
  LLVMValueRef mr = em_i64(e, t->MR), nfull = em_mul(e, LLVMBuildSDiv(e->b, nrows, mr, ""), mr);
  LLVMTypeRef bits = LLVMIntTypeInContext(e->c->ctx, (unsigned)t->vw);
  EmLoop lk, ls, lr;
  em_loop_begin(e, &lk, em_i64(e, 0), it->nk, t->NB, 0, NULL);
  fa_key_block(e, t, it, lk.iv);
  LLVMValueRef any = NULL, qm = em_splat(e, qmax, t->vw);
  for (int hh = 0; hh < FA_NH; hh++) {
    LLVMValueRef v = LLVMBuildAnd(e->b, it->inb[hh], LLVMBuildICmp(e->b, LLVMIntSLE, it->kp[hh], qm, ""), "");
    v = LLVMBuildBitCast(e->b, v, bits, "");
    any = any ? LLVMBuildOr(e->b, any, v, "") : v;
  }
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, any, LLVMConstNull(bits), "seen"));
  fa_transpose(e, t, it);
  em_loop_begin(e, &ls, em_i64(e, 0), nfull, t->MR, 0, NULL);
  fa_rows(e, t, it, ls.iv, t->MR);
  em_loop_end(e, &ls, NULL, NULL);
  em_loop_begin(e, &lr, nfull, nrows, 1, 0, NULL);
  fa_rows(e, t, it, lr.iv, 1);
  em_loop_end(e, &lr, NULL, NULL);
  em_if_end(e, &f);
  em_loop_end(e, &lk, NULL, NULL);
  fa_finish(e, t, it, nrows);
}

static void fa_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const Fa *t = vctx;
  CgCtx *c = e->c;
  FaItem it;
  LLVMValueRef hd = em_i64(e, t->hd), kb = a->p[1], vb = a->p[2];
  attn_key_range(e, t->kv, a, &it.kpos, &it.nk);
  it.kt = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->hd * t->NB)), "kt");
  it.ob = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->qbmax * t->ohd)), "o");
  it.mb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)t->qbmax), "m");
  it.lb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->qbmax * t->vw)), "l");
  it.pb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->MR * t->NB)), "p");
  it.cb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)t->MR), "corr");
  it.pos = a->p[3];
  LLVMValueRef qb = em_i64(e, t->qbmax), ilo, ihi;
  LLVMValueRef ngroups = LLVMBuildSDiv(e->b, em_add(e, a->rows, em_i64(e, t->qbmax - 1)), qb, "");
  span_items(e, lo, hi, &ilo, &ihi);
  EmLoop l;
  em_loop_begin(e, &l, ilo, ihi, 1, 0, NULL);
  /* head-major: a thread's contiguous items are whole heads, each with all its query blocks */
  LLVMValueRef h = LLVMBuildUDiv(e->b, l.iv, ngroups, "h"), gi = em_sub(e, l.iv, em_mul(e, h, ngroups));
  LLVMValueRef g = balanced_group(e, gi, ngroups);
  LLVMValueRef kvh = LLVMBuildUDiv(e->b, h, em_i64(e, t->H / t->Hk), "kvh");
  it.kb = gep_f32(e, kb, em_mul(e, kvh, hd));
  it.vb = gep_f32(e, vb, em_mul(e, kvh, hd));
  it.q = gep_f32(e, a->p[0], em_mul(e, h, hd));
  it.out = gep_f32(e, a->out, em_mul(e, h, hd));
  it.q0 = em_mul(e, g, qb);
  fa_item(e, t, &it, em_smin(e, qb, em_sub(e, a->rows, it.q0)));
  em_loop_end(e, &l, NULL, NULL);
}

/* The schedule (DESIGN section 8): MR x FA_NH score accumulators plus FA_NH key vectors and
 * a broadcast in the registers (32 with AVX-512, 16 below), MR x CV output accumulators in
 * P.V; QB bounded so an item's accumulators stay in L1. */
static Fa fa_schedule(const Attn *a, const CgCtx *c) {
  Fa t;
  t.kv = a->kv, t.layer = a->layer, t.H = a->H, t.Hk = a->Hk, t.hd = a->hd;
  t.vw = c->vw;
  t.nv = (int)((t.hd + t.vw - 1) / t.vw);
  t.NB = FA_NH * t.vw;
  t.MR = t.vw >= 16 ? 8 : 4;
  t.CV = (t.vw >= 16 ? 24 : 12) / t.MR;
  t.ohd = (int64_t)t.nv * t.vw;
  t.qbmax = FA_QB_ELEMS / t.ohd / t.MR * t.MR;
  if (t.qbmax < t.MR) t.qbmax = t.MR;
  if (t.qbmax > 64) t.qbmax = 64;
  return t;
}

/* kv_attention's append: this call's k, v rows and positions go to the layer's cache */
static void kv_append(Em *e, const Attn *t, const KArgs *a) {
  CgCtx *c = e->c;
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd);
  LLVMValueRef lenp = em_gep(e, c->t_i64, em_exec_field(e, a->exec, EXEC_KV_LEN), em_i64(e, t->layer));
  LLVMValueRef len = em_load(e, c->t_i64, lenp);
  LLVMValueRef bytes = em_mul(e, em_mul(e, a->rows, kw), em_i64(e, 4));
  LLVMValueRef kc = layer_ptr(e, a->exec, EXEC_KV_K, t->layer, c->t_ptr);
  LLVMValueRef vc = layer_ptr(e, a->exec, EXEC_KV_V, t->layer, c->t_ptr);
  LLVMValueRef pc = layer_ptr(e, a->exec, EXEC_KV_POS, t->layer, c->t_ptr);
  em_memcpy(e, gep_f32(e, kc, em_mul(e, len, kw)), a->p[1], bytes);
  em_memcpy(e, gep_f32(e, vc, em_mul(e, len, kw)), a->p[2], bytes);
  em_memcpy(e, gep_i32(e, pc, len), a->p[3], em_mul(e, a->rows, em_i64(e, 4)));
  em_store(e, em_add(e, len, a->rows), lenp);
}

static LLVMValueRef k_attention(Kern *k) {
  Attn t;
  t.kv = k->n->op == OP_KV_ATTENTION;
  t.layer = attr_i(k->n, "layer", -1);
  t.H = attr_i(k->n, "heads", 0);
  t.Hk = attr_i(k->n, "kv_heads", t.H);
  int64_t qc = ccols(k, k->in[0]), kc = ccols(k, k->in[1]);
  if (t.H <= 0 || t.Hk <= 0 || t.H % t.Hk || qc % t.H) die(k, "bad heads / kv_heads");
  t.hd = qc / t.H;
  if (kc != t.Hk * t.hd || ccols(k, k->in[2]) != kc) die(k, "k/v width disagrees with kv_heads*hd");
  if (t.kv && t.layer < 0) die(k, "no layer attribute");
  /* a head in at most 16 vectors (wider than the registers on small targets: LLVM splits) */
  if (t.hd > 1024) die(k, "head dim %lld above 1024", (long long)t.hd);
  for (t.vw = k->c->vw; (t.hd + t.vw - 1) / t.vw > 16; t.vw *= 2) {}
  t.nv = (int)((t.hd + t.vw - 1) / t.vw);
  t.B = t.nv <= 4 ? t.vw : t.vw / 2;
  if (t.B > 16) t.B = 16;
  t.bq = t.nv <= 4 ? 4 : t.nv <= 8 ? 2 : 1;
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  Kern kt = *k; /* the tasks' name: a kv_attention's without its layer (cache_args) */
  if (t.kv) {
    kv_append(&e, &t, &a);
    a = cache_args(&e, &a, t.layer);
    snprintf(kt.name, sizeof kt.name, "k_kv_attention_h%lld_kv%lld_hd%lld", (long long)t.H, (long long)t.Hk,
             (long long)t.hd);
  }
  /* keys: the whole cache after the append (decode spreads its heads over the threads) */
  LLVMValueRef keys = t.kv ? a.r[1] : a.rows;
  LLVMValueRef work = em_mul(&e, em_mul(&e, a.rows, keys), em_i64(&e, t.H * t.hd * 2));
  Fa fa = fa_schedule(&t, k->c);
  Kern kb = kt;
  snprintf(kb.name, sizeof kb.name, "%.240s.blocks", kt.name);
  EmIf f;
  em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntSGE, a.rows, em_i64(&e, fa.MR), "blocks"));
  LLVMValueRef items = LLVMBuildSDiv(e.b, em_add(&e, a.rows, em_i64(&e, fa.qbmax - 1)), em_i64(&e, fa.qbmax), "");
  par_for(&e, &kb, &a, em_mul(&e, items, em_i64(&e, t.H * ITEM_SPAN)), work, fa_body, &fa);
  em_if_else(&e, &f);
  /* fewer rows than a register block (a decode step): each row's dot products directly */
  LLVMValueRef bq = em_i64(&e, t.bq);
  LLVMValueRef groups = em_add(&e, LLVMBuildSDiv(e.b, a.rows, bq, ""), LLVMBuildSRem(e.b, a.rows, bq, ""));
  par_for(&e, &kt, &a, em_mul(&e, groups, em_i64(&e, t.H * ITEM_SPAN)), work, attn_body, &t);
  em_if_end(&e, &f);
  return kend(&e);
}

/* ---- row plumbing: take_last, gather ---- */

static LLVMValueRef k_take_last(Kern *k) {
  int64_t C = ccols(k, k->out);
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  EmIf f;
  em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntSGT, a.r[0], em_i64(&e, 0), ""));
  LLVMValueRef src = gep_f32(&e, a.p[0], em_mul(&e, em_sub(&e, a.r[0], em_i64(&e, 1)), em_i64(&e, C)));
  em_memcpy(&e, a.out, src, em_i64(&e, C * 4));
  em_if_end(&e, &f);
  return kend(&e);
}

/* out[j] = x[clamp(idx[j])], rows of C elements of any 4-byte type (f32 activations, i32 positions) */
static LLVMValueRef k_gather(Kern *k) {
  int64_t C = ccols(k, k->out), es = dtype_size(k->out->dt);
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  EmIf f;
  em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntSGT, a.r[0], em_i64(&e, 0), ""));
  EmLoop l;
  em_loop_begin(&e, &l, em_i64(&e, 0), a.rows, 1, 0, NULL);
  LLVMValueRef i = clamp_row(&e, em_sext64(&e, em_load(&e, e.c->t_i32, gep_i32(&e, a.p[1], l.iv))), a.r[0]);
  LLVMValueRef row = em_i64(&e, C * es);
  em_memcpy(&e, em_gep(&e, e.c->t_i8, a.out, em_mul(&e, l.iv, row)),
            em_gep(&e, e.c->t_i8, a.p[0], em_mul(&e, i, row)), row);
  em_loop_end(&e, &l, NULL, NULL);
  em_if_end(&e, &f);
  return kend(&e);
}

/* ---- routing: topk, select, scatter_gate ---- */

static LLVMValueRef k_topk(Kern *k) {
  CgCtx *c = k->c;
  int64_t kk = attr_i(k->n, "k", cdim(k, k->out, 0));
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  LLVMValueRef args[4] = {a.p[0], a.r[0], em_smin(&e, em_i64(&e, kk), a.r[0]), a.out};
  LLVMBuildCall2(e.b, LLVMGlobalGetValueType(c->fn_topk), c->fn_topk, args, 4, "");
  return kend(&e);
}

/* exec->route[layer], or null when the session keeps no trace (no route array, or none
 * for this layer) */
static LLVMValueRef route_row(Em *e, LLVMValueRef exec, int64_t layer) {
  CgCtx *c = e->c;
  LLVMValueRef nul = LLVMConstNull(c->t_ptr);
  if (layer < 0) return nul;
  LLVMValueRef rt = em_exec_field(e, exec, EXEC_ROUTE);
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, rt, nul, ""));
  LLVMValueRef got = em_load(e, c->t_ptr, em_gep(e, c->t_ptr, rt, em_i64(e, layer)));
  LLVMBasicBlockRef then_end = LLVMGetInsertBlock(e->b);
  em_if_end(e, &f);
  LLVMValueRef rl = LLVMBuildPhi(e->b, c->t_ptr, "route");
  LLVMValueRef v[2] = {got, nul};
  LLVMBasicBlockRef bb[2] = {then_end, f.else_bb};
  LLVMAddIncoming(rl, v, bb, 2);
  return rl;
}

/* idx = rows with p > 0 ascending; dims[sym] = their count; route[layer][pos[i]] = taken */
static LLVMValueRef k_select(Kern *k) {
  CgCtx *c = k->c;
  if (k->out->rank != 1) die(k, "result must be i32[m]");
  int64_t d0 = k->out->dim[0];
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  LLVMValueRef rl = route_row(&e, a.exec, attr_i(k->n, "layer", -1)), m0 = em_i64(&e, 0);
  EmLoop l;
  em_loop_begin(&e, &l, em_i64(&e, 0), a.r[0], 1, 1, &m0);
  LLVMValueRef p = em_load(&e, c->t_f32, gep_f32(&e, a.p[0], l.iv));
  LLVMValueRef taken = LLVMBuildFCmp(e.b, LLVMRealOGT, p, em_f32(&e, 0.0), "taken");
  EmIf f, g, h;
  em_if_begin(&e, &f, taken);
  em_store(&e, LLVMBuildTrunc(e.b, l.iv, c->t_i32, ""), gep_i32(&e, a.out, l.carry[0]));
  em_if_end(&e, &f);
  em_if_begin(&e, &g, LLVMBuildICmp(e.b, LLVMIntNE, rl, LLVMConstNull(c->t_ptr), ""));
  LLVMValueRef ps = em_sext64(&e, em_load(&e, c->t_i32, gep_i32(&e, a.p[1], l.iv)));
  em_if_begin(&e, &h, LLVMBuildICmp(e.b, LLVMIntSGE, ps, em_i64(&e, 0), ""));
  em_store(&e, LLVMBuildZExt(e.b, taken, c->t_i8, ""), em_gep(&e, c->t_i8, rl, ps));
  em_if_end(&e, &h);
  em_if_end(&e, &g);
  LLVMValueRef nx = em_add(&e, l.carry[0], LLVMBuildZExt(e.b, taken, c->t_i64, ""));
  em_loop_end(&e, &l, &nx, NULL);
  if (DIM_IS_SYM(d0))
    em_store(&e, l.carry[0], em_gep(&e, c->t_i64, em_exec_field(&e, a.exec, EXEC_DIMS), em_i64(&e, DIM_SYMNO(d0))));
  return kend(&e);
}

typedef struct Scatter {
  LLVMValueRef out, h, y, g;
} Scatter;

static void scatter_step(Em *e, LLVMValueRef off, LLVMValueRef mask, int w, void *vctx) {
  const Scatter *s = vctx;
  LLVMValueRef x = em_vload(e, w, gep_f32(e, s->h, off), mask);
  LLVMValueRef y = em_vload(e, w, gep_f32(e, s->y, off), mask);
  LLVMValueRef v = em_fadd(e, x, em_fmul(e, em_splat(e, s->g, w), em_fsub(e, y, x)));
  em_vstore(e, v, gep_f32(e, s->out, off), mask);
}

/* out = h; out[idx[j]] = x + g(r[idx[j]]) * (y[j] - x), x = h[idx[j]] */
static LLVMValueRef k_scatter_gate(Kern *k) {
  CgCtx *c = k->c;
  int64_t d = ccols(k, k->out);
  const char *gate = attr_s(k->n, "gate", "raw");
  int sig = !strcmp(gate, "sigmoid");
  if (!sig && strcmp(gate, "raw")) die(k, "gate \"%s\"", gate);
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  LLVMValueRef D = em_i64(&e, d);
  copy_unless_inplace(&e, a.out, a.p[0], em_mul(&e, em_mul(&e, a.rows, D), em_i64(&e, 4)));
  EmIf f;
  em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntSGT, a.rows, em_i64(&e, 0), ""));
  EmLoop l;
  em_loop_begin(&e, &l, em_i64(&e, 0), a.r[1], 1, 0, NULL);
  LLVMValueRef i = clamp_row(&e, em_sext64(&e, em_load(&e, c->t_i32, gep_i32(&e, a.p[1], l.iv))), a.rows);
  LLVMValueRef r = em_load(&e, c->t_f32, gep_f32(&e, a.p[3], i));
  Scatter s = {gep_f32(&e, a.out, em_mul(&e, i, D)), gep_f32(&e, a.p[0], em_mul(&e, i, D)),
               gep_f32(&e, a.p[2], em_mul(&e, l.iv, D)), sig ? sigmoid(&e, r) : r};
  em_vec_loop(&e, D, c->vw, scatter_step, &s);
  em_loop_end(&e, &l, NULL, NULL);
  em_if_end(&e, &f);
  return kend(&e);
}

/* ---- keys, cache, dispatch ---- */

/* The key (and function name) of node i: op, inner shapes, dtypes, attributes. */
static void kernel_key(const Kern *k, char *buf, size_t n) {
  const Node *nd = k->n;
  const Type *x = k->in[0], *o = k->out;
  const char *op = op_names[nd->op];
  switch (nd->op) {
  case OP_EMBED:
    snprintf(buf, n, "k_embed_v%lld_d%lld_%s", (long long)cdim(k, k->in[1], 0), (long long)ccols(k, o), dtype_name(k->in[1]->dt));
    break;
  case OP_RMSNORM: {
    const Attr *eps = attr_get(nd, "eps");
    snprintf(buf, n, "k_rmsnorm_d%lld_eps%.9g", (long long)ccols(k, o), eps ? (eps->kind == ATTR_INT ? (double)eps->i : eps->f) : 0.0);
    break;
  }
  case OP_MATMUL: case OP_MATMUL_ADD: case OP_MATMUL_SILU_MUL: case OP_MATMUL_NORM_GATHER:
  case OP_MATMUL_ADD_GATHER: case OP_MATMUL_SCATTER_GATE: {
    char extra[48] = "";
    if (nd->op == OP_MATMUL_NORM_GATHER) snprintf(extra, sizeof extra, "_eps%.9g", norm_eps(k));
    if (nd->op == OP_MATMUL_SCATTER_GATE) snprintf(extra, sizeof extra, "_%s", attr_s(nd, "gate", "raw"));
    snprintf(buf, n, "k_%s_n%lld_k%lld_%s_nr%lld%s", op, (long long)cdim(k, k->in[1], 0), (long long)cdim(k, k->in[1], 1),
             dtype_name(k->in[1]->dt), (long long)attr_i(&k->g->n[nd->in[1]], "nr", 0), extra);
    break;
  }
  case OP_ROPE:
    snprintf(buf, n, "k_rope_c%lld_h%lld_theta%.17g", (long long)ccols(k, o), (long long)attr_i(nd, "heads", 0), attr_f(nd, "theta", 0));
    break;
  case OP_ATTENTION:
  case OP_KV_ATTENTION: {
    int64_t H = attr_i(nd, "heads", 0), hd = H > 0 ? ccols(k, x) / H : 0;
    char layer[32] = "";
    if (nd->op == OP_KV_ATTENTION) snprintf(layer, sizeof layer, "_l%lld", (long long)attr_i(nd, "layer", -1));
    snprintf(buf, n, "k_%s%s_h%lld_kv%lld_hd%lld", op, layer, (long long)H, (long long)attr_i(nd, "kv_heads", H), (long long)hd);
    break;
  }
  case OP_TOPK: snprintf(buf, n, "k_topk_k%lld", (long long)attr_i(nd, "k", cdim(k, o, 0))); break;
  case OP_SELECT:
    snprintf(buf, n, "k_select_l%lld_s%d", (long long)attr_i(nd, "layer", -1), DIM_IS_SYM(o->dim[0]) ? DIM_SYMNO(o->dim[0]) : -1);
    break;
  case OP_GATHER: snprintf(buf, n, "k_gather_c%lld_%s", (long long)ccols(k, o), dtype_name(o->dt)); break;
  case OP_SCATTER_GATE: snprintf(buf, n, "k_scatter_gate_d%lld_%s", (long long)ccols(k, o), attr_s(nd, "gate", "raw")); break;
  default: snprintf(buf, n, "k_%s_c%lld", op, (long long)ccols(k, o)); break;
  }
  for (char *p = buf; *p; p++) /* "bias_add" etc. keep '_'; a '+' or '-' in %g becomes legible */
    if (*p == '+') *p = 'p';
}

static LLVMValueRef emit_kernel(Kern *k) {
  switch (k->n->op) {
  case OP_EMBED: case OP_ADD: case OP_BIAS_ADD: case OP_SILU: case OP_SILU_MUL: return k_elementwise(k);
  case OP_RMSNORM: return k_rmsnorm(k);
  case OP_MATMUL: case OP_MATMUL_ADD: case OP_MATMUL_SILU_MUL: case OP_MATMUL_NORM_GATHER:
  case OP_MATMUL_ADD_GATHER: case OP_MATMUL_SCATTER_GATE: return k_matmul(k);
  case OP_ROPE: return k_rope(k);
  case OP_ATTENTION: case OP_KV_ATTENTION: return k_attention(k);
  case OP_TAKE_LAST: return k_take_last(k);
  case OP_TOPK: return k_topk(k);
  case OP_SELECT: return k_select(k);
  case OP_GATHER: return k_gather(k);
  case OP_SCATTER_GATE: return k_scatter_gate(k);
  default: die(k, "no kernel for op %s", op_names[k->n->op]); return NULL;
  }
}

LLVMValueRef cg_kernel(CgCtx *c, const Graph *g, int node) {
  const Node *n = &g->n[node];
  switch (n->op) {
  case OP_INPUT: case OP_WEIGHT: case OP_OUTPUT: case OP_BLOCK_ARG: case OP_YIELD: case OP_MOD_BLOCK: return NULL;
  default: break;
  }
  Kern k = {c, g, n, &n->ty, {0}, ""};
  snprintf(k.name, sizeof k.name, "%s node %d", op_names[n->op], node);
  if (n->ty.rank < 1) die(&k, "result type not inferred");
  for (int i = 0; i < n->nin; i++) k.in[i] = &g->n[n->in[i]].ty;
  if (n->nin != op_ninputs[n->op] || n->nin > CG_KOPS) die(&k, "%d operands", n->nin);
  char key[sizeof k.name];
  kernel_key(&k, key, sizeof key);
  for (int i = 0; i < c->nkernels; i++)
    if (!strcmp(c->kernels[i].key, key)) return c->kernels[i].fn;
  memcpy(k.name, key, sizeof key);
  LLVMValueRef fn = emit_kernel(&k);
  if (c->nkernels == c->capkernels) {
    int cap = c->capkernels ? 2 * c->capkernels : 32;
    CgKernel *p = realloc(c->kernels, (size_t)cap * sizeof *p);
    if (!p) die(&k, "out of memory");
    c->kernels = p, c->capkernels = cap;
  }
  CgKernel *ck = &c->kernels[c->nkernels++];
  snprintf(ck->key, sizeof ck->key, "%s", key);
  ck->fn = fn;
  return fn;
}
