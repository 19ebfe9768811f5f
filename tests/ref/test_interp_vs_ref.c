/* test_interp_vs_ref.c: the interpreter against the independent reference (refmodel.c).
 *
 * For random small specs (dims with GQA and d_model not a multiple of 16, tied embeddings,
 * raw/sigmoid gates, router/mlp predictors, router bias, per-layer capacities incl. 1.0 and
 * k = 1, T = 1) with random weights written as safetensors (F32/BF16/F16) it runs the whole
 * front half of the compiler: wlayout_build/wlayout_write -> packed blob; build_forward /
 * build_session -> infer-shapes (-> lower-mod (-> fuse-epilogues (-> fuse-routing))) ->
 * interp_run, and compares with ref_forward / ref_causal: relative error < 1e-9 (both
 * compute in double) and equal routing decisions, in all four graph forms.  Sessions are
 * also checked for prefill(n) == prefill(n1) + decodes; the two fused forward graphs must
 * give the lowered one's logits bit for bit.
 *
 * Routing is discrete: a case whose reference routing margin is below 1e-6 of its score
 * scale is a near-tie that may legitimately route differently; it is skipped for the next
 * seed and counted, never tolerated by loosening the comparison.
 * Usage: test_interp_vs_ref [n_cases] [first_seed]   (default 40 cases from seed 1)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "frontend/graph.h"
#include "frontend/safetensors.h"
#include "frontend/spec.h"
#include "ir/interp.h"
#include "passes/passes.h"
#include "refmodel.h"

#define TOL 1e-9
#define TIE 1e-6
#define MAXT 12

typedef struct Rng {
  uint64_t s;
} Rng;

static uint64_t rnd_u64(Rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static int rnd_int(Rng *r, int lo, int hi) {
  return lo + (int)(rnd_u64(r) % (uint64_t)(hi - lo + 1));
}
static double rnd_unif(Rng *r) { return (rnd_u64(r) >> 11) * (1.0 / 9007199254740992.0) * 2 - 1; }

/* One case: a spec, its safetensors file and packed blob. */
typedef struct Case {
  Spec s;
  StFile st;
  WLayout wl;
  uint8_t *blob;
  int have_st, have_wl;     /* what case_close must release */
  char dir[256];
  int n_tok;                /* tokens in the session tests */
  int32_t tok[MAXT];
  int Ts[2];                /* forward lengths tested */
} Case;

/* ---- random specs and weights ---- */

static void random_routing(Rng *r, Spec *s) {
  static const double caps[] = {1.0, 0.5, 0.25, 0.125, 0.3, 0.01, 0.75};
  s->gate = rnd_int(r, 0, 1) ? GATE_SIGMOID : GATE_RAW;
  s->router_bias = rnd_int(r, 0, 1);
  s->predictor = rnd_int(r, 0, 1) ? PRED_MLP : PRED_ROUTER;
  s->predictor_hidden = rnd_int(r, 1, 7);
  for (int l = 0; l < s->n_layers; l++) {
    s->routed[l] = rnd_int(r, 0, 3) != 0;
    s->capacity[l] = s->routed[l] ? caps[rnd_int(r, 0, 6)] : 1.0;
  }
}

static void random_spec(Rng *r, Spec *s, const char *dir) {
  static const int kv[4][3] = {{1}, {1, 2}, {1, 3}, {1, 2, 4}}; /* divisors of n_heads */
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "rand");
  snprintf(s->path, sizeof s->path, "%s/rand.yaml", dir);
  snprintf(s->weights_path, sizeof s->weights_path, "%s/rand.safetensors", dir);
  s->n_heads = rnd_int(r, 1, 4);
  s->n_kv_heads = kv[s->n_heads - 1][rnd_int(r, 0, s->n_heads == 1 ? 0 : s->n_heads == 4 ? 2 : 1)];
  s->d_model =
      s->n_heads * 2 * rnd_int(r, 1, 5); /* head dims 2..10: d is rarely a multiple of 16 */
  s->vocab_size = rnd_int(r, 3, 37);
  s->n_layers = rnd_int(r, 1, 4);
  s->d_ff = rnd_int(r, 1, 3 * s->d_model);
  s->max_seq_len = rnd_int(r, MAXT, 2 * MAXT);
  s->norm_eps = rnd_int(r, 0, 1) ? 1e-5 : 1e-6;
  s->rope_theta = rnd_int(r, 0, 1) ? 10000.0 : 500.0;
  s->tie_embeddings = rnd_int(r, 0, 1);
  random_routing(r, s);
  s->n_shapes = 1;
  s->shapes[0][0] = 1, s->shapes[0][1] = MAXT;
  snprintf(s->target, sizeof s->target, "host");
  snprintf(s->cpu, sizeof s->cpu, "native");
  s->weights_dtype = rnd_int(r, 0, 2) == 0 ? DT_BF16 : DT_F32;
}

typedef struct WList {
  Rng *r;
  int n;
  StWriteTensor t[4 + 16 * SPEC_MAX_LAYERS];
  void *data[4 + 16 * SPEC_MAX_LAYERS];
} WList;

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

/* norms near 1, everything else uniform with a fan-in scale; random file dtype */
static void add_tensor(const char *name, int rank, const int64_t *shape, void *ctx) {
  WList *w = ctx;
  StWriteTensor *t = &w->t[w->n];
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= shape[i], t->shape[i] = shape[i];
  t->name = strdup(name);
  t->rank = rank;
  t->dtype = (DType[]){DT_F32, DT_BF16, DT_F16}[rnd_int(w->r, 0, 2)];
  int norm = ends_with(name, "norm.weight");
  double scale = norm ? 0.2 : rank == 2 ? 1.5 / sqrt((double)shape[1]) : 0.5;
  uint8_t *d = malloc(n * 4);
  for (int64_t i = 0; i < n; i++) {
    float f = (float)((norm ? 1 : 0) + scale * rnd_unif(w->r));
    if (t->dtype == DT_F32) memcpy(d + 4 * i, &f, 4);
    else {
      uint16_t h = t->dtype == DT_BF16 ? f32_to_bf16(f) : f32_to_f16(f);
      memcpy(d + 2 * i, &h, 2);
    }
  }
  t->data = w->data[w->n++] = d;
}

static int write_weights(Rng *r, const Spec *s) {
  static WList w;
  char err[512];
  memset(&w, 0, sizeof w);
  w.r = r;
  st_expected_tensors(s, add_tensor, &w);
  int rc = st_write(s->weights_path, w.t, w.n, err, sizeof err);
  if (rc) printf("st_write: %s\n", err);
  for (int i = 0; i < w.n; i++) free((void *)w.t[i].name), free(w.data[i]);
  return rc;
}

/* the packed blob as the runtime sees it: the file minus its 64-byte header */
static uint8_t *pack(Case *c) {
  char path[300], err[512];
  uint64_t hash;
  snprintf(path, sizeof path, "%s/rand.weights", c->dir);
  if (wlayout_build(&c->s, NULL, &c->wl)) return printf("wlayout_build failed\n"), NULL;
  c->have_wl = 1;
  if (wlayout_write(&c->wl, &c->st, path, &hash, err, sizeof err))
    return printf("wlayout_write: %s\n", err), NULL;
  FILE *f = fopen(path, "rb");
  uint8_t *b = malloc(c->wl.size + 64);
  size_t got = f ? fread(b, 1, c->wl.size + 64, f) : 0;
  if (f) fclose(f);
  if (got != (size_t)c->wl.size + 64) return printf("weights file %s short\n", path), free(b), NULL;
  memmove(b, b + 64, c->wl.size);
  return b;
}

static int case_open(Case *c, uint64_t seed) {
  Rng r = {seed * 7919};
  char err[512];
  memset(c, 0, sizeof *c);
  snprintf(c->dir, sizeof c->dir, "%s/modc_interp_XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(c->dir)) return printf("mkdtemp failed\n"), -1;
  random_spec(&r, &c->s, c->dir);
  if (write_weights(&r, &c->s)) return -1;
  if (st_open(c->s.weights_path, &c->st, err, sizeof err)) return printf("st_open: %s\n", err), -1;
  c->have_st = 1;
  if (st_check_spec(&c->st, &c->s, err, sizeof err)) return printf("st_check_spec: %s\n", err), -1;
  c->blob = pack(c);
  c->n_tok = rnd_int(&r, 2, MAXT);
  for (int t = 0; t < MAXT; t++) c->tok[t] = rnd_int(&r, 0, c->s.vocab_size - 1);
  c->Ts[0] = 1, c->Ts[1] = rnd_int(&r, 2, MAXT);
  return c->blob ? 0 : -1;
}

static void case_close(Case *c) {
  char p[300];
  if (c->have_st) st_close(&c->st);
  if (c->have_wl) wlayout_free(&c->wl);
  free(c->blob);
  const char *files[] = {"rand.safetensors", "rand.weights"};
  for (int i = 0; i < 2; i++) snprintf(p, sizeof p, "%s/%s", c->dir, files[i]), unlink(p);
  rmdir(c->dir);
}

static void describe(const Case *c) {
  const Spec *s = &c->s;
  printf("  spec: vocab %d d %d layers %d heads %d/%d d_ff %d tie %d gate %s bias %d pred %s(%d)"
         " wdt %s caps",
      s->vocab_size, s->d_model, s->n_layers, s->n_heads, s->n_kv_heads, s->d_ff, s->tie_embeddings,
      s->gate == GATE_SIGMOID ? "sigmoid" : "raw", s->router_bias,
      s->predictor == PRED_MLP ? "mlp" : "router", s->predictor_hidden,
      dtype_name(s->weights_dtype));
  for (int l = 0; l < s->n_layers; l++) printf(" %s%g", s->routed[l] ? "" : "d", s->capacity[l]);
  printf("\n");
}

/* ---- graphs ---- */

static int any_untyped(const Graph *g) {
  for (int i = 0; i < g->len; i++)
    if (g->n[i].ty.rank < 0) return 1;
  return 0;
}

/* does g hold a fused matmul (so the fused form tested something)?  routed: one of
 * fuse-routing's, wherever the spec routes a layer */
static int any_fused(const Graph *g, int routed) {
  int seen[OP_COUNT] = {0};
  for (int i = 0; i < g->len; i++) seen[g->n[i].op] = 1;
  if (routed) return seen[OP_MATMUL_NORM_GATHER] && seen[OP_MATMUL_ADD_GATHER] && seen[OP_MATMUL_SCATTER_GATE];
  return seen[OP_MATMUL_ADD] || seen[OP_MATMUL_SILU_MUL];
}

static int any_routed(const Spec *s) {
  for (int l = 0; l < s->n_layers; l++)
    if (s->routed[l]) return 1;
  return 0;
}

/* infer shapes, verify; lowered: also lower-mod (and infer again if it left types out);
 * lowered >= 2: then fuse-epilogues too, which must fuse something; lowered == 3: then
 * fuse-routing, which must fuse all three routed forms when the spec routes a layer */
static Graph *prepare(const Spec *s, Graph *g, int lowered, const char *what) {
  char err[1024];
  int rc = g ? 0 : (printf("  %s: builder returned NULL\n", what), -1);
  if (!rc && (rc = pass_infer_shapes(g, err, sizeof err)))
    printf("  %s: infer-shapes: %s\n", what, err);
  if (!rc && (rc = graph_verify(g, err, sizeof err))) printf("  %s: verify: %s\n", what, err);
  if (!rc && lowered && (rc = pass_lower_mod(&g, err, sizeof err)))
    printf("  %s: lower-mod: %s\n", what, err);
  if (!rc && lowered && any_untyped(g) && (rc = pass_infer_shapes(g, err, sizeof err)))
    printf("  %s: infer-shapes after lowering: %s\n", what, err);
  if (!rc && lowered && (rc = graph_verify(g, err, sizeof err)))
    printf("  %s: verify after lowering: %s\n", what, err);
  if (!rc && lowered >= 2 && (rc = pass_fuse_epilogues(&g, err, sizeof err)))
    printf("  %s: fuse-epilogues: %s\n", what, err);
  if (!rc && lowered == 3 && (rc = pass_fuse_routing(&g, err, sizeof err)))
    printf("  %s: fuse-routing: %s\n", what, err);
  if (!rc && lowered >= 2 && (rc = graph_verify(g, err, sizeof err)))
    printf("  %s: verify after fusing: %s\n", what, err);
  if (!rc && lowered >= 2 && !any_fused(g, lowered == 3 && any_routed(s)))
    rc = -1, printf("  %s: nothing fused\n", what);
  if (rc && g) graph_free(g), g = NULL;
  return g;
}

/* max |a-b| / max |b| */
static double rel_err(const double *a, const double *b, int64_t n) {
  double num = 0, den = 1e-300;
  for (int64_t i = 0; i < n; i++) {
    num = fmax(num, fabs(a[i] - b[i]));
    den = fmax(den, fabs(b[i]));
  }
  return num != num ? INFINITY : num / den;
}

/* Margins of exactly 0 count too: repeated tokens give rows that are equal only up to
 * rounding after attention (RoPE differs by position), so a 0 in the reference can be 1e-16
 * in the interpreter.  The tie rule itself is tested in test_interp_ops. */
static int near_tie(const RefStats *st) {
  return st->min_margin < TIE * fmax(st->score_scale, 1e-300);
}

/* ---- forward ---- */

static const char *const forms[4] = {"mod.block", "lowered", "fused", "routing-fused"};

/* keep: where the lowered form leaves its logits, which the fused form must equal bit for
 * bit (fusing changes no arithmetic of the reference) */
static int forward_one(Case *c, int T, int lowered, const double *want, const RefStats *rs,
                       double *keep) {
  const char *form = forms[lowered];
  Graph *g = prepare(&c->s, build_forward(&c->s, &c->wl, T), lowered, form);
  double *out = malloc((size_t)T * c->s.vocab_size * sizeof *out);
  int32_t pos[MAXT];
  for (int t = 0; t < T; t++) pos[t] = t;
  InterpStats is;
  char err[1024];
  int rc = g ? interp_run(g, c->blob, c->tok, pos, T, NULL, out, &is, err, sizeof err) : -1;
  if (g && rc) printf("  forward T=%d %s: interp: %s\n", T, form, err);
  if (!rc) {
    double e = rel_err(out, want, (int64_t)T * c->s.vocab_size);
    double dm = isinf(rs->min_margin) ? (isinf(is.min_margin) ? 0 : INFINITY)
                                      : fabs(is.min_margin - rs->min_margin);
    if (e >= TOL || dm > TOL * fmax(rs->score_scale, 1)) {
      printf("  forward T=%d %s: rel err %.3g, margin interp %.17g ref %.17g\n", T, form, e,
             is.min_margin, rs->min_margin);
      rc = -1;
    }
    size_t nb = (size_t)T * c->s.vocab_size * sizeof *out;
    if (lowered == 1) memcpy(keep, out, nb);
    if (lowered >= 2 && memcmp(keep, out, nb))
      printf("  forward T=%d: %s logits differ from the lowered graph's\n", T, form), rc = -1;
    for (int l = 0; !lowered && l < c->s.n_layers; l++)
      if (c->s.routed[l] && is.routed_rows[l] != rs->routed_rows[l]) {
        printf("  forward T=%d layer %d: interp routed %d rows, ref %d\n", T, l, is.routed_rows[l],
               rs->routed_rows[l]);
        rc = -1;
      }
  }
  graph_free(g);
  free(out);
  return rc;
}

/* 1: pass, 0: skipped (near-tie), -1: fail */
static int check_forward(Case *c) {
  int rc = 1;
  for (int i = 0; i < 2 && rc == 1; i++) {
    int T = c->Ts[i];
    double *want = malloc((size_t)T * c->s.vocab_size * sizeof *want);
    double *keep = malloc((size_t)T * c->s.vocab_size * sizeof *keep);
    RefStats rs;
    if (ref_forward(&c->s, &c->st, T, c->tok, want, &rs)) rc = -1, printf("  ref_forward failed\n");
    else if (near_tie(&rs))
      rc = 0, printf("  forward T=%d: near-tie margin %.3g (scale %.3g)\n", T, rs.min_margin,
                     rs.score_scale);
    for (int lo = 0; lo < 4 && rc == 1; lo++)
      if (forward_one(c, T, lo, want, &rs, keep)) rc = -1;
    free(want), free(keep);
  }
  return rc;
}

/* ---- sessions ---- */

/* Feed tokens [0,n) in calls of sizes split[]: outputs of each call's last row go to
 * got[last token of the call]; then the routing traces are compared with ref's taken. */
static int session_run(Case *c, Graph *g, const int *split, int nsplit, double *got,
                       uint8_t *trace) {
  const Spec *s = &c->s;
  int kvd = s->n_kv_heads * spec_head_dim(s), at = 0, rc = 0;
  InterpSession *ses = interp_session_new(s->n_layers, s->max_seq_len, kvd);
  char err[1024];
  for (int i = 0; i < nsplit && !rc; i++) {
    int32_t pos[MAXT];
    for (int t = 0; t < split[i]; t++) pos[t] = at + t;
    double *o = got + (int64_t)(at + split[i] - 1) * s->vocab_size;
    rc = interp_run(g, c->blob, c->tok + at, pos, split[i], ses, o, NULL, err, sizeof err);
    if (rc) printf("  session call %d (%d rows at %d): interp: %s\n", i, split[i], at, err);
    at += split[i];
  }
  for (int l = 0; !rc && l < s->n_layers; l++)
    for (int t = 0; t < at; t++) trace[l * at + t] = s->routed[l] ? interp_routing(ses, l)[t] : 0;
  interp_session_free(ses);
  return rc;
}

static int compare_session(Case *c, const char *what, const int *split, int nsplit,
                           const double *got, const uint8_t *trace, const double *want,
                           const uint8_t *taken) {
  int V = c->s.vocab_size, at = 0, rc = 0;
  for (int i = 0; i < nsplit; i++) {
    at += split[i];
    double e = rel_err(got + (int64_t)(at - 1) * V, want + (int64_t)(at - 1) * V, V);
    if (e >= TOL) printf("  %s: call %d (row %d): rel err %.3g\n", what, i, at - 1, e), rc = -1;
  }
  for (int l = 0; l < c->s.n_layers; l++)
    for (int t = 0; t < at; t++)
      if (trace[l * at + t] != taken[l * at + t])
        printf("  %s: layer %d token %d: interp taken %d, ref %d\n", what, l, t, trace[l * at + t],
               taken[l * at + t]),
            rc = -1;
  return rc;
}

/* one prefill of all n, then prefill(n1) + decodes; every graph form */
static int session_forms(Case *c, const double *want, const uint8_t *taken) {
  int n = c->n_tok, n1 = 1 + (int)(c->tok[0] % (n - 1)), all[1] = {n}, split[MAXT] = {n1}, ns = 1,
      rc = 0;
  while (ns < 1 + n - n1) split[ns++] = 1;
  double *got = calloc((size_t)n * c->s.vocab_size, sizeof *got);
  uint8_t *trace = calloc((size_t)n * c->s.n_layers, 1);
  for (int lo = 0; lo < 4 && !rc; lo++) {
    char what[64];
    snprintf(what, sizeof what, "session %s", forms[lo]);
    Graph *g = prepare(&c->s, build_session(&c->s, &c->wl), lo, what);
    if (!g) rc = -1;
    snprintf(what, sizeof what, "%s prefill %d", forms[lo], n);
    if (!rc && !(rc = session_run(c, g, all, 1, got, trace)))
      rc = compare_session(c, what, all, 1, got, trace, want, taken);
    snprintf(what, sizeof what, "%s prefill %d + %d decodes", forms[lo], n1, n - n1);
    if (!rc && !(rc = session_run(c, g, split, ns, got, trace)))
      rc = compare_session(c, what, split, ns, got, trace, want, taken);
    graph_free(g);
  }
  free(got), free(trace);
  return rc;
}

static int check_session(Case *c) {
  int n = c->n_tok;
  double *want = malloc((size_t)n * c->s.vocab_size * sizeof *want);
  uint8_t *taken = malloc((size_t)n * c->s.n_layers);
  RefStats rs;
  int rc = 1;
  if (ref_causal(&c->s, &c->st, n, c->tok, want, taken, &rs))
    rc = -1, printf("  ref_causal failed\n");
  else if (near_tie(&rs))
    rc = 0, printf("  session: near-tie |p| %.3g (scale %.3g)\n", rs.min_margin, rs.score_scale);
  if (rc == 1 && session_forms(c, want, taken)) rc = -1;
  free(want), free(taken);
  return rc;
}

int main(int argc, char **argv) {
  int want = argc > 1 ? atoi(argv[1]) : 40, passed = 0, failed = 0, skipped = 0;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
  for (; passed + failed < want && seed < 100000; seed++) {
    Case c;
    int rc = case_open(&c, seed) ? -1 : check_forward(&c);
    if (rc == 1) rc = check_session(&c);
    if (rc != 1)
      printf("seed %llu: %s\n", (unsigned long long)seed, rc ? "FAIL" : "skipped (near-tie)");
    if (rc != 1) describe(&c);
    passed += rc == 1, failed += rc < 0, skipped += rc == 0;
    case_close(&c);
  }
  printf(
      "test_interp_vs_ref: %d specs passed, %d failed, %d skipped as near-ties (last seed %llu)\n",
      passed, failed, skipped, (unsigned long long)(seed - 1));
  return failed != 0 || passed == 0;
}
