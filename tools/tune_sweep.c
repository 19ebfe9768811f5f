/* tune_sweep.c: the exhaustive sweep (`modc tune --exhaustive N`), the yardstick of the search.
 *
 * For the N matmul kernels of largest share (round 0's timings), every record of the product
 * of the many-row groups (tile rows 1..12 x rows per item 1..48 tiles x least items 0..16 per
 * thread x prefetch; tail, decode groups and par_min the heuristic's) that the verifier
 * accepts is built, checked against the reference and run once in each of the kernel's calls;
 * the SWEEP_TOP cheapest are timed in full, and the best of them is timed in turn with the
 * heuristic's record and, with --compare FILE, the tuned record of that file, three times
 * each (medians).  One line per kernel on stdout:
 *   sweep kernel=KEY records=N heuristic_ms=A tuned_ms=B best_ms=C
 * (tuned_ms only with --compare), and the sweep's best records go to -o like tune's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/timing.h"
#include "tools/cli.h"
#include "tools/tune_int.h"

#define SWEEP_BATCH 192
#define SWEEP_TOP 8

/* every valid record of k's many-row product space, into *out (malloc'd); returns the count */
static int sweep_space(Tuner *u, const TKern *k, Sched **out) {
  static const int64_t tiles[] = {1, 2, 4, 8, 12, 16, 24, 32, 48};
  static const int64_t per[] = {0, 1, 2, 4, 8, 16};
  int cap = 12 * 9 * 6 * 2, n = 0;
  *out = malloc((size_t)cap * sizeof **out);
  if (!*out) return 0;
  for (int64_t mr = 1; mr <= 12; mr++)
    for (size_t t = 0; t < sizeof tiles / sizeof *tiles; t++)
      for (size_t p = 0; p < sizeof per / sizeof *per; p++)
        for (int pf = 0; pf < 2; pf++) {
          Sched s = k->def;
          s.mr = mr, s.mc = tiles[t] * mr, s.items = per[p] * u->run.threads, s.pf = pf;
          if (s.mr_tail > mr) s.mr_tail = mr >= 8 ? 4 : mr >= 4 ? 2 : 1;
          if (n < cap && tjob_valid(&k->ctx[0].call, &s)) (*out)[n++] = s;
        }
  return n;
}

/* Screening costs of cand[0..n) (a wrong output: infinite), batch by batch. */
static int screen_all(Tuner *u, TKern *k, const Sched *cand, int n, double *cost) {
  for (int lo = 0; lo < n; lo += SWEEP_BATCH) {
    int hi = lo + SWEEP_BATCH < n ? lo + SWEEP_BATCH : n;
    Round r = {0};
    for (int q = lo; q < hi; q++)
      for (int c = 0; c < k->nctx; c++)
        if (round_add(&r, &k->ctx[c].call, &cand[q])) return round_free(&r), cli_fail("out of memory");
    if (round_build(u, &r)) return round_free(&r), 1;
    for (int q = lo; q < hi; q++) {
      double t[MAX_CTX];
      int ok = 1;
      for (int c = 0; c < k->nctx; c++) ok &= tjob_check(&u->run, &r.jobs[(q - lo) * k->nctx + c], &t[c]);
      cost[q] = ok ? tune_cost(k, t) : 1e300;
    }
    round_free(&r);
    cli_progress("  %s: %d of %d records screened", k->key, hi, n);
  }
  return 0;
}

/* index of the cheapest of cand[0..n) after full timings of the SWEEP_TOP best screened */
static int full_best(Tuner *u, TKern *k, const Sched *cand, const double *screen, int n) {
  int top[SWEEP_TOP], nt = 0;
  for (int q = 0; q < n; q++) { /* insertion into the top list */
    if (screen[q] >= 1e300) continue;
    int at = nt < SWEEP_TOP ? nt++ : SWEEP_TOP;
    while (at > 0 && screen[top[at - 1]] > screen[q]) {
      if (at < SWEEP_TOP) top[at] = top[at - 1];
      at--;
    }
    if (at < SWEEP_TOP) top[at] = q;
  }
  Round r = {0};
  for (int i = 0; i < nt; i++)
    for (int c = 0; c < k->nctx; c++)
      if (round_add(&r, &k->ctx[c].call, &cand[top[i]])) return round_free(&r), -1;
  if (!nt || round_build(u, &r)) return round_free(&r), -1;
  int best = -1;
  double bc = 0;
  for (int i = 0; i < nt; i++) {
    double t[MAX_CTX];
    for (int c = 0; c < k->nctx; c++) t[c] = tune_time_job(u, &r.jobs[i * k->nctx + c]);
    if (best < 0 || tune_cost(k, t) < bc) best = top[i], bc = tune_cost(k, t);
  }
  round_free(&r);
  return best;
}

/* The heuristic's, the tuned (or NULL) and the best record timed in turn; ms medians. */
static int side_by_side(Tuner *u, TKern *k, const Sched *tuned, const Sched *best, double ms[3]) {
  const Sched *recs[3] = {&k->def, tuned ? tuned : &k->def, best};
  Round r = {0};
  for (int i = 0; i < 3; i++)
    for (int c = 0; c < k->nctx; c++)
      if (round_add(&r, &k->ctx[c].call, recs[i])) return round_free(&r), cli_fail("out of memory");
  if (round_build(u, &r)) return round_free(&r), 1;
  double m[3][3];
  for (int rep = 0; rep < 3; rep++)
    for (int i = 0; i < 3; i++) {
      double t[MAX_CTX];
      for (int c = 0; c < k->nctx; c++) t[c] = tune_time_job(u, &r.jobs[i * k->nctx + c]);
      m[i][rep] = tune_ms(k, t);
    }
  for (int i = 0; i < 3; i++) ms[i] = timing_median(m[i], 3);
  round_free(&r);
  return 0;
}

static int by_cost(const void *a, const void *b) {
  const TKern *x = *(TKern *const *)a, *y = *(TKern *const *)b;
  if (x->def_cost != y->def_cost) return x->def_cost < y->def_cost ? 1 : -1;
  return strcmp(x->key, y->key);
}

static int sweep_kernel(Tuner *u, TKern *k) {
  Sched *cand;
  int n = sweep_space(u, k, &cand);
  double *screen = calloc((size_t)n + 1, sizeof *screen), ms[3];
  if (!n || !screen) return free(cand), free(screen), cli_fail("%s: no records to sweep", k->key);
  cli_progress("sweep of %s: %d records", k->key, n);
  int rc = screen_all(u, k, cand, n, screen), b = rc ? -1 : full_best(u, k, cand, screen, n);
  const TuneRecord *tr = u->compare ? tuning_find(u->compare, k->key) : NULL;
  if (tr && !tjob_valid(&k->ctx[0].call, &tr->sched)) {
    fprintf(stderr, "modc: warning: %s: %s's record does not fit the kernel; not compared\n", k->key, u->o.compare);
    tr = NULL;
  }
  if (!rc && b < 0) rc = cli_fail("%s: no record of the sweep gave the reference's output", k->key);
  if (!rc) rc = side_by_side(u, k, tr ? &tr->sched : NULL, &cand[b], ms);
  if (!rc) {
    k->best = cand[b], k->best_ms = ms[2], k->def_ms = ms[0], k->searched = 1;
    printf("sweep kernel=%s records=%d heuristic_ms=%.4f", k->key, n, ms[0]);
    if (tr) printf(" tuned_ms=%.4f", ms[1]);
    printf(" best_ms=%.4f\n", ms[2]);
    fflush(stdout);
  }
  free(cand), free(screen);
  return rc;
}

int tune_sweep(Tuner *u, int n) {
  TKern *order[MAX_KERNELS];
  int m = 0, w = 0;
  for (int i = 0; i < u->nk; i++)
    if (u->k[i].def.kind == SK_MATMUL) order[m++] = &u->k[i];
  qsort(order, (size_t)m, sizeof *order, by_cost);
  for (int i = 0; i < m && i < n; i++)
    if (sweep_kernel(u, order[i])) return 1;
  for (int i = 0; i < u->nk; i++) /* only the swept kernels' records are written */
    if (u->k[i].searched) {
      if (w != i) {
        TKern t = u->k[w];
        u->k[w] = u->k[i], u->k[i] = t;
      }
      w++;
    }
  u->nk_out = w;
  return 0;
}
