/* tune_search.c: the rounds of `modc tune` (tune.c says how the search goes): round 0 of the
 * heuristic's records, coordinate-descent rounds within the budget, the validation round.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/timing.h"
#include "tools/cli.h"
#include "tools/tune_int.h"

#define MIN_SHARE 0.005
#define WIN 0.98
#define WORSE 1.02   /* no call of a kernel (a forward shape, the decode step) may lose more */
#define SCREEN 6
#define ERRLEN 2048
/* Seconds a build takes besides its jobs' compiles (forks, the link, loading). */
#define BUILD_FIXED 0.4

int round_add(Round *r, TuneCall *c, const Sched *rec) {
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 64;
    TuneJob *j = realloc(r->jobs, (size_t)cap * sizeof *j);
    if (!j) return -1;
    r->jobs = j, r->cap = cap;
  }
  r->jobs[r->n++] = (TuneJob){c, *rec, NULL, NULL};
  return 0;
}

int round_build(Tuner *u, Round *r) {
  char err[ERRLEN], stem[32];
  snprintf(stem, sizeof stem, "round%d", u->rounds++);
  if (tune_build(r->jobs, r->n, &u->target, u->dir, stem, u->run.threads, &r->libs, err, sizeof err))
    return cli_fail("%s", err);
  return 0;
}

void round_free(Round *r) {
  tune_unload(&r->libs, r->jobs, r->n);
  free(r->jobs);
  memset(r, 0, sizeof *r);
}

/* weighted cost of k's record whose ctx times are t[] */
double tune_cost(const TKern *k, const double *t) {
  double c = 0;
  for (int i = 0; i < k->nctx; i++) c += k->ctx[i].w * t[i];
  return c;
}

double tune_ms(const TKern *k, const double *t) {
  double m = 0;
  for (int i = 0; i < k->nctx; i++) m += k->ctx[i].count * t[i];
  return m;
}

/* median ms of one call */
static double time_job(Tuner *u, TuneJob *j) { return tjob_time(&u->run, j, 3, 40, 25.0); }

/* Round 0: the heuristic records, their references and times; weights and shares. */
int tune_round0(Tuner *u) {
  Round r = {0};
  for (int i = 0; i < u->nk; i++)
    for (int c = 0; c < u->k[i].nctx; c++)
      if (round_add(&r, &u->k[i].ctx[c].call, &u->k[i].def)) return round_free(&r), cli_fail("out of memory");
  cli_progress("round 0: %d kernels in %d calls, the heuristic's records", u->nk, r.n);
  double start = timing_now();
  if (round_build(u, &r)) return round_free(&r), 1;
  u->cj = fmax(0.005, (timing_now() - start - BUILD_FIXED) / (r.n ? r.n : 1));
  double total[MAX_CTX] = {0};
  int j = 0;
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    for (int c = 0; c < k->nctx; c++, j++) {
      tjob_check(&u->run, &r.jobs[j], NULL, NULL, 0);
      k->ctx[c].t_def = time_job(u, &r.jobs[j]);
      total[k->ctx[c].cls] += k->ctx[c].count * k->ctx[c].t_def;
    }
  }
  round_free(&r);
  int ncls = 0;
  for (int c = 0; c <= u->nfwd; c++) ncls += total[c] > 0;
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    double t[MAX_CTX];
    for (int c = 0; c < k->nctx; c++) k->ctx[c].w = k->ctx[c].count / total[k->ctx[c].cls], t[c] = k->ctx[c].t_def;
    k->def_cost = k->best_cost = tune_cost(k, t);
    k->def_ms = k->best_ms = tune_ms(k, t);
    k->share = ncls ? k->def_cost / ncls : 0;
    k->done = k->share < MIN_SHARE;
    k->tried[k->ntried++] = k->def;
  }
  return 0;
}

static int was_tried(const TKern *k, const Sched *s) {
  for (int i = 0; i < k->ntried; i++)
    if (tune_same(&k->tried[i], s)) return 1;
  return 0;
}

/* k's candidates of its next group with untried valid moves (advancing past empty groups;
 * done when a whole cycle of groups offers nothing); returns how many went into cand[]. */
static int next_moves(Tuner *u, TKern *k, Sched *cand, int max) {
  int ng = tune_groups(k->best.kind);
  for (int tries = 0; tries < ng && !k->done; tries++) {
    int g = k->group, n = 0;
    if (tune_group_paths(k->best.kind, g) & k->paths) {
      Sched m[TUNE_MAX_MOVES];
      int nm = tune_moves(&k->best, g, u->run.threads, m, TUNE_MAX_MOVES);
      for (int i = 0; i < nm && n < max; i++)
        if (!was_tried(k, &m[i]) && tjob_valid(&k->ctx[0].call, &m[i])) cand[n++] = m[i];
    }
    if (n) return n;
    k->group = (k->group + 1) % ng;
    if (++k->stale >= ng) k->done = 1;
  }
  return 0;
}

typedef struct Plan {     /* one kernel's part of a round */
  TKern *k;
  int first, ncand;       /* jobs: the best record's calls, then each candidate's calls */
  Sched cand[TUNE_MAX_MOVES];
} Plan;

static int by_share(const void *a, const void *b) {
  const TKern *x = *(TKern *const *)a, *y = *(TKern *const *)b;
  if (x->share != y->share) return x->share < y->share ? 1 : -1;
  return strcmp(x->key, y->key);
}

/* A record the verifier accepts gave another output than the heuristic's: never chosen, and
 * said loudly, since it is a compiler bug (the MODC_TUNE_FAULT test hook's are not). */
static void wrong_output(const Tuner *u, const TKern *k, const Sched *s, const char *why) {
  char rec[512];
  if (u->run.fault) return;
  sched_format(s, rec, sizeof rec);
  fprintf(stderr, "modc: warning: tune: %s with%s: %s; not used (a compiler bug: please report it)\n", k->key, rec,
          why);
}

/* Is every call of k (each forward shape, the decode step) with times tc of record b within
 * WORSE of its times ta of record a?  The weighted cost alone could trade a slower decode for
 * a faster forward, and the tuned library must be slower at none of them.  A call whose path
 * reads none of the fields a and b differ in runs the same code with both: its two times
 * differ only by noise, which would take back real gains on the other path, so it is not
 * judged. */
static int no_call_worse(const TKern *k, const Sched *a, const Sched *b, const double *ta, const double *tc) {
  for (int c = 0; c < k->nctx; c++)
    if (k->ctx[c].w > 0 && tune_differs_on(a, b, k->ctx[c].call.path) && tc[c] > WORSE * ta[c]) return 0;
  return 1;
}

/* a's and b's costs (and per-call times ta, tb) from calls made in turn (tjob_time_pair),
 * about min_ms of calls per kernel call */
static void pair_cost(Tuner *u, TKern *k, TuneJob *a, TuneJob *b, double min_ms, double *ca, double *cb, double *ta,
                      double *tb) {
  for (int c = 0; c < k->nctx; c++) tjob_time_pair(&u->run, &a[c], &b[c], 3, 64, min_ms, &ta[c], &tb[c]);
  *ca = tune_cost(k, ta), *cb = tune_cost(k, tb);
}

/* One kernel's part of a round.  Every candidate runs once in each call: its output is
 * checked (a wrong one is out); that run and one more screen it (the better of the two).  The SCREEN cheapest
 * are timed in turn with the best so far (pair_cost); the one of lowest ratio below WIN is
 * timed against it once more, longer, and becomes the best if it stays below WIN. */
static void judge(Tuner *u, Plan *p, Round *r) {
  TKern *k = p->k;
  TuneJob *inc = &r->jobs[p->first];
  double ta[MAX_CTX], tc[MAX_CTX], screen[TUNE_MAX_MOVES], ca, cc, bestq = 0;
  int order[TUNE_MAX_MOVES], n = 0, win = -1;
  for (int q = 0; q < p->ncand; q++) {
    TuneJob *j = &r->jobs[p->first + (q + 1) * k->nctx];
    int ok = 1;
    char why[256] = "";
    for (int c = 0; c < k->nctx; c++) ok &= tjob_check(&u->run, &j[c], &tc[c], why, sizeof why);
    if (k->ntried < MAX_TRIED) k->tried[k->ntried++] = p->cand[q];
    if (!ok) {
      k->rejected++, wrong_output(u, k, &p->cand[q], why);
      continue;
    }
    for (int c = 0; c < k->nctx; c++) tc[c] = fmin(tc[c], tjob_time(&u->run, &j[c], 1, 1, 0)); /* the better of two */
    screen[q] = tune_cost(k, tc), order[n++] = q;
  }
  for (int a = 1; a < n; a++) /* insertion sort by screening cost */
    for (int b = a; b > 0 && screen[order[b]] < screen[order[b - 1]]; b--) {
      int t = order[b];
      order[b] = order[b - 1], order[b - 1] = t;
    }
  for (int i = 0; i < n && i < SCREEN; i++) {
    pair_cost(u, k, inc, &r->jobs[p->first + (order[i] + 1) * k->nctx], 20, &ca, &cc, ta, tc);
    if (cc < WIN * ca && no_call_worse(k, &k->best, &p->cand[order[i]], ta, tc) && (win < 0 || cc / ca < bestq))
      win = order[i], bestq = cc / ca;
  }
  k->searched = 1;
  int ng = tune_groups(k->best.kind);
  if (win >= 0) pair_cost(u, k, inc, &r->jobs[p->first + (win + 1) * k->nctx], 60, &ca, &cc, ta, tc);
  if (win >= 0 && cc < WIN * ca && no_call_worse(k, &k->best, &p->cand[win], ta, tc)) {
    k->best = p->cand[win], k->wins++, k->stale = 0;
    k->best_cost = cc, k->best_ms = tune_ms(k, tc);
  } else if (++k->stale >= ng) {
    k->done = 1;
  }
  k->group = (k->group + 1) % ng;
}

/* Calls tjob_time_pair makes of each record at t ms a call for min_ms of calls. */
static double pair_calls(double t, double min_ms) {
  double pairs = ceil(min_ms / fmax(t, 1e-4));
  return 2 * (1 + fmin(64, fmax(3, pairs)));
}

/* Seconds a kernel's part of a round should take: compiling its jobs (u->cj each) and
 * running them: each candidate once, SCREEN of them in turn with the best (pair_cost, 20 ms
 * of calls), and half the time a confirmation (60 ms of calls). */
static double plan_seconds(const Tuner *u, const TKern *k, int ncand) {
  double run = 0;
  int screened = ncand < SCREEN ? ncand : SCREEN;
  for (int c = 0; c < k->nctx; c++) {
    double t = k->ctx[c].t_def;
    run += t * (3 * ncand + screened * pair_calls(t, 20) + 0.5 * pair_calls(t, 60));
  }
  return u->cj * (ncand + 1) * k->nctx + run * 1e-3;
}

/* One round: plans for the searching kernels by share while their estimate fits the budget
 * (u->cj, compile seconds per job, updated; the estimate scaled by how far the last round
 * overran its own, u->slow).  A round whose build fails (a candidate the
 * compiler refused) ends its kernels' search with the best records so far, and the search
 * goes on: the records found before are not lost. */
int tune_search_round(Tuner *u) {
  TKern *order[MAX_KERNELS];
  Plan *plans = calloc((size_t)u->nk + 1, sizeof *plans);
  int np = 0, n = 0;
  Round r = {0};
  if (!plans) return cli_fail("out of memory"), -1;
  for (int i = 0; i < u->nk; i++) order[n++] = &u->k[i];
  qsort(order, (size_t)n, sizeof *order, by_share);
  double left = u->o.budget - u->reserve - cli_elapsed(), need = BUILD_FIXED, est = BUILD_FIXED;
  double slow = u->slow > 1 ? u->slow : 1;
  for (int i = 0; i < n; i++) {
    TKern *k = order[i];
    if (k->done) continue;
    Plan *p = &plans[np];
    p->k = k, p->first = r.n;
    p->ncand = next_moves(u, k, p->cand, TUNE_MAX_MOVES);
    if (!p->ncand) continue;
    double s = plan_seconds(u, k, p->ncand);
    if (need + slow * s > left) continue; /* a cheaper kernel may still fit */
    need += slow * s, est += s;
    int oom = 0;
    for (int q = -1; q < p->ncand; q++)
      for (int c = 0; c < k->nctx; c++) oom |= round_add(&r, &k->ctx[c].call, q < 0 ? &k->best : &p->cand[q]);
    if (oom) return free(plans), round_free(&r), cli_fail("out of memory"), -1;
    np++;
  }
  if (!np) return free(plans), round_free(&r), 0;
  double start = timing_now();
  cli_progress("round %d: %d kernels, %d candidates in %d calls; %.0f s left", u->rounds, np, r.n - np, r.n, left);
  if (round_build(u, &r)) {
    fprintf(stderr, "modc: warning: tune: round %d did not build; its %d kernels keep their best records\n",
            u->rounds - 1, np);
    for (int i = 0; i < np; i++) plans[i].k->done = 1;
    return free(plans), round_free(&r), np;
  }
  double per = (timing_now() - start - BUILD_FIXED) / r.n;
  u->cj = 0.5 * (u->cj + (per > 0.005 ? per : 0.005));
  cli_progress("  compiled in %.1f s", timing_now() - start);
  for (int i = 0; i < np; i++) {
    judge(u, &plans[i], &r);
    TKern *k = plans[i].k;
    int ng = tune_groups(k->best.kind);
    const char *group = tune_group_name(k->best.kind, (k->group + ng - 1) % ng);
    cli_progress("  kernel %d/%d %-48s %-7s best %.3f ms (heuristic %.3f)%s", i + 1, np, k->key, group, k->best_ms,
                 k->def_ms, k->done ? ", done" : "");
  }
  u->slow = fmin(4, fmax(1, (timing_now() - start) / est));
  round_free(&r);
  free(plans);
  return np;
}

/* The last round: each kernel whose best is not the heuristic's record timed in turn with
 * that record, call by call (pair_cost, ~100 ms of calls each); with revert, a best that is
 * not below 0.99 of it, or that makes one of the kernel's calls slower than WORSE x, goes
 * back to the heuristic's.  ms and default_ms come from these medians, so that no
 * record claims a gain the noise of one moment gave it. */
int tune_validate(Tuner *u, int revert) {
  Round r = {0};
  int first[MAX_KERNELS], n = 0, reverted = 0;
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    first[i] = -1;
    if (tune_same(&k->best, &k->def)) continue;
    first[i] = r.n, n++;
    int oom = 0;
    for (int c = 0; c < k->nctx; c++) oom |= round_add(&r, &k->ctx[c].call, &k->def);
    for (int c = 0; c < k->nctx; c++) oom |= round_add(&r, &k->ctx[c].call, &k->best);
    if (oom) return round_free(&r), cli_fail("out of memory");
  }
  if (!n) return 0;
  cli_progress("validation: %d kernels beside their heuristic records", n);
  if (round_build(u, &r)) { /* unvalidated records are not written: the heuristic's stand */
    fprintf(stderr, "modc: warning: tune: the validation round did not build; %d kernels keep the heuristic's "
            "records\n", n);
    for (int i = 0; i < u->nk; i++) u->k[i].best = u->k[i].def, u->k[i].best_ms = u->k[i].def_ms;
    u->reverted = n;
    return round_free(&r), 0;
  }
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    if (first[i] < 0) continue;
    double td[MAX_CTX], tb[MAX_CTX];
    pair_cost(u, k, &r.jobs[first[i]], &r.jobs[first[i] + k->nctx], 100, &k->def_cost, &k->best_cost, td, tb);
    k->def_ms = tune_ms(k, td), k->best_ms = tune_ms(k, tb);
    for (int c = 0; c < k->nctx; c++) k->ctx[c].t_vdef = td[c], k->ctx[c].t_vbest = tb[c];
    int worse = !no_call_worse(k, &k->def, &k->best, td, tb);
    if (revert && (k->best_cost >= 0.99 * k->def_cost || worse)) {
      k->best = k->def, k->best_cost = k->def_cost, k->best_ms = k->def_ms, reverted++;
      cli_progress("  %-48s back to the heuristic's record%s", k->key, worse ? " (one of its calls got slower)" : "");
    } else {
      cli_progress("  %-48s %.3f ms against %.3f (%.3f)", k->key, k->best_ms, k->def_ms, k->best_cost / k->def_cost);
    }
  }
  round_free(&r);
  u->reverted = reverted;
  return 0;
}
