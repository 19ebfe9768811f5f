/* kern_ew.c: the elementwise kernels (add, bias_add, silu, silu_mul, the row copy of embed),
 * rmsnorm (whose row arithmetic matmul_norm_gather reuses) and RoPE (its cos/sin read from
 * constant tables over the model's positions).  Each runs its rows (or a flat range) through
 * em_vec_loop at the #ew record's vector width, split over threads when the call does more
 * work than the record's par_min. */
#include "kern.h"

/* ---- elementwise: add, bias_add, silu, silu_mul, and the row copy of embed ---- */

typedef struct Ew {
  Op op;
  int64_t C;                /* columns */
  int vw;                   /* the record's vector width */
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
  em_vec_loop(e, em_mul(e, em_sub(e, hi, lo), em_i64(e, x.C)), x.vw, ew_step, &x);
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
  em_vec_loop(e, C, x.vw, ew_step, &x);
  em_loop_end(e, &l, NULL, NULL);
}

LLVMValueRef k_elementwise(Kern *k) {
  Em e;
  KArgs a;
  Ew x = {k->n->op, ccols(k, k->out), (int)ksched(k)->vw, DT_F32, NULL, NULL, NULL};
  if (x.op == OP_EMBED) {
    x.dt = k->in[1]->dt;
    if (x.dt != DT_F32 && x.dt != DT_BF16) kdie(k, "table dtype %s", dtype_name(x.dt));
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


static void norm_step(Em *e, LLVMValueRef off, LLVMValueRef mask, int w, void *vctx) {
  const Norm *n = vctx;
  LLVMValueRef x = em_vload(e, w, gep_f32(e, n->x, off), mask);
  LLVMValueRef g = em_vload(e, w, gep_f32(e, n->w, off), mask);
  em_vstore(e, em_fmul(e, em_fmul(e, x, em_splat(e, n->inv, w)), g), gep_f32(e, n->out, off), mask);
}

/* one row: out[0..d) = x[0..d) * inv * w; the arithmetic of every rmsnorm, fused or not */
void norm_row(Em *e, Norm n, LLVMValueRef x, LLVMValueRef w, LLVMValueRef out) {
  n.x = x, n.w = w, n.out = out;
  LLVMValueRef ss = vdot(e, n.x, n.x, n.d, n.vw);
  LLVMValueRef ms = em_fadd(e, em_fdiv(e, ss, em_f32(e, (double)n.d)), em_f32(e, n.eps));
  n.inv = em_fdiv(e, em_f32(e, 1.0), em_sqrt(e, ms));
  em_vec_loop(e, em_i64(e, n.d), n.vw, norm_step, &n);
}

static void norm_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const Norm *n = vctx;
  EmLoop l;
  em_loop_begin(e, &l, lo, hi, 1, 0, NULL);
  LLVMValueRef off = em_mul(e, l.iv, em_i64(e, n->d));
  norm_row(e, *n, gep_f32(e, a->p[0], off), a->p[1], gep_f32(e, a->out, off));
  em_loop_end(e, &l, NULL, NULL);
}

double norm_eps(const Kern *k) {
  const Attr *eps = attr_get(k->n, "eps");
  if (!eps) kdie(k, "no eps attribute");
  return eps->kind == ATTR_INT ? (double)eps->i : eps->f;
}

LLVMValueRef k_rmsnorm(Kern *k) {
  Norm n = {ccols(k, k->out), norm_eps(k), (int)ksched(k)->vw, NULL, NULL, NULL, NULL};
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  par_for(&e, k, &a, a.rows, em_mul(&e, a.rows, em_i64(&e, 4 * n.d)), norm_body, &n);
  return kend(&e);
}

/* ---- rope: HF rotate-half at each row's position ---- */

typedef struct Rope {
  int64_t C, heads, hd;
  int vw;                   /* the record's vector width */
  double theta;
  LLVMValueRef invf;        /* global [hd/2 x double] */
  int64_t ntab;             /* positions in the constant tables (at least 1) */
  LLVMValueRef tcos, tsin;  /* global [ntab * hd/2 x float] */
  LLVMValueRef cs, sn;      /* the row's [hd/2 x float] cos and sin */
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

/* cos/sin of one position into cs, sn: angle = pos * inv_freq in double, as the reference */
static void rope_angles(Em *e, const Rope *r, LLVMValueRef pos, LLVMValueRef cs, LLVMValueRef sn) {
  int64_t half = r->hd / 2;
  LLVMValueRef p = LLVMBuildSIToFP(e->b, pos, e->c->t_f64, "");
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, half), 1, 0, NULL);
  LLVMValueRef f = em_load(e, e->c->t_f64, em_gep(e, e->c->t_f64, r->invf, l.iv));
  LLVMValueRef ang = em_fmul(e, p, f);
  LLVMTypeRef t = e->c->t_f64;
  LLVMValueRef c = em_intrin(e, "llvm.cos", &t, 1, &ang, 1);
  LLVMValueRef s = em_intrin(e, "llvm.sin", &t, 1, &ang, 1);
  em_store(e, LLVMBuildFPTrunc(e->b, c, e->c->t_f32, ""), gep_f32(e, cs, l.iv));
  em_store(e, LLVMBuildFPTrunc(e->b, s, e->c->t_f32, ""), gep_f32(e, sn, l.iv));
  em_loop_end(e, &l, NULL, NULL);
}

/* Points r->cs, r->sn at position pos's angles: its rows of the constant tables when
 * 0 <= pos < ntab, else the stack tables st_c, st_s filled as rope_angles does. */
static void rope_row_tables(Em *e, Rope *r, LLVMValueRef pos, LLVMValueRef st_c, LLVMValueRef st_s) {
  LLVMValueRef p = em_sext64(e, pos);
  LLVMValueRef in = LLVMBuildICmp(e->b, LLVMIntULT, p, em_i64(e, r->ntab), "in_table");
  EmIf f;
  em_if_begin(e, &f, LLVMBuildNot(e->b, in, ""));
  rope_angles(e, r, pos, st_c, st_s);
  em_if_end(e, &f);
  LLVMValueRef row = em_mul(e, LLVMBuildSelect(e->b, in, p, em_i64(e, 0), ""), em_i64(e, r->hd / 2));
  r->cs = LLVMBuildSelect(e->b, in, gep_f32(e, r->tcos, row), st_c, "cos");
  r->sn = LLVMBuildSelect(e->b, in, gep_f32(e, r->tsin, row), st_s, "sin");
}

static void rope_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  Rope r = *(const Rope *)vctx;
  LLVMTypeRef tab = LLVMArrayType2(e->c->t_f32, (uint64_t)(r.hd / 2));
  LLVMValueRef st_c = em_alloca(e, tab, "cos"), st_s = em_alloca(e, tab, "sin");
  EmLoop l, lh;
  em_loop_begin(e, &l, lo, hi, 1, 0, NULL);
  rope_row_tables(e, &r, em_load(e, e->c->t_i32, gep_i32(e, a->p[1], l.iv)), st_c, st_s);
  LLVMValueRef row = em_mul(e, l.iv, em_i64(e, r.C));
  em_loop_begin(e, &lh, em_i64(e, 0), em_i64(e, r.heads), 1, 0, NULL);
  LLVMValueRef off = em_add(e, row, em_mul(e, lh.iv, em_i64(e, r.hd)));
  r.x = gep_f32(e, a->p[0], off);
  r.out = gep_f32(e, a->out, off);
  em_vec_loop(e, em_i64(e, r.hd / 2), r.vw, rope_step, &r);
  em_loop_end(e, &lh, NULL, NULL);
  em_loop_end(e, &l, NULL, NULL);
}

/* A private constant global `name` of n values (f64 when dbl, else rounded to f32). */
static LLVMValueRef rope_global(CgCtx *c, const char *name, const double *v, int64_t n, int dbl) {
  LLVMTypeRef t = dbl ? c->t_f64 : c->t_f32;
  LLVMValueRef *cv = malloc(sizeof *cv * (size_t)n);
  for (int64_t i = 0; i < n; i++) cv[i] = LLVMConstReal(t, dbl ? v[i] : (double)(float)v[i]);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMArrayType2(t, (uint64_t)n), name);
  LLVMSetInitializer(g, LLVMConstArray2(t, cv, (uint64_t)n));
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  free(cv);
  return g;
}

/* The inverse frequencies and, for c->rope_positions positions, the cos/sin tables that
 * rope_angles would compute (the same double arithmetic, rounded to float once); made by the
 * first kernel of a head size and theta, shared by name with the others. */
static void rope_consts(CgCtx *c, Rope *r) {
  int64_t half = r->hd / 2, n = c->rope_positions;
  char fname[96], cname[96], sname[96];
  snprintf(fname, sizeof fname, "rope.inv_freq.%lld.%a", (long long)r->hd, r->theta);
  snprintf(cname, sizeof cname, "rope.cos.%lld.%a.%lld", (long long)r->hd, r->theta, (long long)n);
  snprintf(sname, sizeof sname, "rope.sin.%lld.%a.%lld", (long long)r->hd, r->theta, (long long)n);
  r->ntab = n;
  r->invf = LLVMGetNamedGlobal(c->mod, fname);
  r->tcos = LLVMGetNamedGlobal(c->mod, cname);
  r->tsin = LLVMGetNamedGlobal(c->mod, sname);
  if (r->invf) return;
  double *f = malloc(sizeof *f * (size_t)half);
  double *tc = malloc(sizeof *tc * (size_t)(n * half)), *ts = malloc(sizeof *ts * (size_t)(n * half));
  for (int64_t i = 0; i < half; i++) f[i] = pow(r->theta, -2.0 * (double)i / (double)r->hd);
  for (int64_t p = 0; p < n; p++)
    for (int64_t i = 0; i < half; i++) {
      double ang = (double)p * f[i];
      tc[p * half + i] = cos(ang), ts[p * half + i] = sin(ang);
    }
  r->invf = rope_global(c, fname, f, half, 1);
  r->tcos = rope_global(c, cname, tc, n * half, 0);
  r->tsin = rope_global(c, sname, ts, n * half, 0);
  free(f), free(tc), free(ts);
}

LLVMValueRef k_rope(Kern *k) {
  Rope r = {ccols(k, k->out), attr_i(k->n, "heads", 0), 0, (int)ksched(k)->vw, attr_f(k->n, "theta", 0),
            NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL};
  if (r.heads <= 0 || r.C % r.heads || (r.C / r.heads) % 2 || r.theta <= 0) kdie(k, "bad heads or theta");
  r.hd = r.C / r.heads;
  rope_consts(k->c, &r);
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  par_for(&e, k, &a, a.rows, em_mul(&e, a.rows, em_i64(&e, r.C * 4)), rope_body, &r);
  return kend(&e);
}
