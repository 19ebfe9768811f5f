/* shape.c: the type rules of every op, in one switch.
 *
 * Rows (dim 0) may be dynamic symbols; two dims agree when they are the same constant or
 * the same symbol.  mod.block regions: block.arg 0 is the routed rows x [rows, d] and
 * block.arg 1 their positions i32[rows], where rows is the block's attr k (forward graphs)
 * or its symbol attr sym (session graphs). */
#include <stdarg.h>
#include <string.h>
#include "shape.h"

static int fail(const Graph *g, int i, char *err, size_t errlen, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(err, errlen, "%%%d (%s): %s", i, op_names[g->n[i].op], msg);
  return -1;
}

static const Type *opty(const Graph *g, int i, int k) { return &g->n[g->n[i].in[k]].ty; }

static Type mat(DType dt, int64_t r, int64_t c) {
  int64_t d[2] = {r, c};
  return type_make(dt, 2, d);
}

static Type vec(DType dt, int64_t r) { return type_make(dt, 1, &r); }

/* operand k must be rank `rank` (and f32 unless any_dt) */
static int want(const Graph *g, int i, int k, int rank, int any_dt, char *err, size_t n) {
  const Type *t = opty(g, i, k);
  if (t->rank < 0) return fail(g, i, err, n, "operand %d (%%%d) has no type yet", k, g->n[i].in[k]);
  if (t->rank != rank) return fail(g, i, err, n, "operand %d must have rank %d, has %d", k, rank, t->rank);
  if (!any_dt && t->dt != DT_F32) return fail(g, i, err, n, "operand %d must be f32", k);
  return 0;
}

static int want_i32(const Graph *g, int i, int k, char *err, size_t n) {
  const Type *t = opty(g, i, k);
  if (t->rank != 1 || t->dt != DT_I32) return fail(g, i, err, n, "operand %d must be i32[rows]", k);
  return 0;
}

static int same_dim(int64_t a, int64_t b) { return a == b; }

static int block_arg(const Graph *g, int i, Type *out, char *err, size_t n) {
  const Node *nd = &g->n[i];
  if (nd->parent < 0) return fail(g, i, err, n, "outside a mod.block region");
  const Node *b = &g->n[nd->parent];
  const Type *h = &g->n[b->in[0]].ty;
  int causal = block_is_causal(g, b);
  int64_t rows = causal ? DIM_SYM(attr_i(b, "sym", -1)) : attr_i(b, "k", -1);
  if (!causal && rows < 1) return fail(g, i, err, n, "enclosing mod.block has no k");
  if (causal && attr_i(b, "sym", -1) < 0) return fail(g, i, err, n, "enclosing mod.block has no sym");
  int64_t idx = attr_i(nd, "index", -1);
  if (idx == 0) *out = mat(DT_F32, rows, h->dim[1]);
  else if (idx == 1) *out = vec(DT_I32, rows);
  else return fail(g, i, err, n, "index must be 0 or 1");
  return 0;
}

static int heads_check(const Graph *g, int i, int64_t width, int64_t heads, char *err, size_t n) {
  if (heads < 1 || width % heads || (width / heads) % 2)
    return fail(g, i, err, n, "width %lld is not heads (%lld) x an even head dim", (long long)width, (long long)heads);
  return 0;
}

static int attention(const Graph *g, int i, Type *out, char *err, size_t n) {
  const Node *nd = &g->n[i];
  for (int k = 0; k < 3; k++)
    if (want(g, i, k, 2, 0, err, n)) return -1;
  if (want_i32(g, i, 3, err, n)) return -1;
  const Type *q = opty(g, i, 0), *k = opty(g, i, 1), *v = opty(g, i, 2);
  int64_t H = attr_i(nd, "heads", 0), Hk = attr_i(nd, "kv_heads", 0);
  if (heads_check(g, i, q->dim[1], H, err, n)) return -1;
  if (Hk < 1 || H % Hk) return fail(g, i, err, n, "kv_heads %lld does not divide heads %lld", (long long)Hk, (long long)H);
  if (k->dim[1] != q->dim[1] / H * Hk || !type_equal(k, v))
    return fail(g, i, err, n, "k and v must be [rows, kv_heads*hd]");
  if (!same_dim(q->dim[0], k->dim[0]) || !same_dim(q->dim[0], opty(g, i, 3)->dim[0]))
    return fail(g, i, err, n, "q, k, v and pos must have the same rows");
  *out = *q;
  return 0;
}

static int matmul(const Graph *g, int i, Type *out, char *err, size_t n) {
  if (want(g, i, 0, 2, 0, err, n) || want(g, i, 1, 2, 1, err, n)) return -1;
  const Type *x = opty(g, i, 0), *w = opty(g, i, 1);
  if (w->dt != DT_F32 && w->dt != DT_BF16) return fail(g, i, err, n, "weights must be f32 or bf16");
  if (x->dim[1] != w->dim[1])
    return fail(g, i, err, n, "x is [.,%lld] but W is [%lld,%lld]", (long long)x->dim[1],
                (long long)w->dim[0], (long long)w->dim[1]);
  *out = mat(DT_F32, x->dim[0], w->dim[0]);
  return 0;
}

/* matmul_add (x, W, r): r has the result's type; matmul_silu_mul (x, Wg, Wu): Wu is Wg's type */
static int matmul_fused(const Graph *g, int i, Type *out, char *err, size_t n) {
  if (matmul(g, i, out, err, n) || want(g, i, 2, 2, g->n[i].op == OP_MATMUL_SILU_MUL, err, n)) return -1;
  const Type *third = opty(g, i, 2);
  if (g->n[i].op == OP_MATMUL_ADD ? !type_equal(third, out) : !type_equal(third, opty(g, i, 1)))
    return fail(g, i, err, n, g->n[i].op == OP_MATMUL_ADD ? "the residual must have the result's type"
                                                          : "the up weight must have the gate weight's type");
  return 0;
}

/* matmul_norm_gather (h, W, idx, w): [rows of idx, N]; w is h's row width, which is K */
static int matmul_norm_gather(const Graph *g, int i, Type *out, char *err, size_t n) {
  if (want(g, i, 0, 2, 0, err, n) || want(g, i, 1, 2, 1, err, n) || want_i32(g, i, 2, err, n) ||
      want(g, i, 3, 1, 0, err, n) || matmul(g, i, out, err, n))
    return -1;
  if (opty(g, i, 3)->dim[0] != opty(g, i, 0)->dim[1]) return fail(g, i, err, n, "norm weight length differs from row width");
  out->dim[0] = opty(g, i, 2)->dim[0];
  return 0;
}

/* the routed rows' residual h[idx] (operands hk, hk+1 = h, idx) must fit y = x W^T [k, N] */
static int routed_rows(const Graph *g, int i, int hk, const Type *y, char *err, size_t n) {
  if (want(g, i, hk, 2, 0, err, n) || want_i32(g, i, hk + 1, err, n)) return -1;
  if (opty(g, i, hk)->dim[1] != y->dim[1]) return fail(g, i, err, n, "h is not [rows, %lld]", (long long)y->dim[1]);
  if (!same_dim(opty(g, i, hk + 1)->dim[0], y->dim[0])) return fail(g, i, err, n, "idx and x differ in rows");
  return 0;
}

/* matmul_add_gather (x, W, h, idx): [k, N]; matmul_scatter_gate (x, W, r, h, idx, s): h's type */
static int matmul_routed(const Graph *g, int i, Type *out, char *err, size_t n) {
  Type y;
  if (matmul(g, i, &y, err, n)) return -1;
  if (g->n[i].op == OP_MATMUL_ADD_GATHER) {
    if (routed_rows(g, i, 2, &y, err, n)) return -1;
    *out = y;
    return 0;
  }
  if (want(g, i, 2, 2, 0, err, n) || routed_rows(g, i, 3, &y, err, n) || want(g, i, 5, 2, 0, err, n)) return -1;
  if (!type_equal(opty(g, i, 2), &y)) return fail(g, i, err, n, "the residual must have x W^T's type");
  const Type *h = opty(g, i, 3), *s = opty(g, i, 5);
  if (s->dim[1] != 1 || !same_dim(s->dim[0], h->dim[0])) return fail(g, i, err, n, "s must be [rows of h, 1]");
  *out = *h;
  return 0;
}

static int elementwise(const Graph *g, int i, Type *out, char *err, size_t n) {
  int nin = g->n[i].nin;
  for (int k = 0; k < nin; k++)
    if (want(g, i, k, 2, 0, err, n)) return -1;
  if (nin == 2 && !type_equal(opty(g, i, 0), opty(g, i, 1)))
    return fail(g, i, err, n, "operands must have the same type");
  *out = *opty(g, i, 0);
  return 0;
}

static int rowvec(const Graph *g, int i, Type *out, char *err, size_t n) {
  /* rmsnorm (x, w[d]) and bias_add (x, b[N]) */
  if (want(g, i, 0, 2, 0, err, n) || want(g, i, 1, 1, 0, err, n)) return -1;
  if (opty(g, i, 1)->dim[0] != opty(g, i, 0)->dim[1]) return fail(g, i, err, n, "vector length differs from row width");
  *out = *opty(g, i, 0);
  return 0;
}

static int gather(const Graph *g, int i, Type *out, char *err, size_t n) {
  const Type *x = opty(g, i, 0);
  if (x->rank != 1 && x->rank != 2) return fail(g, i, err, n, "operand 0 must have rank 1 or 2");
  if (want_i32(g, i, 1, err, n)) return -1;
  *out = *x;
  out->dim[0] = opty(g, i, 1)->dim[0];
  return 0;
}

static int scatter(const Graph *g, int i, Type *out, char *err, size_t n) {
  if (want(g, i, 0, 2, 0, err, n) || want_i32(g, i, 1, err, n) || want(g, i, 2, 2, 0, err, n) ||
      want(g, i, 3, 2, 0, err, n))
    return -1;
  const Type *h = opty(g, i, 0), *y = opty(g, i, 2), *r = opty(g, i, 3);
  if (y->dim[1] != h->dim[1] || !same_dim(y->dim[0], opty(g, i, 1)->dim[0]))
    return fail(g, i, err, n, "y must be [rows of idx, width of h]");
  if (r->dim[1] != 1 || !same_dim(r->dim[0], h->dim[0])) return fail(g, i, err, n, "r must be [rows of h, 1]");
  *out = *h;
  return 0;
}

static int score_col(const Graph *g, int i, char *err, size_t n) {
  if (want(g, i, 0, 2, 0, err, n)) return -1;
  if (opty(g, i, 0)->dim[1] != 1) return fail(g, i, err, n, "scores must be [rows, 1]");
  return 0;
}

static int mod_block(const Graph *g, int i, Type *out, char *err, size_t n) {
  const Node *b = &g->n[i];
  if (want(g, i, 0, 2, 0, err, n) || want_i32(g, i, 1, err, n)) return -1;
  if (b->body_end <= i + 1 || g->n[b->body_end - 1].op != OP_YIELD) return fail(g, i, err, n, "region must end with yield");
  const Type *y = &g->n[b->body_end - 1].ty;
  const Type *h = opty(g, i, 0);
  if (y->rank >= 0 && (y->rank != 2 || y->dim[1] != h->dim[1])) return fail(g, i, err, n, "region yields a value of the wrong width");
  *out = *h;
  return 0;
}

int shape_infer_node(const Graph *g, int i, Type *out, char *err, size_t n) {
  const Node *nd = &g->n[i];
  switch (nd->op) {
  case OP_INPUT:
  case OP_WEIGHT:
    if (nd->ty.rank < 0) return fail(g, i, err, n, "needs a type");
    *out = nd->ty;
    return 0;
  case OP_OUTPUT:
  case OP_YIELD:
    *out = *opty(g, i, 0);
    return out->rank < 0 ? fail(g, i, err, n, "operand has no type") : 0;
  case OP_EMBED: {
    if (want_i32(g, i, 0, err, n) || want(g, i, 1, 2, 1, err, n)) return -1;
    *out = mat(DT_F32, opty(g, i, 0)->dim[0], opty(g, i, 1)->dim[1]);
    return 0;
  }
  case OP_RMSNORM:
  case OP_BIAS_ADD: return rowvec(g, i, out, err, n);
  case OP_MATMUL: return matmul(g, i, out, err, n);
  case OP_MATMUL_ADD:
  case OP_MATMUL_SILU_MUL: return matmul_fused(g, i, out, err, n);
  case OP_MATMUL_NORM_GATHER: return matmul_norm_gather(g, i, out, err, n);
  case OP_MATMUL_ADD_GATHER:
  case OP_MATMUL_SCATTER_GATE: return matmul_routed(g, i, out, err, n);
  case OP_ADD:
  case OP_SILU:
  case OP_SILU_MUL: return elementwise(g, i, out, err, n);
  case OP_ROPE:
    if (want(g, i, 0, 2, 0, err, n) || want_i32(g, i, 1, err, n)) return -1;
    if (heads_check(g, i, opty(g, i, 0)->dim[1], attr_i(nd, "heads", 0), err, n)) return -1;
    *out = *opty(g, i, 0);
    return 0;
  case OP_ATTENTION:
  case OP_KV_ATTENTION: return attention(g, i, out, err, n);
  case OP_TAKE_LAST:
    if (want(g, i, 0, 2, 0, err, n)) return -1;
    *out = mat(DT_F32, 1, opty(g, i, 0)->dim[1]);
    return 0;
  case OP_MOD_BLOCK: return mod_block(g, i, out, err, n);
  case OP_BLOCK_ARG: return block_arg(g, i, out, err, n);
  case OP_TOPK: {
    if (score_col(g, i, err, n)) return -1;
    int64_t k = attr_i(nd, "k", -1), R = opty(g, i, 0)->dim[0];
    if (k < 1 || (R >= 0 && k > R)) return fail(g, i, err, n, "k = %lld outside [1, %lld]", (long long)k, (long long)R);
    *out = vec(DT_I32, k);
    return 0;
  }
  case OP_SELECT: {
    if (score_col(g, i, err, n) || want_i32(g, i, 1, err, n)) return -1;
    int64_t s = attr_i(nd, "sym", -1);
    if (s < 0 || s >= g->nsym) return fail(g, i, err, n, "sym %lld is not a symbol of the graph", (long long)s);
    *out = vec(DT_I32, DIM_SYM(s));
    return 0;
  }
  case OP_GATHER: return gather(g, i, out, err, n);
  case OP_SCATTER_GATE: return scatter(g, i, out, err, n);
  case OP_COUNT: break;
  }
  return fail(g, i, err, n, "unknown op");
}
