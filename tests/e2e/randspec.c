/* randspec.c: random specs covering the corners the end-to-end tests must reach: GQA,
 * tied embeddings, raw and sigmoid gates, router and mlp predictors, router bias, causal
 * thresholds (modc_forward routed by them too: routing.forward), per-layer capacities
 * including 1.0 and ones small enough that k = 1, BF16 and F16 weights, sizes that are not
 * multiples of the vector width, one-token sequences. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "randspec.h"
#include "frontend/safetensors.h"
#include "frontend/spec.h"

uint64_t rs_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double rs_uniform(uint64_t *s) { return (rs_next(s) >> 11) * 0x1.0p-53; }
int rs_int(uint64_t *s, int lo, int hi) { return lo + (int)(rs_next(s) % (uint64_t)(hi - lo + 1)); }

static const double caps[] = {0.125, 0.3, 0.5, 1.0, 0.01, 0.75};

void randspec_draw(uint64_t seed, RandSpec *r) {
  uint64_t s = seed * 7919 + 1;
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "rand%llu", (unsigned long long)seed);
  static const int vocabs[] = {256, 37, 100, 301};
  static const int hds[] = {2, 4, 6, 8, 16, 18, 32};
  r->vocab = vocabs[rs_int(&s, 0, 3)];
  r->kv_heads = rs_int(&s, 1, 2);
  r->heads = r->kv_heads * rs_int(&s, 1, 3);
  r->d = r->heads * hds[rs_int(&s, 0, 6)];
  r->layers = rs_int(&s, 1, 4);
  r->d_ff = rs_int(&s, 1, 80);
  r->max_seq = rs_int(&s, 8, 48);
  r->tie = rs_int(&s, 0, 1);
  r->bias = rs_int(&s, 0, 1);
  r->mlp = rs_int(&s, 0, 1);
  r->sigmoid = rs_int(&s, 0, 1);
  r->hidden = rs_int(&s, 1, 20);
  static const char *layer_modes[] = {"every_other", "all", "none", "[0]"};
  int lm = rs_int(&s, 0, 5);
  snprintf(r->layers_yaml, sizeof r->layers_yaml, "%s", lm < 4 ? layer_modes[lm] : "all");
  r->capacity = caps[rs_int(&s, 0, 5)];
  r->per_layer_idx = -1;
  if (!strcmp(r->layers_yaml, "all") && rs_int(&s, 0, 1)) {
    r->per_layer_idx = rs_int(&s, 0, r->layers - 1);
    r->per_layer_cap = caps[rs_int(&s, 0, 5)];
  }
  r->nshapes = rs_int(&s, 1, 2);
  for (int i = 0; i < r->nshapes; i++) {
    r->shapes[i][0] = rs_int(&s, 1, 2);
    r->shapes[i][1] = i == 0 && rs_int(&s, 0, 4) == 0 ? 1 : rs_int(&s, 1, r->max_seq);
  }
  if (r->nshapes == 2 && r->shapes[1][1] == r->shapes[0][1] && r->shapes[1][0] == r->shapes[0][0]) r->nshapes = 1;
  r->wdtype = rs_int(&s, 0, 2) ? "f32" : "bf16";
  static const int src[] = {DT_F32, DT_F32, DT_BF16, DT_F16};
  r->src_dtype = src[rs_int(&s, 0, 3)];
  static const double thr[] = {0, 0, 0.05, -0.05, 0.2}; /* drawn last: earlier draws stay as they were */
  r->threshold = thr[rs_int(&s, 0, 4)];
  r->per_layer_thr = thr[rs_int(&s, 0, 4)];
  r->forward_threshold = rs_int(&s, 0, 3) == 0;
}

static void write_yaml(const RandSpec *r, FILE *f) {
  fprintf(f, "modc: 1\nname: %s\nweights: %s.safetensors\nmodel:\n", r->name, r->name);
  fprintf(f, "  vocab_size: %d\n  d_model: %d\n  n_layers: %d\n  n_heads: %d\n  n_kv_heads: %d\n",
          r->vocab, r->d, r->layers, r->heads, r->kv_heads);
  fprintf(f, "  d_ff: %d\n  max_seq_len: %d\n  norm_eps: 1.0e-5\n  rope_theta: 10000.0\n", r->d_ff, r->max_seq);
  fprintf(f, "  tie_embeddings: %s\nrouting:\n  layers: %s\n  capacity: %g\n", r->tie ? "true" : "false",
          r->layers_yaml, r->capacity);
  fprintf(f, "  gate: %s\n  router_bias: %s\n  predictor: %s\n  predictor_hidden: %d\n",
          r->sigmoid ? "sigmoid" : "raw", r->bias ? "true" : "false", r->mlp ? "mlp" : "router", r->hidden);
  if (r->threshold != 0) fprintf(f, "  threshold: %g\n", r->threshold);
  if (r->forward_threshold) fprintf(f, "  forward: threshold\n");
  if (r->per_layer_idx >= 0)
    fprintf(f, "  per_layer: {%d: {capacity: %g, threshold: %g}}\n", r->per_layer_idx, r->per_layer_cap,
            r->per_layer_thr);
  fprintf(f, "compile:\n  shapes: [");
  for (int i = 0; i < r->nshapes; i++) fprintf(f, "%s[%d, %d]", i ? ", " : "", r->shapes[i][0], r->shapes[i][1]);
  fprintf(f, "]\n  weights_dtype: %s\n  threads: 2\n", r->wdtype);
}

typedef struct WCtx {
  const RandSpec *r;
  uint64_t rng;
  StWriteTensor t[1024];
  char names[1024][160];
  int n;
} WCtx;

/* scale of a tensor's random values, by what it is */
static double scale_of(const char *name, int rank, const int64_t *shape) {
  if (strstr(name, "norm") || strstr(name, "layernorm")) return -1; /* 1 + noise */
  if (strstr(name, "embed_tokens")) return 1.0;
  if (strstr(name, "router.weight")) return 3.0 / sqrt((double)shape[1]);
  if (strstr(name, "bias")) return 0.3;
  return rank == 2 ? 1.0 / sqrt((double)shape[1]) : 0.1;
}

static void add_tensor(const char *name, int rank, const int64_t *shape, void *ctx) {
  WCtx *w = ctx;
  int64_t numel = 1;
  for (int i = 0; i < rank; i++) numel *= shape[i];
  DType dt = (DType)w->r->src_dtype;
  void *data = malloc(numel * dtype_size(dt) + 1);
  double sc = scale_of(name, rank, shape);
  for (int64_t i = 0; i < numel; i++) {
    double u = 2 * rs_uniform(&w->rng) - 1;
    float v = (float)(sc < 0 ? 1 + 0.1 * u : sc * u);
    if (dt == DT_F32) ((float *)data)[i] = v;
    else if (dt == DT_BF16) ((uint16_t *)data)[i] = f32_to_bf16(v);
    else ((uint16_t *)data)[i] = f32_to_f16(v);
  }
  StWriteTensor *t = &w->t[w->n];
  snprintf(w->names[w->n], 160, "%s", name);
  t->name = w->names[w->n];
  t->dtype = dt;
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
  t->data = data;
  w->n++;
}

int randspec_write(const RandSpec *r, const char *dir, uint64_t seed, char *yaml_path, size_t n) {
  char path[1024], err[1024];
  snprintf(yaml_path, n, "%s/%s.yaml", dir, r->name);
  FILE *f = fopen(yaml_path, "w");
  if (!f) return -1;
  write_yaml(r, f);
  fclose(f);
  Spec s;
  if (spec_load(yaml_path, NULL, 0, &s, err, sizeof err)) {
    fprintf(stderr, "randspec: %s\n", err);
    return -1;
  }
  static WCtx w;
  memset(&w, 0, sizeof w);
  w.r = r;
  w.rng = seed ^ 0xabcdef;
  st_expected_tensors(&s, add_tensor, &w);
  snprintf(path, sizeof path, "%s/%s.safetensors", dir, r->name);
  int rc = st_write(path, w.t, w.n, err, sizeof err);
  if (rc) fprintf(stderr, "randspec: %s\n", err);
  for (int i = 0; i < w.n; i++) free((void *)w.t[i].data);
  return rc;
}
