/* tune_sweep.c: the exhaustive sweep (`modc tune --exhaustive N`), the yardstick of the search.
 *
 * For the N matmul kernels of largest share (round 0's timings), every record of the product
 * of the many-row groups (tile rows 1..12 x rows per item 1..48 tiles x least items 0..16 per
 * thread x prefetch; tail, decode groups and par_min the heuristic's) that the verifier
 * accepts is built, checked against the reference and run once in each of the kernel's calls;
 * the SWEEP_TOP cheapest are timed together with the heuristic's record and, with --compare
 * FILE, the tuned record of that file, call by call in rotation (tjob_time_rot), and the
 * cheapest of the sweep's is its best.  One line per kernel on stdout:
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
#define SWEEP_TOP 12

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
      for (int c = 0; c < k->nctx; c++) ok &= tjob_check(&u->run, &r.jobs[(q - lo) * k->nctx + c], &t[c], NULL, 0);
      cost[q] = ok ? tune_cost(k, t) : 1e300;
    }
    round_free(&r);
    cli_progress("  %s: %d of %d records screened", k->key, hi, n);
  }
  return 0;
}

/* Records timed together: every call of k for each record in the pool, rotating call by call
 * (tjob_time_rot: a drift of the machine weighs on all alike); costs and ms per record. */
static int time_pool(Tuner *u, TKern *k, const Sched *const *recs, int n, double *cost, double *ms) {
  Round r = {0};
  for (int i = 0; i < n; i++)
    for (int c = 0; c < k->nctx; c++)
      if (round_add(&r, &k->ctx[c].call, recs[i])) return round_free(&r), cli_fail("out of memory");
  if (round_build(u, &r)) return round_free(&r), 1;
  double t[TUNE_MAX_ROT][MAX_CTX], m[TUNE_MAX_ROT];
  for (int c = 0; c < k->nctx; c++) {
    TuneJob *jobs[TUNE_MAX_ROT];
    for (int i = 0; i < n; i++) jobs[i] = &r.jobs[i * k->nctx + c];
    tjob_time_rot(&u->run, jobs, n, 5, 128, 60, m);
    for (int i = 0; i < n; i++) t[i][c] = m[i];
  }
  for (int i = 0; i < n; i++) cost[i] = tune_cost(k, t[i]), ms[i] = tune_ms(k, t[i]);
  round_free(&r);
  return 0;
}

/* The SWEEP_TOP cheapest screened records, the heuristic's and the tuned one (or the
 * heuristic's again) timed together; the cheapest of the sweep's into *best, and the ms of
 * the heuristic's, the tuned and that best into ms[3]. */
static int final_pool(Tuner *u, TKern *k, const Sched *cand, const double *screen, int n, const Sched *tuned,
                      int *best, double ms[3]) {
  const Sched *recs[SWEEP_TOP + 2] = {&k->def, tuned ? tuned : &k->def};
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
  if (!nt) return cli_fail("%s: no record of the sweep gave the reference's output", k->key);
  for (int i = 0; i < nt; i++) recs[2 + i] = &cand[top[i]];
  double cost[SWEEP_TOP + 2], m[SWEEP_TOP + 2];
  if (time_pool(u, k, recs, nt + 2, cost, m)) return 1;
  int b = 0;
  for (int i = 1; i < nt; i++)
    if (cost[2 + i] < cost[2 + b]) b = i;
  *best = top[b], ms[0] = m[0], ms[1] = m[1], ms[2] = m[2 + b];
  return 0;
}

static int by_cost(const void *a, const void *b) {
  const TKern *x = *(TKern *const *)a, *y = *(TKern *const *)b;
  if (x->def_cost != y->def_cost) return x->def_cost < y->def_cost ? 1 : -1;
  return strcmp(x->key, y->key);
}

/* File f's record of k, if it has one that fits the kernel */
static const TuneRecord *compared(const Tuner *u, const TKern *k, int f) {
  const TuneRecord *tr = tuning_find(&u->compare[f], k->key);
  if (tr && !tjob_valid(&k->ctx[0].call, &tr->sched)) {
    fprintf(stderr, "modc: warning: %s: %s's record does not fit the kernel; not compared\n", k->key, u->o.compare[f]);
    tr = NULL;
  }
  return tr;
}

static int sweep_kernel(Tuner *u, TKern *k) {
  Sched *cand;
  int n = sweep_space(u, k, &cand), b = -1;
  double *screen = calloc((size_t)n + 1, sizeof *screen), ms[3] = {0};
  if (!n || !screen) return free(cand), free(screen), cli_fail("%s: no records to sweep (or out of memory)", k->key);
  const TuneRecord *tr = u->compare ? compared(u, k, 0) : NULL;
  cli_progress("sweep of %s: %d records", k->key, n);
  int rc = screen_all(u, k, cand, n, screen);
  if (!rc) rc = final_pool(u, k, cand, screen, n, tr ? &tr->sched : NULL, &b, ms);
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

/* --compare without --exhaustive: each kernel some file names, timed with the heuristic's
 * record and every file's (the heuristic's where a file has none) in one rotation. */
int tune_compare(Tuner *u) {
  int nf = u->o.ncompare;
  double tot[TUNE_MAX_COMPARE + 1] = {0};
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    const Sched *recs[TUNE_MAX_COMPARE + 1] = {&k->def};
    int named = 0;
    for (int f = 0; f < nf; f++) {
      const TuneRecord *tr = compared(u, k, f);
      recs[1 + f] = tr ? &tr->sched : &k->def;
      named |= tr != NULL;
    }
    if (!named) continue;
    double cost[TUNE_MAX_COMPARE + 1], ms[TUNE_MAX_COMPARE + 1];
    if (time_pool(u, k, recs, nf + 1, cost, ms)) return 1;
    printf("compare kernel=%s heuristic_ms=%.4f", k->key, ms[0]);
    for (int f = 0; f < nf; f++) printf(" f%d_ms=%.4f", f + 1, ms[1 + f]);
    printf("\n");
    for (int f = 0; f <= nf; f++) tot[f] += cost[f];
  }
  printf("compare total heuristic=1");
  for (int f = 0; f < nf; f++) printf(" f%d=%.4f", f + 1, tot[0] > 0 ? tot[1 + f] / tot[0] : 1);
  printf("\n");
  return 0;
}
