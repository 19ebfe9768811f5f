/* tune_int.h: what the parts of `modc tune` share (tune.c: the command, the model's kernels
 * and the records; tune_search.c: round 0, the search rounds and the validation round;
 * tune_e2e.c: the end-to-end check; tune_sweep.c: the exhaustive sweep).  Not an interface outside tools/tune*.c.
 */
#ifndef MODC_TUNE_INT_H
#define MODC_TUNE_INT_H

#include "frontend/spec.h"
#include "passes/kkey.h"
#include "passes/passes.h"
#include "passes/tuning.h"
#include "tools/tune_kern.h"
#include "tools/tune_space.h"

#define MAX_KERNELS 512
#define MAX_CTX (SPEC_MAX_SHAPES + 1)
#define MAX_TRIED 512

typedef struct TuneOpts {
  const char *spec, *out, *cpu;
  const char *defs[256];
  int ndefs;
  double budget;
  int threads, shard_i, shard_n;
  int no_e2e;               /* --no-e2e: no end-to-end check (tune_e2e.c) */
  int exhaustive;           /* --exhaustive N: sweep the N largest matmuls instead of searching */
#define TUNE_MAX_COMPARE 4
  const char *compare[TUNE_MAX_COMPARE]; /* --compare FILE: records timed beside the sweep's best,
                                            or (without --exhaustive) beside each other */
  int ncompare;
  const char *check;        /* --check FILE: its records validated and checked end to end, no search */
  char shapes[1024];
} TuneOpts;

typedef struct TCtx {
  TuneCall call;
  int cls;                  /* the graph: 0..nfwd-1 a forward graph (u->graphs), nfwd the decode step */
  double count;             /* calls per step (decode: a routed block's times its capacity) */
  double w;                 /* count over the class's total default time */
  double t_def;             /* ms per call, heuristic record (round 0) */
  double t_vdef, t_vbest;   /* ms per call of the heuristic's and the best record, validation round */
} TCtx;

typedef struct TKern {     /* one kernel (by key) and its search */
  char key[KKEY_MAX];
  Sched def, best;          /* the heuristic's record (every node of the key has it); the best so far */
  int nctx, paths;          /* calls; TUNE_MANY / TUNE_ONE: which paths its calls take */
  TCtx ctx[MAX_CTX];        /* one call per graph that holds the key */
  double def_cost, best_cost; /* weighted over the calls (tune_cost): the share of forward + decode */
  double share;             /* def_cost over the number of step kinds: how much of the time it is */
  double def_ms, best_ms;   /* summed over its calls of a forward per shape and a decode step */
  int group, stale;         /* the group of fields it moves next; groups since its last gain */
  int done, searched;       /* no more rounds for it; it took part in one */
  int ntried;
  Sched tried[MAX_TRIED];   /* records already tried (never built twice) */
  int rejected, wins;       /* candidates with a wrong output; gains taken */
} TKern;

typedef struct Tuner {
  TuneOpts o;
  Spec spec;
  CgTarget target;
  TargetDesc desc;
  WLayout layout;
  Graph *graphs[SPEC_MAX_SHAPES + 1];
  int ngraphs, nfwd;        /* forward graphs first, then the session graph */
  double mean_capacity;     /* of the routed layers (1 if none) */
  TKern *k;
  int nk;
  TuneRunner run;
  char dir[1200];
  int rounds, reverted;
  int e2e_reverted;         /* the end-to-end check put every record back */
  int nk_out;               /* records written: the first nk_out kernels (-1: all) */
  Tuning *compare;          /* [o.ncompare] --compare's records, or NULL */
  double reserve;           /* seconds of the budget kept for the validation round */
  double cj;                /* seconds a job adds to a round's build (measured: round 0, then each round) */
  double slow;              /* the last round's seconds over its estimate (1 to 4): later estimates
                               are scaled by it (the lm head's calls took 1.5x theirs) */
} Tuner;

/* One round's jobs and their libraries. */
typedef struct Round {
  TuneJob *jobs;
  int n, cap;
  TuneLibs libs;
} Round;

/* tune_search.c */
int round_add(Round *r, TuneCall *c, const Sched *rec);
int round_build(Tuner *u, Round *r);
void round_free(Round *r);
double tune_cost(const TKern *k, const double *t);   /* weighted over k's calls */
double tune_ms(const TKern *k, const double *t);     /* ms of a forward per shape + a decode step */
int tune_round0(Tuner *u);
int tune_search_round(Tuner *u);
int tune_validate(Tuner *u, int revert);   /* revert: a best that does not gain goes back */

/* tune_sweep.c: the exhaustive sweep of the n largest matmuls (--exhaustive N); records files
 * side by side (--compare without --exhaustive) */
int tune_sweep(Tuner *u, int n);
int tune_compare(Tuner *u);

/* tune.c: the records as they stand (every kernel's best) into path */
int tune_write_records(Tuner *u, const char *path);

/* tune_e2e.c: the spec compiled with and without the changed records, prefill and decode
 * timed side by side; a kind that got slower puts fields back (tune_e2e.c says which) */
int tune_e2e(Tuner *u);
void tune_e2e_kill(void);   /* stop its children, from a signal handler */

#endif
