/* modc-randweights: deterministic random weights for a spec, as a safetensors file.
 *
 *   modc-randweights SPEC [-o OUT.safetensors] [--dtype f32|bf16|f16] [--seed N] [-D k=v ...]
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
#include "frontend/spec.h"

#define MAX_DEFS 64

static const char *usage =
    "usage: modc-randweights SPEC [-o OUT.safetensors] [--dtype f32|bf16|f16] [--seed N]\n"
    "                        [-D key.path=value ...]\n"
    "Writes deterministic random weights for SPEC (default: the spec's weights path).\n";

typedef struct Opts {
  const char *spec, *out;
  DType dtype;
  unsigned long long seed;
  const char *defs[MAX_DEFS];
  int ndefs;
} Opts;

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

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && !strcmp(s + n - m, suffix);
}

/* how tensor `name` of shape [out, in] (or [n]) is drawn: center + uniform(+-scale) */
static void scale_of(const char *name, int rank, const int64_t *shape, int d, double *center,
                     double *scale) {
  *center = 0;
  if (ends_with(name, "norm.weight") || ends_with(name, "layernorm.weight")) {
    *center = 1, *scale = 0.1;
  } else if (ends_with(name, "embed_tokens.weight")) {
    *scale = 1;
  } else if (ends_with(name, "router.weight")) {
    *scale = 2 / sqrt((double)d);
  } else if (ends_with(name, ".bias")) {
    *scale = 0.1;
  } else {
    *scale = 1 / sqrt((double)(rank == 2 && shape[1] > 0 ? shape[1] : 1));
  }
}

typedef struct Gen {
  const Opts *o;
  const Spec *s;
  StWriteTensor *t;
  int n, cap;
  int64_t params;
} Gen;

static void *fill(const char *name, int64_t count, DType dt, double center, double scale,
                  uint64_t seed) {
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
  if (g->n == g->cap) {
    g->cap = g->cap ? 2 * g->cap : 64;
    g->t = realloc(g->t, (size_t)g->cap * sizeof *g->t);
    if (!g->t) abort();
  }
  StWriteTensor *t = &g->t[g->n++];
  memset(t, 0, sizeof *t);
  t->name = strdup(name);
  t->dtype = g->o->dtype;
  t->rank = rank;
  memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
  scale_of(name, rank, shape, g->s->d_model, &center, &scale);
  t->data = fill(name, count, t->dtype, center, scale, g->o->seed);
  if (!t->name || !t->data) abort();
  g->params += count;
}

/* one option with its value v (NULL if none follows); returns 0, or an exit status */
static int option(Opts *o, const char *a, const char *v) {
  char *end;
  if (!v) return fprintf(stderr, "modc-randweights: %s needs a value\n", a), 2;
  if (!strcmp(a, "-o")) {
    o->out = v;
  } else if (!strcmp(a, "--dtype")) {
    if (dtype_parse(v, &o->dtype) || o->dtype == DT_I32)
      return fprintf(stderr, "modc-randweights: --dtype must be f32, bf16 or f16\n"), 2;
  } else if (!strcmp(a, "--seed")) {
    o->seed = strtoull(v, &end, 0);
    if (*end || !*v) return fprintf(stderr, "modc-randweights: --seed needs an integer\n"), 2;
  } else if (o->ndefs == MAX_DEFS) {
    return fprintf(stderr, "modc-randweights: too many -D options\n"), 2;
  } else {
    o->defs[o->ndefs++] = v;
  }
  return 0;
}

/* returns 0 to go on, 1 after --help, or 2 for a usage error */
static int parse_args(int argc, char **argv, Opts *o) {
  o->dtype = DT_F32;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(usage, stdout), 1;
    if (!strcmp(a, "-o") || !strcmp(a, "--dtype") || !strcmp(a, "--seed") || !strcmp(a, "-D"))
      rc = option(o, a, next), i++;
    else if (!strncmp(a, "-D", 2)) rc = option(o, "-D", a + 2);
    else if (a[0] == '-')
      rc = (fprintf(stderr, "modc-randweights: unknown option '%s'\n%s", a, usage), 2);
    else if (!o->spec) o->spec = a;
    else rc = (fprintf(stderr, "modc-randweights: more than one spec given\n"), 2);
    if (rc) return rc;
  }
  if (!o->spec) return fputs(usage, stderr), 2;
  return 0;
}

int main(int argc, char **argv) {
  Opts o = {0};
  Spec s;
  char err[2048];
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc == 1 ? 0 : rc;
  if (spec_load(o.spec, o.defs, o.ndefs, &s, err, sizeof err))
    return fprintf(stderr, "%s\n", err), 1;
  Gen g = {.o = &o, .s = &s};
  st_expected_tensors(&s, add_tensor, &g);
  const char *out = o.out ? o.out : s.weights_path;
  rc = st_write(out, g.t, g.n, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  else printf("wrote %d tensors (%lld parameters, %s) to %s\n", g.n, (long long)g.params,
              dtype_name(o.dtype), out);
  for (int i = 0; i < g.n; i++) free((void *)g.t[i].name), free((void *)g.t[i].data);
  free(g.t);
  return rc ? 1 : 0;
}
