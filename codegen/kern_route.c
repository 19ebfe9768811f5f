/* kern_route.c: the routing kernels (topk, select with its routing trace, scatter_gate)
 * and the row plumbing (take_last, gather).  They run on the calling thread: their work
 * is a few rows' copies or one pass over the router's scores. */
#include "kern.h"

/* ---- row plumbing: take_last, gather ---- */

LLVMValueRef k_take_last(Kern *k) {
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
LLVMValueRef k_gather(Kern *k) {
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

LLVMValueRef k_topk(Kern *k) {
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

/* idx = rows with p > threshold ascending (the threshold rounded to f32, as p is);
 * dims[sym] = their count; route[layer][pos[i]] = taken */
LLVMValueRef k_select(Kern *k) {
  CgCtx *c = k->c;
  if (k->out->rank != 1) kdie(k, "result must be i32[m]");
  int64_t d0 = k->out->dim[0];
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  LLVMValueRef rl = route_row(&e, a.exec, attr_i(k->n, "layer", -1)), m0 = em_i64(&e, 0);
  EmLoop l;
  em_loop_begin(&e, &l, em_i64(&e, 0), a.r[0], 1, 1, &m0);
  LLVMValueRef p = em_load(&e, c->t_f32, gep_f32(&e, a.p[0], l.iv));
  LLVMValueRef taken = LLVMBuildFCmp(e.b, LLVMRealOGT, p, em_f32(&e, (float)attr_f(k->n, "threshold", 0.0)), "taken");
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
LLVMValueRef k_scatter_gate(Kern *k) {
  CgCtx *c = k->c;
  int64_t d = ccols(k, k->out);
  const char *gate = attr_s(k->n, "gate", "raw");
  int sig = !strcmp(gate, "sigmoid");
  if (!sig && strcmp(gate, "raw")) kdie(k, "gate \"%s\"", gate);
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

