/* kernels.c: one LLVM function per kernel, through the LLVM C API (cg.h: cg_kernel): the
 * skeleton every kernel is built on, the helpers they share, kernel keys, and the table that
 * maps each op to its emitter (kern.h says which file holds which).
 *
 * Functions are keyed by op + inner shapes + dtypes + attributes + schedule record and
 * shared through c->kernels; the key doubles as the function's name.  One function serves
 * forward graphs (constant rows) and session graphs (rows from dims[]) alike.
 *
 * Numerics (DESIGN section 4): float32 throughout, weights widened exactly from bf16, no
 * approximate math beyond llvm.exp / llvm.sqrt / llvm.cos / llvm.sin (libm) and em_vexp
 * (emit.h: inline, within 2 ulp; the softmax of attention and SiLU).  The arithmetic
 * of every output element is fixed by the node, its record and the call's row count, never
 * by the thread count or the task that computes it (work is split over independent outputs
 * only, and sums use emit.c's fixed halving tree), so results are bit-identical for any
 * number of threads.
 *
 * Parallel kernels outline their loop body into a task `void task(ptr args, i64 lo, i64 hi)`
 * over independent items (rows, column blocks, (row, head) pairs) and call
 * modc_rt_parallel_for with the kernel's own parameters as the args struct.
 *
 * Schedules: every choice of vector width, register tile, block and work split comes from
 * the node's schedule record (ir/sched.h, set by passes/schedule.c); a kernel node without
 * its record is an internal error.
 */
#include "kern.h"

void kdie(const Kern *k, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "modc: internal error: codegen of %s: ", k->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

/* "_r" and the record's fields joined by '.' (nothing without a record): part of a kernel's
 * key and name, so kernels of different records are different functions. */
void record_suffix(const Sched *r, char *buf, size_t n) {
  char text[512];
  if (!n) return;
  buf[0] = 0;
  if (r->kind == SK_NONE) return;
  sched_format(r, text, sizeof text);
  size_t len = (size_t)snprintf(buf, n, "_r");
  for (const char *p = strchr(text, '{'); p && *p && len + 1 < n; p++) {
    if (*p >= '0' && *p <= '9') buf[len++] = *p;
    else if (*p == ',' && len && buf[len - 1] != '.') buf[len++] = '.';
  }
  buf[len] = 0;
}

_Static_assert(SCHED_MAX_CARRY == EM_MAXCARRY, "ir/sched.h's carry bound is emit.h's");

/* The node's schedule record, which must be of the kind its op takes. */
const Sched *ksched(const Kern *k) {
  SchedKind want = sched_kind_for(k->n->op);
  if (want == SK_NONE || k->n->sched.kind != want)
    kdie(k, "no #%s schedule record (run the schedule pass)", sched_kind_names[want]);
  return &k->n->sched;
}

/* dim i of t, which must be a constant (inner dims always are); 1 past the rank */
int64_t cdim(const Kern *k, const Type *t, int i) {
  if (i >= t->rank) return 1;
  if (DIM_IS_SYM(t->dim[i])) kdie(k, "dimension %d is dynamic", i);
  return t->dim[i];
}

/* columns of a row-major value: the product of the dims after the first */
int64_t ccols(const Kern *k, const Type *t) {
  int64_t n = 1;
  for (int i = 1; i < t->rank; i++) n *= cdim(k, t, i);
  return n;
}

LLVMTypeRef elem_type(CgCtx *c, DType dt) {
  return dt == DT_BF16 || dt == DT_F16 ? c->t_i16 : dt == DT_I32 ? c->t_i32 : c->t_f32;
}

/* ---- kernel skeleton and the parallel task ---- */

void kbegin(Em *e, const Kern *k, KArgs *a) {
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

LLVMValueRef kend(Em *e) {
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
 * with the exec, or with NULL (the calling thread alone) when the whole call does less work
 * than the record's par_min. */
void par_for(Em *e, const Kern *k, const KArgs *a, LLVMValueRef n, LLVMValueRef work,
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
  LLVMValueRef small = LLVMBuildICmp(e->b, LLVMIntSLT, work, em_i64(e, ksched(k)->par_min), "");
  LLVMValueRef x = LLVMBuildSelect(e->b, small, LLVMConstNull(c->t_ptr), a->exec, "exec");
  LLVMValueRef args[4] = {x, task, slot, n};
  LLVMBuildCall2(e->b, LLVMGlobalGetValueType(c->fn_parallel_for), c->fn_parallel_for, args, 4, "");
}

/* ---- small helpers ---- */

/* The items [*ilo, *ihi) of a task over indices [lo, hi) of items spread ITEM_SPAN apart */
void span_items(Em *e, LLVMValueRef lo, LLVMValueRef hi, LLVMValueRef *ilo, LLVMValueRef *ihi) {
  LLVMValueRef s = em_i64(e, ITEM_SPAN), s1 = em_i64(e, ITEM_SPAN - 1);
  *ilo = LLVMBuildUDiv(e->b, em_add(e, lo, s1), s, "");
  *ihi = LLVMBuildUDiv(e->b, em_add(e, hi, s1), s, "");
}


/* clamp an i64 into [0, n-1] (n >= 1), so a bad index never reads out of bounds */
LLVMValueRef clamp_row(Em *e, LLVMValueRef i, LLVMValueRef n) {
  return em_smax(e, em_smin(e, i, em_sub(e, n, em_i64(e, 1))), em_i64(e, 0));
}

/* out = h, skipped when plan-memory gave out h's own storage (an in-place scatter) */
void copy_unless_inplace(Em *e, LLVMValueRef out, LLVMValueRef h, LLVMValueRef bytes) {
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, out, h, ""));
  em_memmove(e, out, h, bytes);
  em_if_end(e, &f);
}

/* x / (1 + exp(-x)), scalar or vector; em_vexp keeps it vectorised (llvm.exp would be a
 * libm call per lane), and its overflow to +inf for x < -89 gives -0 as the limit wants */
LLVMValueRef silu(Em *e, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  LLVMValueRef one = em_f32(e, 1.0);
  if (LLVMGetTypeKind(t) == LLVMVectorTypeKind) one = em_splat(e, one, (int)LLVMGetVectorSize(t));
  return em_fdiv(e, x, em_fadd(e, one, em_vexp(e, LLVMBuildFNeg(e->b, x, ""))));
}

/* 1 / (1 + exp(-x)), scalar */
LLVMValueRef sigmoid(Em *e, LLVMValueRef x) {
  LLVMValueRef one = em_f32(e, 1.0);
  return em_fdiv(e, one, em_fadd(e, one, em_exp(e, LLVMBuildFNeg(e->b, x, ""))));
}

/* sum of pa[i]*pb[i] over a constant n, one <w x float> accumulator, then the tree */
LLVMValueRef vdot(Em *e, LLVMValueRef pa, LLVMValueRef pb, int64_t n, int w) {
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

/* ---- keys, cache, dispatch ---- */

/* The op table of codegen: each op's emitter (its key is passes/kkey.c's).  Graph plumbing
 * (input, weight, output, block.arg, yield, mod.block) has no kernel; any other op without an
 * entry is an internal error. */
typedef struct KernelDef {
  LLVMValueRef (*emit)(Kern *k);
} KernelDef;

static const KernelDef kernel_defs[OP_COUNT] = {
  [OP_EMBED] = {k_elementwise},
  [OP_ADD] = {k_elementwise},
  [OP_BIAS_ADD] = {k_elementwise},
  [OP_SILU] = {k_elementwise},
  [OP_SILU_MUL] = {k_elementwise},
  [OP_RMSNORM] = {k_rmsnorm},
  [OP_MATMUL] = {k_matmul},
  [OP_MATMUL_ADD] = {k_matmul},
  [OP_MATMUL_SILU_MUL] = {k_matmul},
  [OP_MATMUL_NORM_GATHER] = {k_matmul},
  [OP_MATMUL_ADD_GATHER] = {k_matmul},
  [OP_MATMUL_SCATTER_GATE] = {k_matmul},
  [OP_ROPE] = {k_rope},
  [OP_ATTENTION] = {k_attention},
  [OP_KV_ATTENTION] = {k_attention},
  [OP_TAKE_LAST] = {k_take_last},
  [OP_TOPK] = {k_topk},
  [OP_SELECT] = {k_select},
  [OP_GATHER] = {k_gather},
  [OP_SCATTER_GATE] = {k_scatter_gate},
};

/* passes/kkey.c's key and the record: the function's name */
static void kernel_key_rec(const Kern *k, int node, char *buf, size_t n) {
  if (kernel_key(k->g, node, buf, n)) kdie(k, "no kernel key: %s", buf);
  size_t len = strlen(buf);
  record_suffix(&k->n->sched, buf + len, len < n ? n - len : 0);
}

LLVMValueRef cg_kernel(CgCtx *c, const Graph *g, int node) {
  const Node *n = &g->n[node];
  switch (n->op) { /* graph plumbing: no kernel */
  case OP_INPUT: case OP_WEIGHT: case OP_OUTPUT: case OP_BLOCK_ARG: case OP_YIELD: case OP_MOD_BLOCK: return NULL;
  default: break;
  }
  Kern k = {c, g, n, &n->ty, {0}, ""};
  snprintf(k.name, sizeof k.name, "%s node %d", op_names[n->op], node);
  if (!kernel_defs[n->op].emit) kdie(&k, "no kernel for op %s", op_names[n->op]);
  if (n->ty.rank < 1) kdie(&k, "result type not inferred");
  for (int i = 0; i < n->nin; i++) k.in[i] = &g->n[n->in[i]].ty;
  if (n->nin != op_ninputs[n->op] || n->nin > CG_KOPS) kdie(&k, "%d operands", n->nin);
  char key[sizeof k.name];
  kernel_key_rec(&k, node, key, sizeof key);
  for (int i = 0; i < c->nkernels; i++)
    if (!strcmp(c->kernels[i].key, key)) return c->kernels[i].fn;
  memcpy(k.name, key, sizeof key);
  LLVMValueRef fn = kernel_defs[n->op].emit(&k);
  if (c->nkernels == c->capkernels) {
    int cap = c->capkernels ? 2 * c->capkernels : 32;
    CgKernel *p = realloc(c->kernels, (size_t)cap * sizeof *p);
    if (!p) kdie(&k, "out of memory");
    c->kernels = p, c->capkernels = cap;
  }
  CgKernel *ck = &c->kernels[c->nkernels++];
  snprintf(ck->key, sizeof ck->key, "%s", key);
  ck->fn = fn;
  return fn;
}

