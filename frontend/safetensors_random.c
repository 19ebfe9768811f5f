/* safetensors_random.c: deterministic random weights for a spec (st_write_random), used by
 * the modc-randweights tool and by `modc tune`'s end-to-end check when the spec's weights
 * file is absent.
 *
 * It walks st_expected_tensors, so the file always matches the spec.  Each tensor draws
 * from its own splitmix64 stream seeded by the seed and a hash of the tensor's name: the
 * same seed gives the same bytes on every machine, and a layer's weights do not change when
 * routing changes, so a MoD model and its dense twin (routing: none) share every block.
 * Scales keep activations O(1): matrices uniform in +-1/sqrt(in_features), norms 1 +- 0.1,
 * the router +-2/sqrt(d) so scores have a spread of order 1, biases +-0.1, embedding +-1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "frontend/safetensors.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
  return h;
}

/* uniform in [-a, a): 24 random bits, exact in double; one rounding to float */
static float uniform(uint64_t *st, double a) {
  double u = (double)(splitmix64(st) >> 40) * (1.0 / 16777216.0);
  double t = 2.0 * u - 1.0;
  return (float)(a * t);
}

/* how tensor `name` of shape [out, in] (or [n]) is drawn: center + uniform(+-scale) */
static void scale_of(const char *name, int rank, const int64_t *shape, int d, double *center, double *scale) {
  *center = 0;
  if (st_name_ends(name, "norm.weight") || st_name_ends(name, "layernorm.weight")) *center = 1, *scale = 0.1;
  else if (st_name_ends(name, "embed_tokens.weight")) *scale = 1;
  else if (st_name_ends(name, "router.weight")) *scale = 2 / sqrt((double)d);
  else if (st_name_ends(name, ".bias")) *scale = 0.1;
  else *scale = 1 / sqrt((double)(rank == 2 && shape[1] > 0 ? shape[1] : 1));
}

typedef struct Gen {
  const Spec *s;
  DType dt;
  uint64_t seed;
  StWriteTensor *t;
  int n, cap, oom;
  int64_t params;
} Gen;

static void *fill(const char *name, int64_t count, DType dt, double center, double scale, uint64_t seed) {
  uint64_t st = seed ^ fnv1a(name);
  splitmix64(&st);
  uint8_t *buf = malloc((size_t)(count ? count : 1) * (size_t)dtype_size(dt));
  if (!buf) return NULL;
  for (int64_t i = 0; i < count; i++) {
    float v = (float)center + uniform(&st, scale);
    if (dt == DT_F32) memcpy(buf + 4 * i, &v, 4);
    else {
      uint16_t h = dt == DT_BF16 ? f32_to_bf16(v) : f32_to_f16(v);
      memcpy(buf + 2 * i, &h, 2);
    }
  }
  return buf;
}

static void add_tensor(const char *name, int rank, const int64_t *shape, void *ctx) {
  Gen *g = ctx;
  double center, scale;
  int64_t count = 1;
  for (int i = 0; i < rank; i++) count *= shape[i];
  if (g->oom) return;
  if (g->n == g->cap) {
    int cap = g->cap ? 2 * g->cap : 64;
    StWriteTensor *t = realloc(g->t, (size_t)cap * sizeof *t);
    if (!t) { g->oom = 1; return; }
    g->t = t, g->cap = cap;
  }
  StWriteTensor *t = &g->t[g->n];
  memset(t, 0, sizeof *t);
  t->dtype = g->dt;
  t->rank = rank;
  memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
  scale_of(name, rank, shape, g->s->d_model, &center, &scale);
  t->name = strdup(name);
  t->data = fill(name, count, t->dtype, center, scale, g->seed);
  g->n++;
  if (!t->name || !t->data) g->oom = 1;
  g->params += count;
}

int st_write_random(const Spec *s, const char *path, DType dt, uint64_t seed, int *ntensors, int64_t *params,
                    char *err, size_t errlen) {
  if (dt != DT_F32 && dt != DT_BF16 && dt != DT_F16) return snprintf(err, errlen, "random weights: dtype must be f32, bf16 or f16"), -1;
  Gen g = {.s = s, .dt = dt, .seed = seed};
  st_expected_tensors(s, add_tensor, &g);
  int rc = g.oom ? (snprintf(err, errlen, "out of memory for random weights of %s", s->name), -1)
                 : st_write(path, g.t, g.n, err, errlen);
  if (ntensors) *ntensors = g.n;
  if (params) *params = g.params;
  for (int i = 0; i < g.n; i++) free((void *)g.t[i].name), free((void *)g.t[i].data);
  free(g.t);
  return rc;
}
