/* bench_interp.c: a compiled model's modc_forward against the reference interpreter, side
 * by side in one run, on the same tokens; also checks that they agree.
 *
 * usage: bench_interp SPEC.yaml LIB.so [REPEATS]
 * The packed weights file is read from beside the library (what modc compile wrote).
 * Prints the median forward time over REPEATS runs, the interpreter's time for one run,
 * their ratio, the forward's GFLOP/s and the relative error of the logits. */
#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include "../tools/timing.h"
#include <unistd.h>
#include "frontend/graph.h"
#include "ir/interp.h"
#include "runtime/exec.h"
#include "runtime/modc.h"

static void *sym(void *h, const char *n) {
  void *p = dlsym(h, n);
  if (!p) {
    fprintf(stderr, "missing %s\n", n);
    exit(1);
  }
  return p;
}

/* matmul FLOPs of one forward: 2 * rows * N * K summed over the lowered graph's matmuls,
 * plus attention's 4 * rows^2/2 * width (causal) per attention node */
static double graph_flops(const Graph *g) {
  double f = 0;
  for (int i = 0; i < g->len; i++) {
    const Node *n = &g->n[i];
    if (n->op == OP_MATMUL) f += 2.0 * n->ty.dim[0] * n->ty.dim[1] * g->n[n->in[1]].ty.dim[1];
    if (n->op == OP_ATTENTION) f += 2.0 * n->ty.dim[0] * (n->ty.dim[0] + 1) * n->ty.dim[1];
  }
  return f;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_interp SPEC.yaml LIB.so [REPEATS]\n");
    return 2;
  }
  int reps = argc > 3 ? atoi(argv[3]) : 5;
  char err[2048], wpath[1200];
  Spec s;
  if (spec_load(argv[1], NULL, 0, &s, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  void *h = dlopen(argv[2], RTLD_NOW);
  if (!h) return fprintf(stderr, "%s\n", dlerror()), 1;
  int (*mopen)(const char *, int, modc_model **) = sym(h, "modc_open");
  int (*fwd)(modc_model *, int, int, const int32_t *, float *) = sym(h, "modc_forward");
  const char *(*lasterr)(void) = sym(h, "modc_last_error");
  modc_model *m;
  if (mopen(NULL, 0, &m)) return fprintf(stderr, "%s\n", lasterr()), 1;
  snprintf(wpath, sizeof wpath, "%.*s/%s.weights", (int)(strrchr(argv[2], '/') ? strrchr(argv[2], '/') - argv[2] : 1),
           strrchr(argv[2], '/') ? argv[2] : ".", s.name);
  int fd = open(wpath, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) return fprintf(stderr, "cannot open %s\n", wpath), 1;
  const uint8_t *blob = (const uint8_t *)mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) + MODC_WEIGHTS_HEADER;
  int T = s.shapes[0][1];
  int64_t V = s.vocab_size;
  int32_t *tok = malloc(T * sizeof(int32_t)), *pos = malloc(T * sizeof(int32_t));
  for (int i = 0; i < T; i++) tok[i] = (int32_t)((i * 7919u + 13) % (unsigned)V), pos[i] = i;
  float *got = malloc(T * V * sizeof(float));
  double *want = malloc(T * V * sizeof(double)), *times = malloc(reps * sizeof(double));
  for (int r = 0; r < reps; r++) {
    double t0 = timing_now();
    if (fwd(m, 1, T, tok, got)) return fprintf(stderr, "%s\n", lasterr()), 1;
    times[r] = timing_now() - t0;
  }
  qsort(times, reps, sizeof(double), timing_cmp);
  WLayout w;
  wlayout_build(&s, NULL, &w);
  if ((int64_t)st.st_size != w.size + MODC_WEIGHTS_HEADER) /* another dtype, or a target's other panel widths */
    return fprintf(stderr, "%s: %lld bytes, where %s packed for the default AVX-512 target gives %lld: compile "
                   "the library from this spec as it is (weights_dtype, --cpu with 16-lane vectors)\n", wpath,
                   (long long)st.st_size, argv[1], (long long)(w.size + MODC_WEIGHTS_HEADER)), 1;
  Graph *g = build_forward(&s, &w, T);
  PassOptions po = {0, NULL, 0, NULL};
  if (passes_run(&g, &po, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  double t0 = timing_now();
  if (interp_run(g, blob, tok, pos, T, NULL, want, NULL, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  double ti = timing_now() - t0, num = 0, den = 1e-30;
  for (int64_t i = 0; i < T * V; i++) num = fmax(num, fabs(got[i] - want[i])), den = fmax(den, fabs(want[i]));
  double fl = graph_flops(g);
  printf("model %s, T = %d: forward median %.4f s over %d runs (%.1f GFLOP/s, %.2f GFLOP), "
         "interpreter %.2f s, interpreter/forward = %.0fx, relative error %.2e\n",
         s.name, T, times[reps / 2], reps, fl / times[reps / 2] * 1e-9, fl * 1e-9, ti, ti / times[reps / 2], num / den);
  return 0;
}
