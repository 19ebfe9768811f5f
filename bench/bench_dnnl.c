/* bench_dnnl.c: the oneDNN peer of `modc bench`: dnnl_sgemm on exactly the GEMM shapes of one
 * modc_forward of a model (DESIGN 4), and the same matrices at one row (a decode step's
 * GEMVs), so modc's forward can be set against a tuned sgemm doing only the GEMMs.
 *
 * usage: bench_dnnl [--seq T] [--d-model D] [--d-ff F] [--vocab V] [--layers L] [--kv-dim K]
 *                   [--routed-capacity C] [--threads N] [--repeats R] [--kv FILE]
 *
 * Per layer: q, k, v [rows x K x D] (K = D unless --kv-dim), o [rows x D x D],
 * gate and up [rows x F x D], down [rows x D x F]; rows = T for dense layers and
 * k = min(T, max(1, ceil(C*T))) for routed ones (every other layer, 1, 3, 5, ..., when
 * --routed-capacity is given); then the lm head [T x V x D].  Every layer has its own weight
 * matrices (as a model does, so they stream from memory as modc's do), row-major [out][in]
 * and used transposed (y = x Wᵀ).  Attention, norms and the routing itself are not timed:
 * this is the GEMMs alone.  Prints the median total over --repeats runs after one warm-up.
 */
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../tools/timing.h"

#define MAX_GEMMS 4096

typedef struct Gemm { int M, N, K; float *w; } Gemm;

typedef struct Opts {
  int T, D, F, V, L, KV, threads, repeats;
  double cap;   /* 0: no routed layer */
  const char *kv;
} Opts;

static int usage(const char *msg) {
  fprintf(stderr, "bench_dnnl: %s\nusage: bench_dnnl [--seq T] [--d-model D] [--d-ff F] [--vocab V] "
          "[--layers L] [--kv-dim K] [--routed-capacity C] [--threads N] [--repeats R] [--kv FILE]\n", msg);
  return 1;
}

static int parse(int argc, char **argv, Opts *o) {
  *o = (Opts){.T = 512, .D = 768, .F = 2048, .V = 32000, .L = 12, .threads = 2, .repeats = 5};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage("the GEMMs of one forward (and of one decode step), timed with dnnl_sgemm");
      exit(0);
    }
    if (!v) return usage("an option needs a value");
    i++;
    if (!strcmp(a, "--seq")) o->T = atoi(v);
    else if (!strcmp(a, "--d-model")) o->D = atoi(v);
    else if (!strcmp(a, "--d-ff")) o->F = atoi(v);
    else if (!strcmp(a, "--vocab")) o->V = atoi(v);
    else if (!strcmp(a, "--layers")) o->L = atoi(v);
    else if (!strcmp(a, "--kv-dim")) o->KV = atoi(v);
    else if (!strcmp(a, "--routed-capacity")) o->cap = atof(v);
    else if (!strcmp(a, "--threads")) o->threads = atoi(v);
    else if (!strcmp(a, "--repeats")) o->repeats = atoi(v);
    else if (!strcmp(a, "--kv")) o->kv = v;
    else return usage("unknown option");
  }
  if (!o->KV) o->KV = o->D;
  if (o->T < 1 || o->D < 1 || o->F < 1 || o->V < 1 || o->L < 1 || o->threads < 1 || o->repeats < 1 ||
      o->cap < 0 || o->cap > 1)
    return usage("every size must be positive and the capacity in (0, 1]");
  return 0;
}

/* a weight matrix [N][K] of small deterministic values */
static float *make_weight(int N, int K, unsigned seed) {
  size_t n = (size_t)N * K;
  float *w = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
  if (!w) return NULL;
  for (size_t i = 0; i < n; i++) w[i] = (float)((int)((i * 2654435761u + seed) % 2001) - 1000) * 1e-5f;
  return w;
}

static int add(Gemm *g, int *n, int M, int N, int K, unsigned seed) {
  if (*n == MAX_GEMMS) return -1;
  g[*n] = (Gemm){M, N, K, make_weight(N, K, seed)};
  return g[(*n)++].w ? 0 : -1;
}

/* the forward's GEMMs in order; rows = 1 gives a decode step's */
static int build(const Opts *o, int decode, Gemm *g, int *n) {
  *n = 0;
  for (int l = 0; l < o->L; l++) {
    int routed = o->cap > 0 && l % 2 == 1;
    double k = ceil(o->cap * o->T - 1e-9);
    int rows = decode ? 1 : !routed ? o->T : k < 1 ? 1 : k > o->T ? o->T : (int)k;
    int dims[7][2] = {{o->D, o->D}, {o->KV, o->D}, {o->KV, o->D}, {o->D, o->D},
                      {o->F, o->D}, {o->F, o->D}, {o->D, o->F}};
    for (int j = 0; j < 7; j++)
      if (add(g, n, rows, dims[j][0], dims[j][1], l * 7 + j)) return -1;
  }
  return add(g, n, decode ? 1 : o->T, o->V, o->D, 99991);
}

/* one pass over every GEMM; seconds */
static double run_all(const Gemm *g, int n, const float *x, float *y) {
  double t0 = timing_now();
  for (int i = 0; i < n; i++) {
    dnnl_status_t st = dnnl_sgemm('N', 'T', g[i].M, g[i].N, g[i].K, 1.0f, x, g[i].K, g[i].w, g[i].K,
                                  0.0f, y, g[i].N);
    if (st != dnnl_success) {
      fprintf(stderr, "bench_dnnl: dnnl_sgemm(%d, %d, %d) failed (%d)\n", g[i].M, g[i].N, g[i].K, (int)st);
      exit(1);
    }
  }
  return timing_now() - t0;
}

static void totals(const Gemm *g, int n, double *flops, double *bytes) {
  *flops = *bytes = 0;
  for (int i = 0; i < n; i++) {
    *flops += 2.0 * g[i].M * g[i].N * g[i].K;
    *bytes += 4.0 * g[i].N * g[i].K;
  }
}

/* median time of R passes after one warm-up */
static double time_set(const Opts *o, const Gemm *g, int n, const float *x, float *y) {
  double *t = malloc(o->repeats * sizeof *t);
  run_all(g, n, x, y);
  for (int r = 0; r < o->repeats; r++) t[r] = run_all(g, n, x, y);
  double m = timing_median(t, o->repeats);
  free(t);
  return m;
}

static void free_set(Gemm *g, int n) {
  for (int i = 0; i < n; i++) free(g[i].w);
}

int main(int argc, char **argv) {
  Opts o;
  if (parse(argc, argv, &o)) return 1;
  omp_set_num_threads(o.threads);
  static Gemm g[MAX_GEMMS];
  int n, big = o.V > o.F ? o.V : o.F;
  float *x = make_weight(o.T, big, 7), *y = aligned_alloc(64, (size_t)o.T * big * sizeof(float));
  FILE *kv = o.kv ? fopen(o.kv, "w") : NULL;
  if (!x || !y || (o.kv && !kv)) return fprintf(stderr, "bench_dnnl: out of memory or cannot write %s\n", o.kv), 1;
  const dnnl_version_t *ver = dnnl_version();
  printf("oneDNN %d.%d.%d sgemm, %d threads, median of %d after 1 warm-up; T %d, d %d, d_ff %d, vocab %d, "
         "%d layers%s\n", ver->major, ver->minor, ver->patch, o.threads, o.repeats, o.T, o.D, o.F, o.V, o.L,
         o.cap > 0 ? ", every other layer routed" : "");
  for (int decode = 0; decode < 2; decode++) {
    if (build(&o, decode, g, &n)) return fprintf(stderr, "bench_dnnl: out of memory\n"), 1;
    double fl, by, t = time_set(&o, g, n, x, y);
    totals(g, n, &fl, &by);
    const char *what = decode ? "decode" : "forward";
    printf("  %-7s %3d GEMMs  median %9.3f ms  %7.2f GFLOP  %7.1f GFLOP/s  %7.1f MB of weights  %6.2f GB/s\n",
           what, n, t * 1e3, fl / 1e9, fl / t / 1e9, by / 1e6, by / t / 1e9);
    if (kv) fprintf(kv, "dnnl.%s.ms=%.6g\ndnnl.%s.gflops=%.6g\ndnnl.%s.gbs=%.6g\n", what, t * 1e3, what,
                    fl / t / 1e9, what, by / t / 1e9);
    free_set(g, n);
  }
  if (kv && fclose(kv)) return fprintf(stderr, "bench_dnnl: writing %s failed\n", o.kv), 1;
  free(x);
  free(y);
  return 0;
}
