/* interp.c: the reference interpreter of the IR (interp.h).
 *
 * Executes a graph node by node in double precision: every value, i32 indices included, is
 * a row-major double buffer allocated when its node runs, sized by the node's type with
 * symbols resolved at run time (symbol 0 = the rows of a session call; select and a session
 * mod.block's block.arg bind the symbol of their row count).  Weights are read from the
 * packed blob at each weight node's "offset" attribute and widened to double.
 *
 * Both forms of a routed layer run here: a mod.block with its region (top-k routing in
 * forward graphs, causal routing in session graphs and in forward graphs whose blocks carry
 * a sym, block_is_causal; DESIGN section 4), and the lowered ops
 * (topk / select / gather / scatter_gate).  Tests compare the two forms with each other
 * and with tests/ref/refmodel.c, so this file favours plain loops over speed.
 * Bad inputs (a token out of range, a shape that disagrees, a full cache) are errors
 * naming the node, never crashes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "interp.h"

struct InterpSession {
  int n_layers, max_seq, kv_dim;
  double **k, **v;          /* [n_layers][max_seq * kv_dim] cached keys / values */
  int64_t **pos;            /* [n_layers][max_seq] positions of the cached rows */
  int64_t *len;             /* [n_layers] cached rows */
  uint8_t **taken;          /* [n_layers][max_seq] routing trace by position */
  double **score;           /* [n_layers][max_seq] the decision score p by position */
  int64_t next_pos;         /* position after the last token seen (default positions) */
};

typedef struct Val {
  double *v;                /* [n] row-major; NULL until the node runs */
  int rank;
  int64_t dim[IR_MAXRANK];
  int64_t n;
} Val;

typedef struct Run {
  const Graph *g;
  const uint8_t *w;         /* packed weights blob */
  const int32_t *tokens, *pos; /* [rows]; pos may be NULL */
  int64_t rows;
  InterpSession *s;
  InterpStats *st;
  char *err;
  size_t errlen;
  Val *val;                 /* [g->len] */
  int64_t *lastuse;         /* [g->len] last top-level node that reads each value */
  int64_t sym[IR_MAXSYM];   /* run-time value of each symbol, -1 while unbound */
  const Val *barg[2];       /* the running mod.block's routed rows and their positions */
} Run;

/* ---- sessions ---- */

InterpSession *interp_session_new(int n_layers, int max_seq, int kv_dim) {
  if (n_layers <= 0 || max_seq <= 0 || kv_dim <= 0) return NULL;
  InterpSession *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->n_layers = n_layers, s->max_seq = max_seq, s->kv_dim = kv_dim;
  s->k = calloc(n_layers, sizeof *s->k);
  s->v = calloc(n_layers, sizeof *s->v);
  s->pos = calloc(n_layers, sizeof *s->pos);
  s->len = calloc(n_layers, sizeof *s->len);
  s->taken = calloc(n_layers, sizeof *s->taken);
  s->score = calloc(n_layers, sizeof *s->score);
  int ok = s->k && s->v && s->pos && s->len && s->taken && s->score;
  for (int l = 0; ok && l < n_layers; l++) {
    s->k[l] = calloc((size_t)max_seq * kv_dim, sizeof(double));
    s->v[l] = calloc((size_t)max_seq * kv_dim, sizeof(double));
    s->pos[l] = calloc(max_seq, sizeof(int64_t));
    s->taken[l] = calloc(max_seq, 1);
    s->score[l] = calloc(max_seq, sizeof(double));
    ok = s->k[l] && s->v[l] && s->pos[l] && s->taken[l] && s->score[l];
  }
  if (!ok) {
    interp_session_free(s);
    return NULL;
  }
  return s;
}

void interp_session_free(InterpSession *s) {
  if (!s) return;
  for (int l = 0; l < s->n_layers; l++) {
    if (s->k) free(s->k[l]);
    if (s->v) free(s->v[l]);
    if (s->pos) free(s->pos[l]);
    if (s->taken) free(s->taken[l]);
    if (s->score) free(s->score[l]);
  }
  free(s->k), free(s->v), free(s->pos), free(s->len), free(s->taken), free(s->score);
  free(s);
}

const double *interp_scores(const InterpSession *s, int layer) {
  if (!s || layer < 0 || layer >= s->n_layers) return NULL;
  return s->score[layer];
}

const uint8_t *interp_routing(const InterpSession *s, int layer) {
  if (!s || layer < 0 || layer >= s->n_layers) return NULL;
  return s->taken[layer];
}

/* ---- errors, values, shapes ---- */

static int fail(Run *R, int node, const char *fmt, ...) {
  int off = 0;
  if (node >= 0)
    off = snprintf(R->err, R->errlen, "interp: node %%%d (%s): ", node,
                   op_names[R->g->n[node].op]);
  else
    off = snprintf(R->err, R->errlen, "interp: ");
  if (off < 0 || (size_t)off >= R->errlen) return -1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(R->err + off, R->errlen - off, fmt, ap);
  va_end(ap);
  return -1;
}

static Val *arg(Run *R, int node, int i) { return &R->val[R->g->n[node].in[i]]; }

static int64_t nrows(const Val *v) { return v->rank == 0 ? 1 : v->dim[0]; }
static int64_t ncols(const Val *v) {
  int64_t c = 1;
  for (int d = 1; d < v->rank; d++) c *= v->dim[d];
  return c;
}

/* Bind symbol s to m (select, block.arg); symbol 0 of a session graph is the call's rows. */
static int bind_sym(Run *R, int node, int64_t d, int64_t m) {
  if (!DIM_IS_SYM(d)) {
    if (d != m)
      return fail(R, node, "type has %lld rows, computed %lld", (long long)d, (long long)m);
    return 0;
  }
  int s = DIM_SYMNO(d);
  if (s >= R->g->nsym || s >= IR_MAXSYM) return fail(R, node, "symbol s%d undeclared", s);
  if (s == 0 && R->g->mode == GRAPH_SESSION)
    return fail(R, node, "defines s0, which is the call's row count");
  if (m > R->g->symbound[s])
    return fail(R, node, "s%d = %lld exceeds its bound %lld", s, (long long)m,
                (long long)R->g->symbound[s]);
  R->sym[s] = m;
  return 0;
}

/* Allocate node i's value from its type, symbols resolved. */
static int alloc_val(Run *R, int i) {
  const Type *t = &R->g->n[i].ty;
  Val *v = &R->val[i];
  if (t->rank < 0) return fail(R, i, "type not inferred (run infer-shapes first)");
  v->rank = t->rank;
  v->n = 1;
  for (int d = 0; d < t->rank; d++) {
    int64_t x = t->dim[d];
    if (DIM_IS_SYM(x)) {
      int s = DIM_SYMNO(x);
      if (s >= IR_MAXSYM || R->sym[s] < 0)
        return fail(R, i, "symbol s%d used before it is bound", s);
      x = R->sym[s];
    }
    v->dim[d] = x;
    v->n *= x;
  }
  free(v->v);
  v->v = calloc(v->n ? v->n : 1, sizeof(double));
  if (!v->v) return fail(R, i, "out of memory (%lld values)", (long long)v->n);
  return 0;
}

static void free_val(Val *v) {
  free(v->v);
  v->v = NULL;
}

/* ---- elementwise helpers ---- */

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static double silu(double x) { return x * sigmoid(x); }

static double half_to_double(uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
  return sign ? -v : v;
}

/* One element of dtype dt at p, widened (bf16 -> f32 is the bits shifted up 16). */
static double widen(DType dt, const uint8_t *p) {
  float f;
  uint16_t h;
  uint32_t u;
  int32_t i;
  switch (dt) {
  case DT_F32: memcpy(&f, p, 4); return f;
  case DT_BF16: memcpy(&h, p, 2); u = (uint32_t)h << 16; memcpy(&f, &u, 4); return f;
  case DT_F16: memcpy(&h, p, 2); return half_to_double(h);
  case DT_I32: memcpy(&i, p, 4); return i;
  default: return NAN;
  }
}

/* gate "raw": g(r) = r; "sigmoid": sigmoid(r) */
static int gate_kind(Run *R, int node, int *is_sigmoid) {
  const char *gs = attr_s(&R->g->n[node], "gate", "");
  if (strcmp(gs, "raw") && strcmp(gs, "sigmoid"))
    return fail(R, node, "gate \"%s\" is not raw|sigmoid", gs);
  *is_sigmoid = !strcmp(gs, "sigmoid");
  return 0;
}

/* ---- routing helpers shared by mod.block and the lowered ops ---- */

static void note_margin(Run *R, double m) {
  if (R->st && m < R->st->min_margin) R->st->min_margin = m;
}

static void note_rows(Run *R, int64_t layer, int64_t m) {
  if (R->st && layer >= 0 && layer < 256) R->st->routed_rows[layer] = (int)m;
}

static void sort_ascending(int64_t *v, int64_t n) {
  for (int64_t i = 1; i < n; i++)
    for (int64_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
      int64_t t = v[j];
      v[j] = v[j - 1], v[j - 1] = t;
    }
}

/* idx[0..k) = the k largest of r[0..n), ties to the smaller row, ascending; notes the margin. */
static void topk_rows(Run *R, const double *r, int64_t n, int64_t k, int64_t *idx) {
  int64_t *order = malloc(n * sizeof *order);
  for (int64_t i = 0; i < n; i++) order[i] = i;
  for (int64_t i = 0; i < n; i++) /* selection sort: by r descending, then row ascending */
    for (int64_t j = i + 1; j < n; j++) {
      int64_t a = order[i], b = order[j];
      if (r[b] > r[a] || (r[b] == r[a] && b < a)) order[i] = b, order[j] = a;
    }
  if (k < n) note_margin(R, r[order[k - 1]] - r[order[k]]);
  memcpy(idx, order, k * sizeof *idx);
  sort_ascending(idx, k);
  free(order);
}

/* idx = rows with p > thr (node n's attr "threshold", default 0), ascending; records the
 * trace and |p - thr| margins.  Returns m. */
static int64_t select_rows(Run *R, const Node *n, const double *p, const double *pos,
                           int64_t rows, int64_t *idx) {
  int64_t m = 0, layer = attr_i(n, "layer", -1);
  double thr = attr_f(n, "threshold", 0.0);
  for (int64_t i = 0; i < rows; i++) {
    note_margin(R, fabs(p[i] - thr));
    int take = p[i] > thr;
    if (take) idx[m++] = i;
    int64_t ps = (int64_t)pos[i];
    if (R->s && layer >= 0 && layer < R->s->n_layers && ps >= 0 && ps < R->s->max_seq)
      R->s->taken[layer][ps] = (unsigned char)take, R->s->score[layer][ps] = p[i];
  }
  note_rows(R, layer, m);
  return m;
}

/* out = h; out[idx[j]] = x + g(r[idx[j]]) * (y[j] - x), x = h[idx[j]] */
static void scatter_gate(const double *h, int64_t n, int64_t d, const int64_t *idx, int64_t k,
                         const double *y, const double *r, int is_sigmoid, double *out) {
  memcpy(out, h, (size_t)n * d * sizeof *out);
  for (int64_t j = 0; j < k; j++) {
    double g = is_sigmoid ? sigmoid(r[idx[j]]) : r[idx[j]];
    for (int64_t c = 0; c < d; c++) {
      double x = h[idx[j] * d + c];
      out[idx[j] * d + c] = x + g * (y[j * d + c] - x);
    }
  }
}

/* Row indices from an index value, each checked against n rows. */
static int read_idx(Run *R, int node, const Val *iv, int64_t n, int64_t *idx) {
  for (int64_t j = 0; j < iv->n; j++) {
    double x = iv->v[j];
    if (!(x >= 0 && x < n) || x != floor(x))
      return fail(R, node, "index %g out of range [0,%lld)", x, (long long)n);
    idx[j] = (int64_t)x;
  }
  return 0;
}

/* ---- attention ---- */

/* out[i] (one query row, all heads) = softmax_j(q_i.k_j / sqrt(hd)) v_j over rows with
 * kpos[j] <= qpos; kv head of query head h is h / (H / Hk). */
static void attend_row(const double *q, int64_t qpos, const double *k, const double *v,
                       const int64_t *kpos, int64_t nk, int H, int Hk, int hd, double *out,
                       double *sc) {
  int group = H / Hk;
  double scale = 1.0 / sqrt((double)hd);
  for (int h = 0; h < H; h++) {
    const double *qh = q + h * hd;
    int kh = h / group;
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < nk; j++) {
      if (kpos[j] > qpos) continue;
      double dot = 0;
      for (int c = 0; c < hd; c++) dot += qh[c] * k[j * Hk * hd + kh * hd + c];
      sc[j] = dot * scale;
      if (sc[j] > mx) mx = sc[j];
    }
    for (int64_t j = 0; j < nk; j++) {
      sc[j] = kpos[j] > qpos ? 0 : exp(sc[j] - mx);
      sum += sc[j];
    }
    double *oh = out + h * hd;
    for (int c = 0; c < hd; c++) oh[c] = 0;
    for (int64_t j = 0; j < nk; j++)
      for (int c = 0; c < hd; c++) oh[c] += sc[j] / sum * v[j * Hk * hd + kh * hd + c];
  }
}

/* Heads and head dim of an attention node from attrs and q's columns. */
static int attn_dims(Run *R, int i, int64_t qcols, int64_t kcols, int *H, int *Hk, int *hd) {
  const Node *n = &R->g->n[i];
  *H = (int)attr_i(n, "heads", 0);
  *Hk = (int)attr_i(n, "kv_heads", *H);
  if (*H <= 0 || *Hk <= 0 || *H % *Hk || qcols % *H)
    return fail(R, i, "bad heads %d / kv_heads %d for %lld columns", *H, *Hk, (long long)qcols);
  *hd = (int)(qcols / *H);
  if (kcols != (int64_t)*Hk * *hd)
    return fail(R, i, "k has %lld columns, expected kv_heads*hd = %d", (long long)kcols, *Hk * *hd);
  return 0;
}

static int64_t *positions(const Val *p) {
  int64_t *o = malloc((p->n ? p->n : 1) * sizeof *o);
  for (int64_t i = 0; i < p->n; i++) o[i] = (int64_t)p->v[i];
  return o;
}

static void attend_all(const Val *q, const int64_t *qpos, const double *k, const double *v,
                       const int64_t *kpos, int64_t nk, int H, int Hk, int hd, double *out) {
  double *sc = malloc((nk ? nk : 1) * sizeof *sc);
  for (int64_t i = 0; i < nrows(q); i++)
    attend_row(q->v + i * H * hd, qpos[i], k, v, kpos, nk, H, Hk, hd, out + i * H * hd, sc);
  free(sc);
}

/* attention (q, k, v, pos): causal by position among this value's rows */
static int op_attention(Run *R, int i) {
  Val *q = arg(R, i, 0), *k = arg(R, i, 1), *v = arg(R, i, 2), *p = arg(R, i, 3);
  int H, Hk, hd;
  if (attn_dims(R, i, ncols(q), ncols(k), &H, &Hk, &hd)) return -1;
  int64_t n = nrows(q);
  if (nrows(k) != n || nrows(v) != n || p->n != n || ncols(v) != ncols(k))
    return fail(R, i, "q, k, v and pos disagree in rows");
  int64_t *pp = positions(p);
  attend_all(q, pp, k->v, v->v, pp, n, H, Hk, hd, R->val[i].v);
  free(pp);
  return 0;
}

/* kv_attention: append this call's rows to the layer's cache, then attend over the cache */
static int op_kv_attention(Run *R, int i) {
  Val *q = arg(R, i, 0), *k = arg(R, i, 1), *v = arg(R, i, 2), *p = arg(R, i, 3);
  InterpSession *s = R->s;
  int64_t layer = attr_i(&R->g->n[i], "layer", -1), n = nrows(q);
  int H, Hk, hd;
  if (!s) return fail(R, i, "needs a session");
  if (layer < 0 || layer >= s->n_layers)
    return fail(R, i, "layer %lld out of range", (long long)layer);
  if (attn_dims(R, i, ncols(q), ncols(k), &H, &Hk, &hd)) return -1;
  if (ncols(k) != s->kv_dim)
    return fail(R, i, "kv width %lld, session has %d", (long long)ncols(k), s->kv_dim);
  if (nrows(k) != n || nrows(v) != n || p->n != n || ncols(v) != ncols(k))
    return fail(R, i, "q, k, v and pos disagree in rows");
  int64_t len = s->len[layer];
  if (len + n > s->max_seq) return fail(R, i, "layer %lld cache full (%lld + %lld > %d)",
                                        (long long)layer, (long long)len, (long long)n, s->max_seq);
  memcpy(s->k[layer] + len * s->kv_dim, k->v, (size_t)n * s->kv_dim * sizeof(double));
  memcpy(s->v[layer] + len * s->kv_dim, v->v, (size_t)n * s->kv_dim * sizeof(double));
  int64_t *pp = positions(p);
  memcpy(s->pos[layer] + len, pp, n * sizeof *pp);
  s->len[layer] = len + n;
  attend_all(q, pp, s->k[layer], s->v[layer], s->pos[layer], len + n, H, Hk, hd, R->val[i].v);
  free(pp);
  return 0;
}

/* ---- dense ops ---- */

static int op_input(Run *R, int i) {
  const char *name = attr_s(&R->g->n[i], "name", "");
  Val *o = &R->val[i];
  if (o->n != R->rows)
    return fail(R, i, "has %lld rows, the call has %lld", (long long)o->n, (long long)R->rows);
  int is_tok = !strcmp(name, "tokens");
  if (!is_tok && strcmp(name, "pos")) return fail(R, i, "unknown input \"%s\"", name);
  int64_t base = R->s ? R->s->next_pos : 0;
  for (int64_t t = 0; t < o->n; t++)
    o->v[t] = is_tok ? R->tokens[t] : R->pos ? R->pos[t] : base + t;
  return 0;
}

static int op_weight(Run *R, int i) {
  const Node *n = &R->g->n[i];
  int64_t off = attr_i(n, "offset", -1);
  if (off < 0) return fail(R, i, "no offset attribute");
  int es = dtype_size(n->ty.dt);
  int64_t nr = !strcmp(attr_s(n, "layout", ""), "panel") ? attr_i(n, "nr", 0) : 0;
  if (nr > 0 && n->ty.rank == 2) { /* panels: W[r][c] at ((r / nr) * K + c) * nr + r % nr */
    int64_t K = n->ty.dim[1], bf = n->ty.dt == DT_BF16, Kp = bf ? (K + 1) / 2 * 2 : K;
    for (int64_t j = 0; j < R->val[i].n; j++) {
      int64_t r = j / K, c = j % K, at = ((r / nr) * Kp + c) * nr + r % nr;
      if (bf) /* bf16 pairs rows c and c + 1 (c even): column s's two at 2s, 2s + 1 */
        at = ((r / nr) * Kp + (c & ~(int64_t)1)) * nr + 2 * (r % nr) + (c & 1);
      R->val[i].v[j] = widen(n->ty.dt, R->w + off + at * es);
    }
    return 0;
  }
  for (int64_t j = 0; j < R->val[i].n; j++) R->val[i].v[j] = widen(n->ty.dt, R->w + off + j * es);
  return 0;
}

static int op_embed(Run *R, int i) {
  Val *tok = arg(R, i, 0), *E = arg(R, i, 1), *o = &R->val[i];
  int64_t V = nrows(E), d = ncols(E);
  if (o->n != tok->n * d) return fail(R, i, "result shape disagrees with tokens x d");
  for (int64_t t = 0; t < tok->n; t++) {
    double id = tok->v[t];
    if (!(id >= 0 && id < V))
      return fail(R, i, "token %g at row %lld out of range [0,%lld)", id, (long long)t,
                  (long long)V);
    memcpy(o->v + t * d, E->v + (int64_t)id * d, d * sizeof(double));
  }
  return 0;
}

/* o[t] = x[t] / sqrt(mean(x[t]^2) + e) * w, rows of d */
static void rmsnorm_rows(const double *x, int64_t rows, int64_t d, const double *w, double e, double *o) {
  for (int64_t t = 0; t < rows; t++) {
    const double *v = x + t * d;
    double ss = 0;
    for (int64_t c = 0; c < d; c++) ss += v[c] * v[c];
    double inv = 1.0 / sqrt(ss / d + e);
    for (int64_t c = 0; c < d; c++) o[t * d + c] = v[c] * inv * w[c];
  }
}

static int norm_eps(Run *R, int i, double *e) {
  const Attr *eps = attr_get(&R->g->n[i], "eps");
  if (!eps) return fail(R, i, "no eps attribute");
  *e = eps->kind == ATTR_INT ? (double)eps->i : eps->f;
  return 0;
}

static int op_rmsnorm(Run *R, int i) {
  Val *x = arg(R, i, 0), *w = arg(R, i, 1), *o = &R->val[i];
  double e = 0;
  if (norm_eps(R, i, &e)) return -1;
  if (w->n != ncols(x) || o->n != x->n) return fail(R, i, "weight or result width disagrees with x");
  rmsnorm_rows(x->v, nrows(x), ncols(x), w->v, e, o->v);
  return 0;
}

/* o = x W^T, x [n,K], W [N,K] */
static void matmul_rows(const double *x, int64_t n, int64_t K, const double *W, int64_t N, double *o) {
  for (int64_t t = 0; t < n; t++)
    for (int64_t j = 0; j < N; j++) {
      double acc = 0;
      for (int64_t c = 0; c < K; c++) acc += x[t * K + c] * W[j * K + c];
      o[t * N + j] = acc;
    }
}

static int op_matmul(Run *R, int i) {
  Val *x = arg(R, i, 0), *W = arg(R, i, 1), *o = &R->val[i];
  int64_t n = nrows(x), K = ncols(x), N = nrows(W);
  if (ncols(W) != K || W->rank != 2)
    return fail(R, i, "x has %lld columns, W is not [N,%lld]", (long long)K, (long long)K);
  if (o->n != n * N) return fail(R, i, "result is not [%lld,%lld]", (long long)n, (long long)N);
  matmul_rows(x->v, n, K, W->v, N, o->v);
  return 0;
}

/* matmul_add: x W^T + r; matmul_silu_mul: silu(x Wg^T) * (x Wu^T); in double throughout, so
 * a fused graph interprets exactly as its unfused form */
static int op_matmul_fused(Run *R, int i) {
  Op op = R->g->n[i].op;
  Val *x = arg(R, i, 0), *W = arg(R, i, 1), *Z = arg(R, i, 2), *o = &R->val[i];
  int64_t n = nrows(x), K = ncols(x), N = nrows(W);
  if (ncols(W) != K || W->rank != 2 || (op == OP_MATMUL_SILU_MUL ? Z->n != W->n : Z->n != n * N))
    return fail(R, i, "operands disagree: x [.,%lld], W [%lld,.]", (long long)K, (long long)N);
  if (o->n != n * N) return fail(R, i, "result is not [%lld,%lld]", (long long)n, (long long)N);
  for (int64_t t = 0; t < n; t++)
    for (int64_t j = 0; j < N; j++) {
      double a = 0, u = 0;
      for (int64_t c = 0; c < K; c++) a += x->v[t * K + c] * W->v[j * K + c];
      if (op == OP_MATMUL_ADD) {
        o->v[t * N + j] = a + Z->v[t * N + j];
        continue;
      }
      for (int64_t c = 0; c < K; c++) u += x->v[t * K + c] * Z->v[j * K + c];
      o->v[t * N + j] = silu(a) * u;
    }
  return 0;
}

/* add, bias_add, silu_mul and silu: elementwise, b broadcast by rows for bias_add */
static int op_elementwise(Run *R, int i) {
  Op op = R->g->n[i].op;
  Val *a = arg(R, i, 0), *b = op == OP_SILU ? NULL : arg(R, i, 1), *o = &R->val[i];
  int64_t C = ncols(a);
  if (o->n != a->n) return fail(R, i, "result size disagrees with operand");
  if (b && (op == OP_BIAS_ADD ? b->n != C : b->n != a->n))
    return fail(R, i, "operand shapes disagree");
  for (int64_t j = 0; j < a->n; j++) {
    double x = a->v[j];
    o->v[j] = op == OP_ADD ? x + b->v[j] : op == OP_BIAS_ADD ? x + b->v[j % C]
            : op == OP_SILU ? silu(x) : silu(x) * b->v[j];
  }
  return 0;
}

/* HF rotate-half RoPE at each row's position, per head of hd = C / heads */
static int op_rope(Run *R, int i) {
  Val *x = arg(R, i, 0), *p = arg(R, i, 1), *o = &R->val[i];
  const Node *n = &R->g->n[i];
  int64_t C = ncols(x), heads = attr_i(n, "heads", 0);
  double theta = attr_f(n, "theta", 0);
  if (heads <= 0 || C % heads || (C / heads) % 2 || theta <= 0)
    return fail(R, i, "bad heads %lld / theta %g for %lld columns", (long long)heads, theta,
                (long long)C);
  if (p->n != nrows(x) || o->n != x->n) return fail(R, i, "pos or result disagrees with x");
  int64_t hd = C / heads, half = hd / 2;
  for (int64_t t = 0; t < nrows(x); t++)
    for (int64_t j = 0; j < half; j++) {
      double ang = p->v[t] * pow(theta, -2.0 * j / hd), cs = cos(ang), sn = sin(ang);
      for (int64_t h = 0; h < heads; h++) {
        const double *e = x->v + t * C + h * hd;
        double *y = o->v + t * C + h * hd;
        y[j] = e[j] * cs - e[j + half] * sn;
        y[j + half] = e[j + half] * cs + e[j] * sn;
      }
    }
  return 0;
}

static int op_take_last(Run *R, int i) {
  Val *x = arg(R, i, 0), *o = &R->val[i];
  int64_t C = ncols(x);
  if (nrows(x) < 1) return fail(R, i, "no rows");
  if (o->n != C) return fail(R, i, "result is not [1,%lld]", (long long)C);
  memcpy(o->v, x->v + (nrows(x) - 1) * C, C * sizeof(double));
  return 0;
}

/* ---- lowered routing ops ---- */

static int op_topk(Run *R, int i) {
  Val *r = arg(R, i, 0), *o = &R->val[i];
  int64_t n = r->n, k = attr_i(&R->g->n[i], "k", o->n);
  if (k < 1 || k > n || o->n != k)
    return fail(R, i, "k = %lld for %lld rows, result has %lld", (long long)k, (long long)n,
                (long long)o->n);
  int64_t *idx = malloc(n * sizeof *idx);
  topk_rows(R, r->v, n, k, idx);
  for (int64_t j = 0; j < k; j++) o->v[j] = (double)idx[j];
  note_rows(R, attr_i(&R->g->n[i], "layer", -1), k);
  free(idx);
  return 0;
}

/* select binds its own symbol, so it allocates its result itself */
static int op_select(Run *R, int i) {
  Val *p = arg(R, i, 0), *pos = arg(R, i, 1), *o = &R->val[i];
  const Node *n = &R->g->n[i];
  if (p->n != pos->n) return fail(R, i, "p and pos disagree in rows");
  int64_t *idx = malloc((p->n ? p->n : 1) * sizeof *idx);
  int64_t m = select_rows(R, n, p->v, pos->v, p->n, idx);
  int rc = n->ty.rank == 1 ? bind_sym(R, i, n->ty.dim[0], m) : fail(R, i, "result must be i32[m]");
  if (!rc) rc = alloc_val(R, i);
  for (int64_t j = 0; !rc && j < m; j++) o->v[j] = (double)idx[j];
  free(idx);
  return rc;
}

static int op_gather(Run *R, int i) {
  Val *x = arg(R, i, 0), *iv = arg(R, i, 1), *o = &R->val[i];
  int64_t C = ncols(x), k = iv->n;
  if (o->n != k * C) return fail(R, i, "result is not [%lld,%lld]", (long long)k, (long long)C);
  int64_t *idx = malloc((k ? k : 1) * sizeof *idx);
  int rc = read_idx(R, i, iv, nrows(x), idx);
  for (int64_t j = 0; !rc && j < k; j++)
    memcpy(o->v + j * C, x->v + idx[j] * C, C * sizeof(double));
  free(idx);
  return rc;
}

static int op_scatter_gate(Run *R, int i) {
  Val *h = arg(R, i, 0), *iv = arg(R, i, 1), *y = arg(R, i, 2), *r = arg(R, i, 3);
  int64_t n = nrows(h), d = ncols(h), k = iv->n;
  int sg = 0;
  if (gate_kind(R, i, &sg)) return -1;
  if (y->n != k * d || r->n != n || R->val[i].n != h->n)
    return fail(R, i, "operand shapes disagree");
  int64_t *idx = malloc((k ? k : 1) * sizeof *idx);
  int rc = read_idx(R, i, iv, n, idx);
  if (!rc) scatter_gate(h->v, n, d, idx, k, y->v, r->v, sg, R->val[i].v);
  free(idx);
  return rc;
}

/* ---- the fuse-routing ops: each computed as the unfused ops it replaces, in the same
 * order, so a fused graph interprets exactly as its lowered form ---- */

/* rmsnorm(gather(h, idx), w) W^T */
static int op_matmul_norm_gather(Run *R, int i) {
  Val *h = arg(R, i, 0), *W = arg(R, i, 1), *iv = arg(R, i, 2), *w = arg(R, i, 3), *o = &R->val[i];
  int64_t K = ncols(h), N = nrows(W), k = iv->n;
  double e = 0;
  if (norm_eps(R, i, &e)) return -1;
  if (ncols(W) != K || W->rank != 2 || w->n != K || o->n != k * N)
    return fail(R, i, "operands disagree: h [.,%lld], W [%lld,.]", (long long)K, (long long)N);
  int64_t *idx = malloc((k ? k : 1) * sizeof *idx);
  double *x = malloc((k ? k * K : 1) * sizeof *x);
  int rc = read_idx(R, i, iv, nrows(h), idx);
  for (int64_t j = 0; !rc && j < k; j++) memcpy(x + j * K, h->v + idx[j] * K, K * sizeof *x);
  if (!rc) {
    rmsnorm_rows(x, k, K, w->v, e, x);
    matmul_rows(x, k, K, W->v, N, o->v);
  }
  free(idx), free(x);
  return rc;
}

/* add_gather: x W^T + h[idx]; scatter_gate: scatter_gate(h, idx, x W^T + r, s) */
static int op_matmul_routed(Run *R, int i) {
  int sc = R->g->n[i].op == OP_MATMUL_SCATTER_GATE, sg = 0;
  Val *x = arg(R, i, 0), *W = arg(R, i, 1), *r = sc ? arg(R, i, 2) : NULL, *h = arg(R, i, 2 + sc),
      *iv = arg(R, i, 3 + sc), *s = sc ? arg(R, i, 5) : NULL, *o = &R->val[i];
  int64_t n = nrows(x), K = ncols(x), N = nrows(W), H = nrows(h);
  if (sc && gate_kind(R, i, &sg)) return -1;
  if (ncols(W) != K || W->rank != 2 || ncols(h) != N || iv->n != n || (sc && (r->n != n * N || s->n != H)) ||
      o->n != (sc ? h->n : n * N))
    return fail(R, i, "operand shapes disagree");
  int64_t *idx = malloc((n ? n : 1) * sizeof *idx);
  double *y = malloc((n ? n * N : 1) * sizeof *y);
  int rc = read_idx(R, i, iv, H, idx);
  if (!rc) {
    matmul_rows(x->v, n, K, W->v, N, y);
    for (int64_t t = 0; t < n * N; t++) y[t] += sc ? r->v[t] : h->v[idx[t / N] * N + t % N];
    if (sc) scatter_gate(h->v, H, N, idx, n, y, s->v, sg, o->v);
    else memcpy(o->v, y, n * N * sizeof *y);
  }
  free(idx), free(y);
  return rc;
}

/* ---- mod.block: routing around the region ---- */

/* p[t] = w2 . silu(W1 h[t] + b1) + b2 (operands fc1_w, fc1_b, fc2_w, fc2_b from `first`) */
static int mlp_predict(Run *R, int b, int first, const Val *h, double *p) {
  Val *w1 = arg(R, b, first), *b1 = arg(R, b, first + 1), *w2 = arg(R, b, first + 2),
      *b2 = arg(R, b, first + 3);
  int64_t d = ncols(h), hid = nrows(w1);
  if (ncols(w1) != d || b1->n != hid || w2->n != hid || b2->n != 1)
    return fail(R, b, "predictor weights disagree with d = %lld, hidden = %lld", (long long)d,
                (long long)hid);
  for (int64_t t = 0; t < nrows(h); t++) {
    double acc = b2->v[0];
    for (int64_t j = 0; j < hid; j++) {
      double z = b1->v[j];
      for (int64_t c = 0; c < d; c++) z += w1->v[j * d + c] * h->v[t * d + c];
      acc += w2->v[j] * silu(z);
    }
    p[t] = acc;
  }
  return 0;
}

/* r[t] = h[t] . w_router (+ b_router) */
static int router_scores(Run *R, int b, const Val *h, double *r) {
  const Node *n = &R->g->n[b];
  int bias = (int)attr_i(n, "router_bias", 0);
  Val *w = arg(R, b, 2), *bv = bias ? arg(R, b, 3) : NULL;
  int64_t d = ncols(h);
  if (n->nin < 3 + bias || w->n != d || (bv && bv->n != 1))
    return fail(R, b, "router weights disagree with d = %lld", (long long)d);
  for (int64_t t = 0; t < nrows(h); t++) {
    double acc = bv ? bv->v[0] : 0;
    for (int64_t c = 0; c < d; c++) acc += h->v[t * d + c] * w->v[c];
    r[t] = acc;
  }
  return 0;
}

/* Forward: S = top-k of r; k from attr "k", which must agree with the capacity rule
 * min(T, max(1, ceil(c*T - 1e-9))) when the capacity is given too. */
static int choose_topk(Run *R, int b, const double *r, int64_t T, int64_t *S, int64_t *m) {
  const Node *n = &R->g->n[b];
  double c = attr_f(n, "capacity", 1.0);
  int64_t rule = (int64_t)ceil(c * (double)T - 1e-9), k = attr_i(n, "k", -1);
  rule = rule < 1 ? 1 : rule > T ? T : rule;
  if (k < 0) k = rule;
  if (k < 1 || k > T) return fail(R, b, "k = %lld for %lld rows", (long long)k, (long long)T);
  if (k != rule && attr_get(n, "capacity"))
    return fail(R, b, "k = %lld, but capacity %g at %lld rows gives %lld", (long long)k, c,
                (long long)T, (long long)rule);
  topk_rows(R, r, T, k, S);
  *m = k;
  note_rows(R, attr_i(n, "layer", -1), k);
  return 0;
}

/* Session: S = rows whose decision p (router r or the mlp predictor) is > the threshold. */
static int choose_causal(Run *R, int b, const Val *h, const Val *pos, const double *r,
                         int64_t *S, int64_t *m) {
  const Node *n = &R->g->n[b];
  const char *pred = attr_s(n, "predictor", "router");
  int64_t T = nrows(h);
  double *p = malloc((T ? T : 1) * sizeof *p);
  int rc = 0;
  if (!strcmp(pred, "mlp")) {
    int first = 3 + (int)attr_i(n, "router_bias", 0);
    rc = n->nin < first + 4 ? fail(R, b, "predictor mlp needs fc1_w, fc1_b, fc2_w, fc2_b")
                            : mlp_predict(R, b, first, h, p);
  } else if (!strcmp(pred, "router")) {
    memcpy(p, r, T * sizeof *p);
  } else {
    rc = fail(R, b, "predictor \"%s\" is not router|mlp", pred);
  }
  if (!rc) *m = select_rows(R, n, p, pos->v, T, S);
  free(p);
  return rc;
}

static int exec_node(Run *R, int i);

/* Run the region (b, body_end) on x = h[S], pos[S]; y = the yield's value. */
static int run_region(Run *R, int b, const Val *x, const Val *xpos) {
  const Node *n = &R->g->n[b];
  R->barg[0] = x, R->barg[1] = xpos;
  for (int j = b + 1; j < n->body_end; j++)
    if (exec_node(R, j)) return -1;
  if (R->g->n[n->body_end - 1].op != OP_YIELD)
    return fail(R, b, "region does not end with a yield");
  return 0;
}

static void free_region(Run *R, int b) {
  for (int j = b + 1; j < R->g->n[b].body_end; j++) free_val(&R->val[j]);
}

/* Gathered rows x = h[S] and their positions. */
static void gather_rows(const Val *h, const Val *pos, const int64_t *S, int64_t m, Val *x,
                        Val *xp) {
  int64_t d = ncols(h);
  x->rank = 2, x->dim[0] = m, x->dim[1] = d, x->n = m * d;
  xp->rank = 1, xp->dim[0] = m, xp->n = m;
  x->v = malloc((m ? m * d : 1) * sizeof(double));
  xp->v = malloc((m ? m : 1) * sizeof(double));
  for (int64_t j = 0; j < m; j++) {
    memcpy(x->v + j * d, h->v + S[j] * d, d * sizeof(double));
    xp->v[j] = pos->v[S[j]];
  }
}

static int op_mod_block(Run *R, int b) {
  const Node *n = &R->g->n[b];
  Val *h = arg(R, b, 0), *pos = arg(R, b, 1), *o = &R->val[b], x = {0}, xp = {0};
  int64_t T = nrows(h), d = ncols(h), m = 0;
  int sg = 0, rc = gate_kind(R, b, &sg);
  if (rc) return rc;
  if (pos->n != T || o->n != h->n) return fail(R, b, "h, pos and result disagree in rows");
  double *r = malloc((T ? T : 1) * sizeof *r);
  int64_t *S = malloc((T ? T : 1) * sizeof *S);
  rc = router_scores(R, b, h, r);
  if (!rc)
    rc = block_is_causal(R->g, n) ? choose_causal(R, b, h, pos, r, S, &m) : choose_topk(R, b, r, T, S, &m);
  if (!rc && m == 0) memcpy(o->v, h->v, h->n * sizeof(double)); /* nothing runs, nothing cached */
  if (!rc && m > 0) {
    gather_rows(h, pos, S, m, &x, &xp);
    rc = run_region(R, b, &x, &xp);
    R->barg[0] = R->barg[1] = NULL;
    const Val *y = rc ? NULL : &R->val[n->body_end - 1];
    if (y && y->n != m * d)
      rc = fail(R, b, "region yields %lld values, expected %lld x %lld", (long long)y->n,
                (long long)m, (long long)d);
    if (!rc) scatter_gate(h->v, T, d, S, m, y->v, r, sg, o->v);
  }
  free_region(R, b);
  free(x.v), free(xp.v), free(r), free(S);
  return rc;
}

/* block.arg binds the region's row symbol (session) or checks k (forward), then copies. */
static int op_block_arg(Run *R, int i) {
  const Node *n = &R->g->n[i];
  int64_t idx = attr_i(n, "index", -1);
  if (idx != 0 && idx != 1) return fail(R, i, "index must be 0 or 1");
  const Val *src = R->barg[idx];
  if (n->parent < 0 || !src) return fail(R, i, "outside a mod.block region");
  if (n->ty.rank < 1) return fail(R, i, "type not inferred (run infer-shapes first)");
  if (bind_sym(R, i, n->ty.dim[0], nrows(src)) || alloc_val(R, i)) return -1;
  if (R->val[i].n != src->n)
    return fail(R, i, "type holds %lld values, the routed rows %lld", (long long)R->val[i].n,
                (long long)src->n);
  memcpy(R->val[i].v, src->v, src->n * sizeof(double));
  return 0;
}

static int op_copy(Run *R, int i) {
  Val *x = arg(R, i, 0);
  if (R->val[i].n != x->n)
    return fail(R, i, "result size %lld, operand %lld", (long long)R->val[i].n, (long long)x->n);
  memcpy(R->val[i].v, x->v, x->n * sizeof(double));
  return 0;
}

/* ---- the driver ---- */

static int exec_node(Run *R, int i) {
  Op op = R->g->n[i].op;
  for (int j = 0; j < R->g->n[i].nin; j++)
    if (!arg(R, i, j)->v) return fail(R, i, "operand %d (%%%d) has no value", j, R->g->n[i].in[j]);
  if (op == OP_SELECT) return op_select(R, i);
  if (op == OP_BLOCK_ARG) return op_block_arg(R, i);
  if (alloc_val(R, i)) return -1;
  switch (op) {
  case OP_INPUT: return op_input(R, i);
  case OP_WEIGHT: return op_weight(R, i);
  case OP_OUTPUT: return op_copy(R, i);
  case OP_EMBED: return op_embed(R, i);
  case OP_RMSNORM: return op_rmsnorm(R, i);
  case OP_MATMUL: return op_matmul(R, i);
  case OP_MATMUL_ADD: case OP_MATMUL_SILU_MUL: return op_matmul_fused(R, i);
  case OP_MATMUL_NORM_GATHER: return op_matmul_norm_gather(R, i);
  case OP_MATMUL_ADD_GATHER: case OP_MATMUL_SCATTER_GATE: return op_matmul_routed(R, i);
  case OP_ADD: case OP_BIAS_ADD: case OP_SILU: case OP_SILU_MUL: return op_elementwise(R, i);
  case OP_ROPE: return op_rope(R, i);
  case OP_ATTENTION: return op_attention(R, i);
  case OP_KV_ATTENTION: return op_kv_attention(R, i);
  case OP_TAKE_LAST: return op_take_last(R, i);
  case OP_MOD_BLOCK: return op_mod_block(R, i);
  case OP_YIELD: return op_copy(R, i);
  case OP_TOPK: return op_topk(R, i);
  case OP_GATHER: return op_gather(R, i);
  case OP_SCATTER_GATE: return op_scatter_gate(R, i);
  default: return fail(R, i, "op not supported by the interpreter");
  }
}

/* lastuse[v] = the last top-level node reading v (a use inside a region counts as its block) */
static void compute_lastuse(Run *R) {
  const Graph *g = R->g;
  for (int i = 0; i < g->len; i++) R->lastuse[i] = i;
  for (int i = 0; i < g->len; i++) {
    int at = g->n[i].parent >= 0 ? g->n[i].parent : i;
    for (int j = 0; j < g->n[i].nin; j++)
      if (R->lastuse[g->n[i].in[j]] < at) R->lastuse[g->n[i].in[j]] = at;
  }
}

static int check_call(Run *R, double *out) {
  const Graph *g = R->g;
  if (!R->w || !R->tokens || !out) return fail(R, -1, "weights, tokens and out are required");
  if (R->rows < 1) return fail(R, -1, "rows = %lld", (long long)R->rows);
  if (g->mode == GRAPH_SESSION && !R->s) return fail(R, -1, "session graph needs a session");
  if (g->mode == GRAPH_SESSION && g->nsym > 0 && R->rows > g->symbound[0])
    return fail(R, -1, "rows %lld exceed the bound %lld of s0", (long long)R->rows,
                (long long)g->symbound[0]);
  if (g->nsym > IR_MAXSYM) return fail(R, -1, "too many symbols");
  for (int i = 0; i < IR_MAXSYM; i++) R->sym[i] = -1;
  if (g->mode == GRAPH_SESSION) R->sym[0] = R->rows;
  return 0;
}

/* Execute the top level in order, freeing each value after its last use. */
static int run_top(Run *R, double *out) {
  const Graph *g = R->g;
  int have_out = 0;
  for (int i = 0; i < g->len; i++) {
    if (g->n[i].parent >= 0) continue;
    if (exec_node(R, i)) return -1;
    if (g->n[i].op == OP_OUTPUT) {
      memcpy(out, R->val[i].v, R->val[i].n * sizeof(double));
      have_out = 1;
    }
    for (int j = 0; j <= i; j++)
      if (R->lastuse[j] == i && g->n[j].op != OP_OUTPUT) free_val(&R->val[j]);
  }
  return have_out ? 0 : fail(R, -1, "graph has no output node");
}

static void advance_positions(Run *R) {
  if (!R->s) return;
  for (int64_t t = 0; t < R->rows; t++) {
    int64_t p = R->pos ? R->pos[t] : R->s->next_pos + t;
    if (p + 1 > R->s->next_pos) R->s->next_pos = p + 1;
  }
}

int interp_run(const Graph *g, const uint8_t *weights, const int32_t *tokens,
               const int32_t *pos, int64_t rows, InterpSession *s, double *out,
               InterpStats *stats, char *err, size_t errlen) {
  char dummy[8];
  Run R = {.g = g, .w = weights, .tokens = tokens, .pos = pos, .rows = rows, .st = stats,
           .s = g->mode == GRAPH_SESSION ? s : NULL, .err = err ? err : dummy,
           .errlen = err ? errlen : sizeof dummy};
  if (R.errlen) R.err[0] = 0;
  if (stats) {
    stats->min_margin = INFINITY;
    memset(stats->routed_rows, 0, sizeof stats->routed_rows);
  }
  if (check_call(&R, out)) return -1;
  R.val = calloc(g->len ? g->len : 1, sizeof *R.val);
  R.lastuse = calloc(g->len ? g->len : 1, sizeof *R.lastuse);
  int rc = R.val && R.lastuse ? 0 : fail(&R, -1, "out of memory");
  if (!rc) {
    compute_lastuse(&R);
    rc = run_top(&R, out);
  }
  if (!rc) advance_positions(&R);
  for (int i = 0; R.val && i < g->len; i++) free_val(&R.val[i]);
  free(R.val), free(R.lastuse);
  return rc;
}
