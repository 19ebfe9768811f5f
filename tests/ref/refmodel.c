/* refmodel.c: the reference MoD model (refmodel.h), written from DESIGN.md section 4 alone.
 *
 * Plain loops in the manner of llama2.c, double accumulation, weights widened to double
 * once per call.  Shares nothing with the interpreter or the compiler except the Spec and
 * the safetensors reader, so that agreement between them means something.
 *
 *   h = E[tokens]
 *   per layer: dense: h = block(h, pos = 0..T-1)
 *              routed: r = h . w_router (+ b); S = top-k of r (forward) or {t : p[t] > 0}
 *                      (causal, p = r or the mlp predictor); x = h[S]; y = block(x, pos = S);
 *                      h[S] = x + g(r[S]) * (y - x)
 *   logits = rmsnorm(h) * w_norm . W_lm^T
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "refmodel.h"

typedef struct RefLayer {
  double *w_in, *w_post;    /* (d) input_layernorm, post_attention_layernorm */
  double *wq;               /* (n_heads*hd, d) */
  double *wk, *wv;          /* (n_kv_heads*hd, d) */
  double *wo;               /* (d, n_heads*hd) */
  double *wg, *wu;          /* (d_ff, d) gate_proj, up_proj */
  double *wd;               /* (d, d_ff) down_proj */
  double *wr, *br;          /* (d) router weight; (1) router bias or NULL */
  double *fc1w, *fc1b;      /* (hidden, d), (hidden): mlp predictor, or NULL */
  double *fc2w, *fc2b;      /* (hidden), (1) */
} RefLayer;

typedef struct RefModel {
  const Spec *s;
  int d, hd, kvd;           /* d_model, head dim, n_kv_heads*hd */
  double *emb;              /* (vocab, d) */
  double *norm;             /* (d) */
  double *lm;               /* (vocab, d): lm_head, or emb when tied */
  RefLayer l[SPEC_MAX_LAYERS];
} RefModel;

/* ---- loading ---- */

/* round a float to the nearest bf16 (ties to even), returned widened */
static double round_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return f; /* NaN stays */
  u += 0x7fff + ((u >> 16) & 1);
  u &= 0xffff0000u;
  memcpy(&f, &u, 4);
  return f;
}

/* The tensor `name` as doubles; n elements expected; rank-2 tensors rounded if asked. */
static double *load(const StFile *st, const char *name, int64_t n, int rnd, int *bad) {
  const StTensor *t = st_find(st, name);
  int64_t have = 1;
  for (int i = 0; t && i < t->rank; i++) have *= t->shape[i];
  if (!t || have != n) {
    fprintf(stderr, "refmodel: tensor %s %s\n", name, t ? "has the wrong size" : "is missing");
    *bad = 1;
    return NULL;
  }
  double *w = malloc(n * sizeof *w);
  for (int64_t i = 0; i < n; i++) {
    float f = st_get_f32(t, i);
    w[i] = rnd && t->rank == 2 ? round_bf16(f) : f;
  }
  return w;
}

static double *load_layer(const StFile *st, int l, const char *suffix, int64_t n, int rnd,
                          int *bad) {
  char name[200];
  snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);
  return load(st, name, n, rnd, bad);
}

static void load_routing(RefModel *m, const StFile *st, int l, int rnd, int *bad) {
  const Spec *s = m->s;
  RefLayer *L = &m->l[l];
  int hid = s->predictor_hidden;
  L->wr = load_layer(st, l, "router.weight", m->d, rnd, bad);
  if (s->router_bias) L->br = load_layer(st, l, "router.bias", 1, rnd, bad);
  if (s->predictor != PRED_MLP) return;
  L->fc1w = load_layer(st, l, "predictor.fc1.weight", (int64_t)hid * m->d, rnd, bad);
  L->fc1b = load_layer(st, l, "predictor.fc1.bias", hid, rnd, bad);
  L->fc2w = load_layer(st, l, "predictor.fc2.weight", hid, rnd, bad);
  L->fc2b = load_layer(st, l, "predictor.fc2.bias", 1, rnd, bad);
}

static void load_block(RefModel *m, const StFile *st, int l, int rnd, int *bad) {
  const Spec *s = m->s;
  RefLayer *L = &m->l[l];
  int64_t d = m->d, qd = (int64_t)s->n_heads * m->hd, ff = s->d_ff;
  L->w_in = load_layer(st, l, "input_layernorm.weight", d, rnd, bad);
  L->wq = load_layer(st, l, "self_attn.q_proj.weight", qd * d, rnd, bad);
  L->wk = load_layer(st, l, "self_attn.k_proj.weight", m->kvd * d, rnd, bad);
  L->wv = load_layer(st, l, "self_attn.v_proj.weight", m->kvd * d, rnd, bad);
  L->wo = load_layer(st, l, "self_attn.o_proj.weight", d * qd, rnd, bad);
  L->w_post = load_layer(st, l, "post_attention_layernorm.weight", d, rnd, bad);
  L->wg = load_layer(st, l, "mlp.gate_proj.weight", ff * d, rnd, bad);
  L->wu = load_layer(st, l, "mlp.up_proj.weight", ff * d, rnd, bad);
  L->wd = load_layer(st, l, "mlp.down_proj.weight", d * ff, rnd, bad);
  if (s->routed[l]) load_routing(m, st, l, rnd, bad);
}

static void free_model(RefModel *m) {
  for (int l = 0; l < m->s->n_layers; l++) {
    RefLayer *L = &m->l[l];
    double *p[] = {L->w_in, L->w_post, L->wq, L->wk, L->wv, L->wo, L->wg, L->wu, L->wd,
                   L->wr, L->br, L->fc1w, L->fc1b, L->fc2w, L->fc2b};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
  }
  if (m->lm != m->emb) free(m->lm);
  free(m->emb);
  free(m->norm);
}

static int load_model(RefModel *m, const Spec *s, const StFile *st, int rnd) {
  int bad = 0;
  memset(m, 0, sizeof *m);
  m->s = s;
  m->d = s->d_model;
  m->hd = s->d_model / s->n_heads;
  m->kvd = s->n_kv_heads * m->hd;
  int64_t vd = (int64_t)s->vocab_size * m->d;
  m->emb = load(st, "model.embed_tokens.weight", vd, rnd, &bad);
  m->norm = load(st, "model.norm.weight", m->d, rnd, &bad);
  m->lm = s->tie_embeddings ? m->emb : load(st, "lm_head.weight", vd, rnd, &bad);
  for (int l = 0; l < s->n_layers; l++) load_block(m, st, l, rnd, &bad);
  if (bad) free_model(m);
  return bad ? -1 : 0;
}

/* ---- math ---- */

/* o[n] = x[d] . W[n][d] row by row (PyTorch Linear: y = x W^T) */
static void linear(double *o, const double *x, const double *W, int n, int d) {
  for (int i = 0; i < n; i++) {
    double acc = 0;
    for (int j = 0; j < d; j++) acc += x[j] * W[(int64_t)i * d + j];
    o[i] = acc;
  }
}

static void rmsnorm(double *o, const double *x, const double *w, int d, double eps) {
  double ss = 0;
  for (int j = 0; j < d; j++) ss += x[j] * x[j];
  double inv = 1.0 / sqrt(ss / d + eps);
  for (int j = 0; j < d; j++) o[j] = x[j] * inv * w[j];
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* HF rotate-half RoPE on nh heads of v (nh*hd values) at position pos */
static void rope(double *v, int nh, int hd, int pos, double theta) {
  int half = hd / 2;
  for (int i = 0; i < half; i++) {
    double freq = 1.0 / pow(theta, 2.0 * i / hd), a = pos * freq, c = cos(a), s = sin(a);
    for (int h = 0; h < nh; h++) {
      double *e = v + h * hd, x0 = e[i], x1 = e[i + half];
      e[i] = x0 * c - x1 * s;
      e[i + half] = x1 * c + x0 * s;
    }
  }
}

/* ---- the block ---- */

typedef struct Scratch {
  double *u, *q, *k, *v, *att, *t, *g, *up,
      *sc; /* u,t (m,d) q,att (m,H*hd) k,v (m,kvd) g,up (d_ff) sc (m) */
} Scratch;

/* att[i] = softmax-weighted v over rows j with pos[j] <= pos[i]; GQA by h / (H / Hk) */
static void attention(const RefModel *m, Scratch *w, int n, const int *pos) {
  const Spec *s = m->s;
  int H = s->n_heads, hd = m->hd, group = s->n_heads / s->n_kv_heads;
  for (int i = 0; i < n; i++)
    for (int h = 0; h < H; h++) {
      const double *q = w->q + ((int64_t)i * H + h) * hd;
      int kh = h / group;
      double mx = -INFINITY, sum = 0;
      for (int j = 0; j < n; j++) {
        if (pos[j] > pos[i]) continue;
        const double *k = w->k + (int64_t)j * m->kvd + kh * hd;
        double dot = 0;
        for (int c = 0; c < hd; c++) dot += q[c] * k[c];
        w->sc[j] = dot / sqrt((double)hd);
        if (w->sc[j] > mx) mx = w->sc[j];
      }
      double *o = w->att + ((int64_t)i * H + h) * hd;
      for (int c = 0; c < hd; c++) o[c] = 0;
      for (int j = 0; j < n; j++)
        if (pos[j] <= pos[i]) sum += w->sc[j] = exp(w->sc[j] - mx);
      for (int j = 0; j < n; j++) {
        if (pos[j] > pos[i]) continue;
        const double *v = w->v + (int64_t)j * m->kvd + kh * hd;
        for (int c = 0; c < hd; c++) o[c] += w->sc[j] / sum * v[c];
      }
    }
}

/* x = x + attn(rmsnorm(x) * w_in, pos) for n rows */
static void attn_part(const RefModel *m, const RefLayer *L, Scratch *w, double *x, int n,
                      const int *pos) {
  const Spec *s = m->s;
  int d = m->d, qd = s->n_heads * m->hd;
  for (int i = 0; i < n; i++) {
    double *u = w->u + (int64_t)i * d;
    rmsnorm(u, x + (int64_t)i * d, L->w_in, d, s->norm_eps);
    linear(w->q + (int64_t)i * qd, u, L->wq, qd, d);
    linear(w->k + (int64_t)i * m->kvd, u, L->wk, m->kvd, d);
    linear(w->v + (int64_t)i * m->kvd, u, L->wv, m->kvd, d);
    rope(w->q + (int64_t)i * qd, s->n_heads, m->hd, pos[i], s->rope_theta);
    rope(w->k + (int64_t)i * m->kvd, s->n_kv_heads, m->hd, pos[i], s->rope_theta);
  }
  attention(m, w, n, pos);
  for (int i = 0; i < n; i++) {
    linear(w->t, w->att + (int64_t)i * qd, L->wo, d, qd);
    for (int j = 0; j < d; j++) x[(int64_t)i * d + j] += w->t[j];
  }
}

/* x = x + W_down (silu(W_gate z) * (W_up z)), z = rmsnorm(x) * w_post, row by row */
static void mlp_part(const RefModel *m, const RefLayer *L, Scratch *w, double *x, int n) {
  int d = m->d, ff = m->s->d_ff;
  for (int i = 0; i < n; i++) {
    double *xi = x + (int64_t)i * d;
    rmsnorm(w->u, xi, L->w_post, d, m->s->norm_eps);
    linear(w->g, w->u, L->wg, ff, d);
    linear(w->up, w->u, L->wu, ff, d);
    for (int j = 0; j < ff; j++) w->g[j] = w->g[j] * sigmoid(w->g[j]) * w->up[j];
    linear(w->t, w->g, L->wd, d, ff);
    for (int j = 0; j < d; j++) xi[j] += w->t[j];
  }
}

/* the pre-norm Llama block, in place on x (n rows at positions pos) */
static void block(const RefModel *m, const RefLayer *L, Scratch *w, double *x, int n,
                  const int *pos) {
  attn_part(m, L, w, x, n, pos);
  mlp_part(m, L, w, x, n);
}

/* ---- routing ---- */

/* r[t] = h[t] . w_router (+ b_router) */
static void router(const RefModel *m, const RefLayer *L, const double *h, int T, double *r) {
  for (int t = 0; t < T; t++) {
    linear(&r[t], h + (int64_t)t * m->d, L->wr, 1, m->d);
    if (L->br) r[t] += L->br[0];
  }
}

/* p[t] = w2 . silu(W1 h[t] + b1) + b2 */
static void predictor(const RefModel *m, const RefLayer *L, const double *h, int T, double *p,
                      double *hidden) {
  int hid = m->s->predictor_hidden;
  for (int t = 0; t < T; t++) {
    linear(hidden, h + (int64_t)t * m->d, L->fc1w, hid, m->d);
    double acc = L->fc2b[0];
    for (int j = 0; j < hid; j++) {
      double z = hidden[j] + L->fc1b[j];
      acc += L->fc2w[j] * z * sigmoid(z);
    }
    p[t] = acc;
  }
}

static void note(RefStats *st, double margin, double scale) {
  if (!st) return;
  if (margin < st->min_margin) st->min_margin = margin;
  if (scale > st->score_scale) st->score_scale = scale;
}

/* S = the k rows with the largest r (ties to the smaller row), ascending; returns k */
static int choose_topk(const double *r, int T, double c, int *S, RefStats *st) {
  int k = (int)ceil(c * T - 1e-9);
  k = k < 1 ? 1 : k > T ? T : k;
  char *in = calloc(T, 1);
  double prev = 0, scale = 0;
  for (int i = 0; i <= k && i < T;
       i++) { /* pick the best unpicked row k times (+1 for the margin) */
    int best = -1;
    for (int t = 0; t < T; t++)
      if (!in[t] && (best < 0 || r[t] > r[best])) best = t;
    if (i == k) note(st, prev - r[best], 0);
    else in[best] = 1, prev = r[best];
  }
  for (int t = 0; t < T; t++) scale = fmax(scale, fabs(r[t]));
  note(st, INFINITY, scale);
  int n = 0;
  for (int t = 0; t < T; t++)
    if (in[t]) S[n++] = t;
  free(in);
  return n;
}

/* S = rows with p > 0, ascending; returns how many */
static int choose_causal(const double *p, int T, int *S, RefStats *st) {
  int n = 0;
  for (int t = 0; t < T; t++) {
    note(st, fabs(p[t]), fabs(p[t]));
    if (p[t] > 0) S[n++] = t;
  }
  return n;
}

/* ---- the model ---- */

typedef struct State {
  double *h;                /* (T, d) residual stream */
  double *x;                /* (T, d) routed rows */
  double *r, *p, *hidden;   /* (T), (T), (predictor_hidden) */
  int *S, *pos;             /* (T) chosen rows, their positions */
  Scratch w;
} State;

static int state_alloc(State *z, const RefModel *m, int T) {
  int64_t d = m->d, qd = (int64_t)m->s->n_heads * m->hd, ff = m->s->d_ff;
  memset(z, 0, sizeof *z);
  z->h = malloc(T * d * sizeof(double));
  z->x = malloc(T * d * sizeof(double));
  z->r = malloc(T * sizeof(double));
  z->p = malloc(T * sizeof(double));
  z->hidden = malloc((m->s->predictor_hidden + 1) * sizeof(double));
  z->S = malloc(T * sizeof(int));
  z->pos = malloc(T * sizeof(int));
  z->w.u = malloc(T * d * sizeof(double));
  z->w.q = malloc(T * qd * sizeof(double));
  z->w.att = malloc(T * qd * sizeof(double));
  z->w.k = malloc(T * m->kvd * sizeof(double));
  z->w.v = malloc(T * m->kvd * sizeof(double));
  z->w.t = malloc((d > T ? d : T) * sizeof(double));
  z->w.g = malloc(ff * sizeof(double));
  z->w.up = malloc(ff * sizeof(double));
  z->w.sc = malloc(T * sizeof(double));
  return z->h && z->x && z->r && z->p && z->hidden && z->S && z->pos && z->w.u && z->w.q &&
         z->w.att && z->w.k && z->w.v && z->w.t && z->w.g && z->w.up && z->w.sc ? 0 : -1;
}

static void state_free(State *z) {
  void *p[] = {z->h, z->x, z->r, z->p, z->hidden, z->S, z->pos, z->w.u, z->w.q, z->w.att,
               z->w.k, z->w.v, z->w.t, z->w.g, z->w.up, z->w.sc};
  for (size_t i = 0; i < sizeof p / sizeof *p; i++) free(p[i]);
}

/* h[S] = x + g(r[S]) * (y - x) with y the block's output for x = h[S] */
static void routed_layer(const RefModel *m, const RefLayer *L, State *z, int T, int n) {
  int d = m->d;
  for (int j = 0; j < n; j++) {
    memcpy(z->x + (int64_t)j * d, z->h + (int64_t)z->S[j] * d, d * sizeof(double));
    z->pos[j] = z->S[j];
  }
  if (n > 0) block(m, L, &z->w, z->x, n, z->pos);
  for (int j = 0; j < n; j++) {
    double r = z->r[z->S[j]], g = m->s->gate == GATE_SIGMOID ? sigmoid(r) : r;
    double *h = z->h + (int64_t)z->S[j] * d, *y = z->x + (int64_t)j * d;
    for (int c = 0; c < d; c++) h[c] = h[c] + g * (y[c] - h[c]);
  }
}

/* One layer; causal selects p > 0 instead of the top-k.  Records taken / stats. */
static void layer(const RefModel *m, int l, State *z, int T, int causal, uint8_t *taken,
                  RefStats *st) {
  const RefLayer *L = &m->l[l];
  if (!m->s->routed[l]) {
    for (int t = 0; t < T; t++) z->pos[t] = t;
    block(m, L, &z->w, z->h, T, z->pos);
    return;
  }
  router(m, L, z->h, T, z->r);
  int n;
  if (!causal) {
    n = choose_topk(z->r, T, m->s->capacity[l], z->S, st);
  } else {
    if (m->s->predictor == PRED_MLP) predictor(m, L, z->h, T, z->p, z->hidden);
    n = choose_causal(m->s->predictor == PRED_MLP ? z->p : z->r, T, z->S, st);
  }
  if (st) st->routed_rows[l] = n;
  for (int j = 0; taken && j < n; j++) taken[(int64_t)l * T + z->S[j]] = 1;
  routed_layer(m, L, z, T, n);
}

/* logits[t] = rmsnorm(h[t]) * w_norm . W_lm^T */
static void head(const RefModel *m, State *z, int T, double *logits) {
  int d = m->d, V = m->s->vocab_size;
  for (int t = 0; t < T; t++) {
    rmsnorm(z->w.u, z->h + (int64_t)t * d, m->norm, d, m->s->norm_eps);
    linear(logits + (int64_t)t * V, z->w.u, m->lm, V, d);
  }
}

static int run(const Spec *s, const StFile *st, int rnd, int T, const int32_t *tokens,
               double *logits, int causal, uint8_t *taken, RefStats *stats) {
  RefModel m;
  State z;
  if (T < 1 || s->n_layers > SPEC_MAX_LAYERS) return -1;
  if (load_model(&m, s, st, rnd)) return -1;
  int rc = state_alloc(&z, &m, T);
  for (int t = 0; !rc && t < T; t++) {
    if (tokens[t] < 0 || tokens[t] >= s->vocab_size) {
      fprintf(stderr, "refmodel: token %d at %d out of range\n", tokens[t], t);
      rc = -1;
    } else {
      memcpy(z.h + (int64_t)t * m.d, m.emb + (int64_t)tokens[t] * m.d, m.d * sizeof(double));
    }
  }
  if (stats) memset(stats, 0, sizeof *stats), stats->min_margin = INFINITY;
  if (taken) memset(taken, 0, (size_t)s->n_layers * T);
  for (int l = 0; !rc && l < s->n_layers; l++) layer(&m, l, &z, T, causal, taken, stats);
  if (!rc) head(&m, &z, T, logits);
  state_free(&z);
  free_model(&m);
  return rc;
}

int ref_forward_x(const Spec *s, const StFile *st, int round_bf16, int T, const int32_t *tokens,
                  double *logits, RefStats *stats) {
  return run(s, st, round_bf16, T, tokens, logits, 0, NULL, stats);
}

int ref_causal_x(const Spec *s, const StFile *st, int round_bf16, int n, const int32_t *tokens,
                 double *logits, uint8_t *taken, RefStats *stats) {
  return run(s, st, round_bf16, n, tokens, logits, 1, taken, stats);
}

int ref_forward(const Spec *s, const StFile *st, int T, const int32_t *tokens, double *logits,
                RefStats *stats) {
  return ref_forward_x(s, st, s->weights_dtype == DT_BF16, T, tokens, logits, stats);
}

int ref_causal(const Spec *s, const StFile *st, int n, const int32_t *tokens, double *logits,
               uint8_t *taken, RefStats *stats) {
  return ref_causal_x(s, st, s->weights_dtype == DT_BF16, n, tokens, logits, taken, stats);
}
