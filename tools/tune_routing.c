/* tune_routing.c: modc tune --routing (DESIGN section 7).  Per-layer capacities (forward
 * mode) or causal thresholds (session mode) searched against quality and latency measured
 * on this CPU.  A configuration is a spec (spec_write) that this modc compiles in a child
 * process; the library is loaded through the ABI and measured by eval_run on the
 * calibration tokens: mean NLL, and the median milliseconds per forward call (forward mode)
 * or per decode step (session mode, at the take rates the calibration text produces).
 *
 * Latency is paired in session mode: the spec as given stays loaded as the reference, and
 * every other configuration (the twin too) runs beside it, window by window in one process
 * (eval_pair), so a configuration's latency is its median ratio to the reference times the
 * reference's own milliseconds, the median over all its runs so far.  Forward mode times each
 * configuration alone (eval_lib says why); its ratio is to the spec's own run.  One run alone moves by 15-30% on a
 * shared VM from second to second (a 2-core Zen 3: 0.24 to 0.34 ms for one configuration);
 * the paired ratio moves by a few percent, so the frontier and "within budget" compare the
 * configurations, not the moments they were measured at.
 *
 * Levels: each routed layer has a ladder of settings, ordered from the fewest tokens taking
 * its block to the most: the coarse levels, the fractions 1/16 .. 1 of RATES (forward: as
 * its capacity; session: as the threshold that lets that fraction of the calibration tokens
 * take the block, from the interpreter's decision scores of the spec as given on the first
 * window), then dense (the layer leaves routing: its block runs on every token, ungated);
 * and the layer's setting in the spec as given ("given").  In session mode "given" has fine
 * neighbours: "given-j" lets FINE[j] fewer of the tokens through than "given" does on the
 * scored calibration tokens, "given+j" as many more.  A trained model is sharpest at the
 * threshold it was fitted for (both more and fewer tokens cost NLL), so the coarse levels
 * alone never search around it; and a router trained with the BCE loss scores few tokens
 * near its threshold, so steps by score (session 26 used a fraction of the scores' spread)
 * can move no token at all.
 * Search, never the product space: the spec as given; in session mode, when the spec is over
 * the budget, every layer at given-1, given-2, given-3 up to the first within it (first: on a
 * trained model they are the likeliest to be chosen, and a short --budget-seconds could spend
 * itself on the coarse levels, which on pair_mod12drr25b cost +100% NLL); the uniform
 * configurations (all routed layers at one coarse level) from the lowest up to the first over
 * the budget (the levels above it are slower still); then coordinate moves,
 * from the spec as given when it is within the budget (else the best configuration that
 * is): each routed layer one rung of
 * its ladder up or down, then pairs (one up, another down), taking the best NLL within the
 * budget, until no move gains or the time is spent.  A move (and a uniform level taken
 * instead of the spec) gains only when it lowers the NLL by more than RT_MARGIN standard
 * errors of the paired difference over the calibration windows: near a trained optimum most
 * moves are worth less than the text's window-to-window noise, and following them tunes to
 * the calibration text, not the model.  The search's path is measured again (the mean of two
 * runs must stay within the budget), best NLL first, before one is chosen.
 * Outputs in DIR: frontier.csv, frontier.png, NAME.tuned.yaml (the best NLL within the
 * budget); DIR/work holds each configuration's files while it is measured, and an
 * interrupted run (SIGINT, SIGTERM, SIGHUP) removes it and its compile child.
 */
#include "tools/tune_routing.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codegen/codegen.h"
#include "frontend/graph.h"
#include "frontend/spec.h"
#include "ir/interp.h"
#include "passes/passes.h"
#include "runtime/exec.h"
#include "tools/cli.h"
#include "tools/eval.h"
#include "tools/plot.h"
#include "tools/timing.h"
#include "tools/tokfile.h"

#define RT_LEVELS 8                 /* coarse levels: RATES, then dense */
#define RT_DENSE (RT_LEVELS - 1)
#define RT_FINE 3                   /* session: fine rungs each side of the spec's own threshold */
#define RT_RUNGS (RT_LEVELS + 1 + 2 * RT_FINE)
#define RT_MAX_CONF 512
#define RT_MAX_DEFS 64
#define RT_SCORE_TOKENS 1024      /* calibration tokens the threshold grid is drawn from, at most */
#define RT_ALL_THRESHOLD (-1e30)  /* session level "1": every token takes the block */
#define RT_CONFIRM 4              /* configurations measured again before one is chosen, at most */
#define RT_RESERVE 2              /* measurements' time the search leaves for that */
#define RT_MARGIN 2.0             /* a move must lower the NLL by this many standard errors */
#define ERRLEN 2048

static const double RATES[RT_DENSE] = {1.0 / 16, 1.0 / 8, 1.0 / 4, 3.0 / 8, 1.0 / 2, 3.0 / 4, 1.0};
static const char *const LEVEL_NAMES[RT_LEVELS] = {"1/16", "1/8", "1/4", "3/8", "1/2", "3/4", "all", "dense"};
static const double FINE[RT_FINE] = {1.0 / 16, 1.0 / 8, 1.0 / 4}; /* of the spec's own take rate */
static const char *const KIND_NAMES[] = {"search", "spec", "twin"};

typedef enum { RC_SEARCH, RC_SPEC, RC_TWIN } ConfKind;

typedef struct RConf {
  ConfKind kind;
  signed char level[SPEC_MAX_LAYERS];  /* rung of each routed layer's ladder (not for the twin) */
  double nll, ms, take[SPEC_MAX_LAYERS];
  double ratio;             /* ms over the reference's (the spec as given), paired; mean of runs */
  double *win;              /* [nwin] each calibration window's summed NLL */
  double margin;            /* on the search's path: the NLL drop it had to beat, else 0 */
  int step;                 /* its place on the search's path (1 = the start), else 0 */
  int runs;                 /* latency measurements averaged into ms (2 once confirmed) */
  int frontier, chosen;
} RConf;

/* one routed layer's settings, from the fewest tokens taking the block to dense */
typedef struct Ladder {
  int n, given, coarse[RT_LEVELS];   /* rungs; the spec's own; each coarse level's rung */
  double v[RT_RUNGS];                /* capacity (forward) or threshold (session) */
  char name[RT_RUNGS][24];
} Ladder;

typedef struct RTuner {
  const char *spec_path, *calib, *out, *twin;
  const char *defs[RT_MAX_DEFS];
  int ndefs, bytes, threads, window;
  EvalMode mode;
  double budget_ms, seconds;
  double speedup;           /* > 0: the budget is the twin's ms (paired) over it, kept current */
  Spec spec;                /* as given (with -D) */
  int nr, layer[SPEC_MAX_LAYERS];      /* the routed layers */
  Ladder lad[SPEC_MAX_LAYERS];          /* by routed index */
  int32_t *tok;
  int ntok, nwin;           /* calibration tokens; the windows they are cut into */
  long long scored;         /* tokens each evaluation predicts */
  RConf conf[RT_MAX_CONF];
  int nconf, measured;
  double t0, eval_s;        /* start; seconds the measurements took so far */
  ModcLib ref;              /* the reference: the spec as given, loaded while the search runs */
  modc_model *ref_m;        /* NULL until it is loaded */
  int keep_ref;             /* the next library measured becomes the reference */
  double ref_ms[RT_MAX_CONF + RT_CONFIRM + 1];  /* its ms in each run */
  int nref;
  char self[4096], work[3000];
} RTuner;

static const char usage_routing[] =
  "usage: modc tune SPEC.yaml --routing --calib FILE [--bytes] --budget-ms MS -o DIR [options]\n"
  "\n"
  "Searches per-layer capacities (--mode forward) or causal thresholds (--mode session) of\n"
  "the routed layers against quality and latency measured on this CPU: every configuration is\n"
  "compiled, its mean NLL measured through the library on the calibration file (as modc eval\n"
  "does) and its latency timed (forward: ms per modc_forward of the longest compiled shape;\n"
  "session: ms per decode step at the take rates the calibration text produces, beside the\n"
  "spec as given: the two alternate window by window in one process, and a configuration's\n"
  "ms is its median ratio to the spec's, CSV column vs_spec, times the spec's own median ms\n"
  "over all runs, so a machine that slows for seconds at a time does not reorder the\n"
  "configurations; forward mode times each alone). Levels per layer: 1/16, 1/8, 1/4, 3/8, 1/2, 3/4 or all of the tokens, or\n"
  "dense; and the spec's own setting (\"given\"), in session mode with fine steps around it\n"
  "(\"given-1\" .. \"given-3\" let 1/16, 1/8, 1/4 fewer tokens through, \"given+1\" .. \"given+3\" as\n"
  "many more). A spec over the budget is first cut evenly: every layer at given-1, then\n"
  "given-2, given-3. The search moves one layer a step at a time from the spec as given (when\n"
  "within the budget, else the best configuration that is), taking a move only when it lowers\n"
  "the NLL by more than 2 standard errors of the paired difference over the calibration\n"
  "windows (CSV columns step: its place on the search's path; margin: that bound).  Writes\n"
  "DIR/frontier.csv (every configuration: routing, nll, ms, on_frontier), DIR/frontier.png\n"
  "and DIR/NAME.tuned.yaml (the spec with the search's best configuration within the budget).\n"
  "  --calib FILE            calibration tokens: whitespace-separated ids (or bytes, --bytes)\n"
  "  --bytes                 each byte of FILE is a token\n"
  "  --budget-ms MS          latency budget: ms per decode step (session) or per forward call\n"
  "  --speedup X             instead of --budget-ms, with --twin: the budget is the twin's ms\n"
  "                          over X, both measured beside the spec as given, so that it moves\n"
  "                          with the machine as the configurations' ms do (issue 13: 1.3)\n"
  "  --mode session|forward  what to tune (default session: thresholds, the decode path)\n"
  "  -o DIR                  output folder (created)\n"
  "  --window W              session: tokens per evaluation window (default: the longest\n"
  "                          compiled seq_len, at most max_seq_len)\n"
  "  --twin SPEC.yaml        a dense twin to measure beside (marked in the CSV and the plot)\n"
  "  --budget-seconds S      time for the search, compiles included (default 120)\n"
  "  --threads N             threads the libraries run on (default: the spec's)\n"
  "  -D key.path=value       override a spec key, as in modc compile\n"
  "  -q                      no progress lines (default when stderr is not a terminal)\n"
  "  -v                      progress lines even when stderr is not a terminal\n";

/* ---- options ---- */

static int parse_value(RTuner *u, const char *a, const char *v) {
  if (!strcmp(a, "--calib")) u->calib = v;
  else if (!strcmp(a, "-o")) u->out = v;
  else if (!strcmp(a, "--twin")) u->twin = v;
  else if (!strcmp(a, "--budget-ms")) return cli_number(a, v, 0, &u->budget_ms);
  else if (!strcmp(a, "--speedup")) return cli_number(a, v, 0, &u->speedup);
  else if (!strcmp(a, "--budget-seconds")) return cli_number(a, v, 0, &u->seconds);
  else if (!strcmp(a, "--threads")) return cli_int(a, v, 0, 1 << 16, &u->threads);
  else if (!strcmp(a, "--window")) return cli_int(a, v, 2, 1 << 24, &u->window);
  else if (!strcmp(a, "--mode")) {
    if (strcmp(v, "session") && strcmp(v, "forward")) return cli_fail("--mode must be session or forward, got '%s'", v);
    u->mode = v[0] == 's' ? EVAL_SESSION : EVAL_FORWARD;
  } else if (!strcmp(a, "-D")) {
    if (u->ndefs == RT_MAX_DEFS) return cli_fail("more than %d -D overrides", RT_MAX_DEFS);
    u->defs[u->ndefs++] = v;
  }
  return 0;
}

static int parse_routing(int argc, char **argv, RTuner *u) {
  static const char *const valued[] = {"--calib", "-o", "--twin", "--budget-ms", "--speedup", "--budget-seconds",
                                       "--threads", "--window", "--mode", "-D", NULL};
  u->mode = EVAL_SESSION, u->seconds = 120, u->budget_ms = NAN;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 0;
    for (int k = 0; valued[k]; k++) takes |= !strcmp(a, valued[k]);
    if (takes && !v) return cli_fail("%s needs a value", a);
    if (takes) {
      if (parse_value(u, a, v)) return 1;
      i++;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_routing, stdout); exit(0); }
    else if (!strcmp(a, "--routing")) continue;
    else if (!strcmp(a, "--bytes")) u->bytes = 1;
    else if (!strcmp(a, "-q")) cli_quiet = 1;
    else if (!strcmp(a, "-v")) cli_quiet = 0;
    else if (a[0] == '-') return cli_fail("tune --routing: unknown option '%s' (see modc tune --routing --help)", a);
    else if (!u->spec_path) u->spec_path = a;
    else return cli_fail("tune --routing: more than one spec given");
  }
  if (!u->spec_path) return cli_fail("tune --routing: no spec given (see modc tune --routing --help)");
  if (!u->calib) return cli_fail("tune --routing: give the calibration text: --calib FILE");
  if (u->speedup > 0 && !isnan(u->budget_ms)) return cli_fail("tune --routing: give --budget-ms or --speedup, not both");
  if (u->speedup > 0 && !u->twin) return cli_fail("tune --routing: --speedup is over the twin's step: give --twin SPEC.yaml");
  if (isnan(u->budget_ms) && !(u->speedup > 0))
    return cli_fail("tune --routing: give the latency budget: --budget-ms MS (or --twin SPEC.yaml --speedup X)");
  if (!u->out) return cli_fail("tune --routing: give the output folder: -o DIR");
  if (u->window && u->mode != EVAL_SESSION) return cli_fail("--window is for --mode session");
  return 0;
}

/* ---- configurations as specs ---- */

static void conf_spec(const RTuner *u, const RConf *c, Spec *s) {
  *s = u->spec;
  for (int i = 0; c->kind == RC_SEARCH && i < u->nr; i++) {
    const Ladder *d = &u->lad[i];
    int l = u->layer[i], lev = c->level[i];
    if (lev == d->coarse[RT_DENSE]) s->routed[l] = 0, s->made_dense[l] = 1, s->capacity[l] = 1.0, s->threshold[l] = 0;
    else if (u->mode == EVAL_FORWARD) s->capacity[l] = d->v[lev];
    else s->threshold[l] = d->v[lev];
  }
}

/* a layer's setting as CSV text: dense, or its capacity / threshold */
static void layer_text(const RTuner *u, const Spec *s, int l, char *buf, size_t n) {
  if (!s->routed[l]) snprintf(buf, n, "dense");
  else snprintf(buf, n, "%.6g", u->mode == EVAL_FORWARD ? s->capacity[l] : s->threshold[l]);
}

/* the rung names of c's layers ("" for the twin) */
static const char *levels_text(const RTuner *u, const RConf *c, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int i = 0; c->kind != RC_TWIN && i < u->nr && o + 24 < n; i++)
    o += snprintf(buf + o, n - o, "%s%s", i ? " " : "", u->lad[i].name[(int)c->level[i]]);
  return buf;
}

static const char *conf_name(const RTuner *u, const RConf *c, char *buf, size_t n) {
  if (c->kind != RC_SEARCH) return c->kind == RC_SPEC ? "the spec as given" : "the dense twin";
  return levels_text(u, c, buf, n);
}

/* ---- one measurement: write, compile, load, eval ---- */

/* ---- interruption: the compile child killed, the work folder removed, then the signal ---- */

static volatile pid_t compiling;
static char work_dir[3000], conf_dir[3100];

static void on_signal(int sig) {
  cli_stop_child_in_handler(compiling);
  cli_reap_all_in_handler();
  if (conf_dir[0]) cli_rmdir_in_handler(conf_dir);
  if (work_dir[0]) rmdir(work_dir);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void catch_signals(const char *work) {
  snprintf(work_dir, sizeof work_dir, "%s", work);
  cli_catch_children();
  signal(SIGINT, on_signal), signal(SIGTERM, on_signal), signal(SIGHUP, on_signal);
}

static int spawn_compile(const RTuner *u, const char *yaml, const char *lib, const char *errf) {
  char *argv[] = {(char *)"modc", (char *)"compile", (char *)yaml, (char *)"-o", (char *)lib, (char *)"-q", NULL};
  char what[3400];
  pid_t pid;
  if (cli_spawn(u->self, argv, errf, &pid)) return 1;
  compiling = pid;
  snprintf(what, sizeof what, "compiling %s", yaml);
  int rc = cli_reap(pid, what, errf);
  compiling = 0;
  return rc;
}

/* the reference's ms: the median over its runs */
static double ref_ms(const RTuner *u) {
  double v[RT_MAX_CONF + RT_CONFIRM + 1];
  memcpy(v, u->ref_ms, (size_t)u->nref * sizeof *v);
  return timing_median(v, u->nref);
}

/* every configuration's ms from its ratio and the reference's ms as now known; with
 * --speedup the budget too, from the twin's */
static void rescale(RTuner *u) {
  double ref = ref_ms(u);
  for (int i = 0; i < u->nconf; i++) {
    u->conf[i].ms = u->conf[i].ratio * ref;
    if (u->speedup > 0 && u->conf[i].kind == RC_TWIN) u->budget_ms = u->conf[i].ms / u->speedup;
  }
}

/* c's quality and latency: the reference alone (its ratio is 1; it stays loaded when
 * u->keep_ref asks), every other library paired with the loaded reference (session mode), or
 * alone against the reference's own run (forward mode: one call of a small model is tens of
 * microseconds, and two libraries' thread pools alternating call by call disturbed each other
 * under load, ratios up to 187) */
static int eval_lib(RTuner *u, const char *lib, const Spec *s, RConf *c) {
  ModcLib a;
  char err[4400];
  modc_model *m = NULL;
  if (modc_load(lib, &a, err, sizeof err)) return cli_fail("%s", err);
  int rc = a.open(NULL, u->threads, &m) ? cli_fail("%s", a.last_error()) : 0;
  if (!rc && !c->win && !(c->win = calloc((size_t)u->nwin, sizeof *c->win))) rc = cli_fail("out of memory");
  EvalOpts o = {u->mode, u->window, 0, c->win};
  EvalResult r, rr;
  double q[3] = {1, 1, 1};
  int paired = u->ref_m != NULL, kept = 0;
  if (!rc) {
    rc = paired ? eval_pair(&u->ref, u->ref_m, &a, m, u->tok, u->ntok, &o, &rr, &r, q)
                : eval_run(&a, m, u->tok, u->ntok, &o, &r);
    if ((kept = !rc && !paired && u->keep_ref)) u->ref = a, u->ref_m = m;
    else a.close(m);
  }
  if (!kept) dlclose(a.h);
  if (rc) return rc;
  c->nll = r.nll, c->ratio = q[0], u->scored = r.tokens;
  if (!paired && u->nref) c->ratio = r.ms_median / ref_ms(u);
  else u->ref_ms[u->nref++] = paired ? rr.ms_median : r.ms_median;
  rescale(u);
  c->ms = c->ratio * ref_ms(u);
  for (int i = 0; i < u->nr; i++) c->take[i] = s->routed[u->layer[i]] ? r.take[u->layer[i]] : 1.0;
  return 0;
}

/* compile and measure c (a twin: its own spec); keep_dir: leave the files (the scores need
 * them); label: what the progress line calls it ("config 3", "again") */
static int measure(RTuner *u, RConf *c, const Spec *s, int keep_dir, char *dir, size_t dn, const char *label) {
  char yaml[3300], lib[3300], errf[3300], name[512];
  double t = timing_now();
  snprintf(dir, dn, "%s/c%d", u->work, u->nconf);
  snprintf(yaml, sizeof yaml, "%s/%s.yaml", dir, s->name);
  snprintf(lib, sizeof lib, "%s/lib%s.so", dir, s->name);
  snprintf(errf, sizeof errf, "%s/compile.err", dir);
  if (mkdir(dir, 0777) && errno != EEXIST) return cli_fail("cannot create '%s': %s", dir, strerror(errno));
  snprintf(conf_dir, sizeof conf_dir, "%s", dir);
  Spec w = *s;
  if (u->mode == EVAL_SESSION) w.n_shapes = 1, w.shapes[0][0] = 1, w.shapes[0][1] = 1; /* forward unused */
  FILE *f = fopen(yaml, "w");
  int rc = !f || spec_write(&w, NULL, "a configuration of modc tune --routing", f) ? cli_fail("cannot write '%s'", yaml) : 0;
  if (f) fclose(f);
  rc = rc || spawn_compile(u, yaml, lib, errf) || eval_lib(u, lib, s, c);
  if (!keep_dir) cli_rmdir(dir);
  u->eval_s += timing_now() - t, u->measured++, c->runs = 1;
  if (!rc) {
    char take[256] = "";
    for (int i = 0, o = 0; i < u->nr && o < 200; i++) o += snprintf(take + o, sizeof take - o, "%s%.3f", i ? "/" : "", c->take[i]);
    cli_progress("%s (%s): nll %.5f, %.4g ms (x%.3f the spec's, paired), take %s  [%.0f of %.0f s]", label,
                 conf_name(u, c, name, sizeof name), c->nll, c->ms, c->ratio, take, cli_elapsed() - u->t0, u->seconds);
  }
  return rc;
}

/* ---- the ladders ---- */

enum { TAG_GIVEN = RT_LEVELS, TAG_FINE }; /* item tags: coarse levels 0 .. RT_DENSE - 1, given, fine */

/* key: the setting in the ladder's order (a threshold negated: higher ones take fewer tokens) */
typedef struct Item { double key, v; int tag; } Item;

static int cmp_item(const void *a, const void *b) {
  const Item *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->tag - y->tag;
}

/* fine tag t: "given-j" (fewer tokens) for t = TAG_FINE + 2(j-1), "given+j" the one after */
static void item_name(int tag, char *buf, size_t n) {
  if (tag < TAG_GIVEN) snprintf(buf, n, "%s", LEVEL_NAMES[tag]);
  else if (tag == TAG_GIVEN) snprintf(buf, n, "given");
  else snprintf(buf, n, "given%c%d", (tag - TAG_FINE) % 2 ? '+' : '-', (tag - TAG_FINE) / 2 + 1);
}

/* A layer's ladder from its coarse settings v[0 .. RT_DENSE-1], its setting as given and,
 * in session mode, the fine settings fine[2j] ("given-(j+1)", fewer tokens) and fine[2j+1]
 * ("given+(j+1)"), NaN where there is none: sorted from the fewest tokens to the most, a
 * setting that an item named before already has dropped (so "given" may be a coarse level's
 * rung), dense on top. */
static void ladder_build(Ladder *d, const double *v, double given, const double *fine, int session) {
  Item it[RT_RUNGS];
  int m = 0, at[TAG_FINE + 2 * RT_FINE];
  double sign = session ? -1 : 1;
  for (int g = 0; g < RT_DENSE; g++) it[m++] = (Item){sign * v[g], v[g], g};
  it[m++] = (Item){sign * given, given, TAG_GIVEN};
  for (int j = 0; fine && j < 2 * RT_FINE; j++)
    if (!isnan(fine[j])) it[m++] = (Item){sign * fine[j], fine[j], TAG_FINE + j};
  qsort(it, m, sizeof *it, cmp_item);
  d->n = 0;
  for (int k = 0; k < m; k++) {
    if (!d->n || it[k].v != d->v[d->n - 1]) {
      d->v[d->n] = it[k].v;
      item_name(it[k].tag, d->name[d->n], sizeof d->name[0]);
      d->n++;
    }
    at[it[k].tag] = d->n - 1;
  }
  for (int g = 0; g < RT_DENSE; g++) d->coarse[g] = at[g];
  d->given = at[TAG_GIVEN];
  d->coarse[RT_DENSE] = d->n;
  d->v[d->n] = 1.0;
  snprintf(d->name[d->n++], sizeof d->name[0], "%s", LEVEL_NAMES[RT_DENSE]);
}

/* the ladder as a progress line: "layer L: 1/16 2.5, 1/8 1.9, ..., dense" */
static void ladder_show(const RTuner *u, int i) {
  const Ladder *d = &u->lad[i];
  char buf[1024];
  size_t o = 0;
  for (int k = 0; k < d->n - 1 && o + 64 < sizeof buf; k++)
    o += snprintf(buf + o, sizeof buf - o, "%s %.6g, ", d->name[k], d->v[k]);
  cli_progress("layer %d %s: %sdense", u->layer[i], u->mode == EVAL_FORWARD ? "capacities" : "thresholds", buf);
}

/* forward mode: the capacities RATES and the spec's own */
static void ladders_forward(RTuner *u) {
  for (int i = 0; i < u->nr; i++) {
    ladder_build(&u->lad[i], RATES, u->spec.capacity[u->layer[i]], NULL, 0);
    ladder_show(u, i);
  }
}

/* the spec as given is the configuration at every layer's "given" rung */
static void spec_levels(RTuner *u) {
  for (int k = 0; k < u->nconf; k++)
    for (int i = 0; u->conf[k].kind == RC_SPEC && i < u->nr; i++) u->conf[k].level[i] = (signed char)u->lad[i].given;
}

/* ---- the threshold grid (session) ---- */

static int cmp_desc(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x < y) - (x > y);
}

static const uint8_t *map_weights(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) return fd >= 0 ? close(fd), NULL : NULL;
  void *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  *len = st.st_size;
  return p == MAP_FAILED ? NULL : p;
}

/* the threshold that lets the k highest of the n scores s (sorted, highest first) take the
 * block: halfway to the next one */
static double cut(const double *s, int n, int k) { return k >= n ? RT_ALL_THRESHOLD : 0.5 * (s[k - 1] + s[k]); }

/* The fine rungs around a layer's own threshold t over its sorted scores s[0..n): given-j lets
 * FINE[j] fewer of the tokens that t lets through take the block, given+j as many more (of at
 * least n/16: a threshold that lets almost none through still has steps up), NaN where the
 * scores hold no such distinct count. */
static void fine_rungs(const double *s, int n, double t, double *fine) {
  int kg = 0;
  while (kg < n && s[kg] > t) kg++;
  int base = kg > n / 16 ? kg : n / 16, last_lo = kg, last_hi = kg;
  for (int j = 0; j < RT_FINE; j++) {
    int lo = (int)lround(kg * (1 - FINE[j])), hi = (int)lround(kg + base * FINE[j]);
    hi = hi < n ? hi : n;
    int new_lo = lo >= 1 && lo < last_lo, new_hi = hi > last_hi;
    fine[2 * j] = new_lo ? cut(s, n, lo) : NAN;
    fine[2 * j + 1] = new_hi ? cut(s, n, hi) : NAN;
    if (new_lo) last_lo = lo;
    if (new_hi) last_hi = hi;
  }
}

/* each routed layer's ladder from its scores over n tokens (scores[i][0..n)): coarse
 * thresholds at their quantiles, fine ones by take rates around the spec's own */
static void grid_from_scores(RTuner *u, double **scores, int n) {
  double thr[RT_DENSE], fine[2 * RT_FINE];
  for (int i = 0; i < u->nr; i++) {
    double *s = scores[i];
    qsort(s, n, sizeof *s, cmp_desc);
    for (int lev = 0; lev < RT_DENSE; lev++) {
      int k = (int)lround(RATES[lev] * n);
      thr[lev] = cut(s, n, k < 1 ? 1 : k);
    }
    fine_rungs(s, n, u->spec.threshold[u->layer[i]], fine);
    ladder_build(&u->lad[i], thr, u->spec.threshold[u->layer[i]], fine, 1);
    ladder_show(u, i);
  }
}

/* the interpreter's decision scores of the spec as given, on the first calibration tokens in
 * windows of the session window, from the weights file its compile wrote in dir */
static int threshold_grid(RTuner *u, const char *dir) {
  const Spec *s = &u->spec;
  char err[ERRLEN], wpath[3300];
  CgTarget t;
  TargetDesc desc;
  WLayout lay;
  if (cg_target_resolve(s->target, s->cpu, 2, &t, err, sizeof err)) return cli_fail("%s", err);
  cg_target_describe(&t, s->threads, &desc);
  wlayout_build(s, &desc, &lay);
  snprintf(wpath, sizeof wpath, "%s/%s.weights", dir, s->name);
  size_t len = 0;
  const uint8_t *blob = map_weights(wpath, &len);
  int W = u->window < s->max_seq_len ? u->window : s->max_seq_len;
  int n = u->ntok < RT_SCORE_TOKENS ? u->ntok : RT_SCORE_TOKENS, rc = 0;
  if (n >= W) n = n / W * W;   /* whole windows (a file shorter than one: what there is) */
  Graph *g = build_session(s, &lay);
  int32_t *pos = malloc((size_t)W * sizeof *pos);
  double *logits = malloc((size_t)s->vocab_size * sizeof *logits), *scores[SPEC_MAX_LAYERS] = {0};
  int fail = !blob || !g || !pos || !logits;
  for (int i = 0; i < u->nr; i++) fail |= !(scores[i] = malloc((size_t)n * sizeof **scores));
  for (int i = 0; i < W; i++) pos[i] = i;
  cli_progress("threshold grid: the interpreter's router scores on %d calibration tokens", n);
  if (fail) rc = cli_fail("cannot map '%s' or out of memory", wpath);
  else if (pass_infer_shapes(g, err, sizeof err)) rc = cli_fail("interpreter: %s", err);
  for (int at = 0; !rc && at < n; at += W) {
    int m = n - at < W ? n - at : W;
    InterpSession *is = interp_session_new(s->n_layers, s->max_seq_len, s->n_kv_heads * spec_head_dim(s));
    if (!is) rc = cli_fail("out of memory");
    else if (interp_run(g, blob + MODC_WEIGHTS_HEADER, u->tok + at, pos, m, is, logits, NULL, err, sizeof err))
      rc = cli_fail("interpreter: %s", err);
    for (int i = 0; !rc && i < u->nr; i++) memcpy(scores[i] + at, interp_scores(is, u->layer[i]), (size_t)m * sizeof **scores);
    interp_session_free(is);
  }
  if (!rc) grid_from_scores(u, scores, n);
  if (blob) munmap((void *)blob, len);
  if (g) graph_free(g);
  wlayout_free(&lay);
  for (int i = 0; i < u->nr; i++) free(scores[i]);
  free(pos), free(logits);
  return rc;
}

/* ---- the search ---- */

static RConf *find_conf(RTuner *u, const signed char *lev) {
  for (int i = 0; i < u->nconf; i++)
    if (u->conf[i].kind != RC_TWIN && !memcmp(u->conf[i].level, lev, u->nr)) return &u->conf[i];
  return NULL;
}

/* room for one more measurement, keeping RT_RESERVE for the confirmation */
static int time_left(const RTuner *u) {
  double avg = u->measured ? u->eval_s / u->measured : 0;
  return cli_elapsed() - u->t0 + avg * (1 + RT_RESERVE) <= u->seconds && u->nconf < RT_MAX_CONF;
}

/* the configuration of levels lev, measured once (NULL when out of time or it failed) */
static RConf *get(RTuner *u, const signed char *lev, int *rc) {
  RConf *c = find_conf(u, lev);
  if (c || *rc || !time_left(u)) return c;
  c = &u->conf[u->nconf];
  memset(c, 0, sizeof *c);
  c->kind = RC_SEARCH;
  memcpy(c->level, lev, u->nr);
  Spec s;
  char dir[3100], label[32];
  conf_spec(u, c, &s);
  snprintf(label, sizeof label, "config %d", u->nconf + 1);
  if ((*rc = measure(u, c, &s, 0, dir, sizeof dir, label))) return free(c->win), c->win = NULL, NULL;
  u->nconf++;
  return c;
}

static int within(const RTuner *u, const RConf *c) { return c && c->ms <= u->budget_ms; }

static RConf *better(const RTuner *u, RConf *best, RConf *c) {
  return within(u, c) && (!best || c->nll < best->nll) ? c : best;
}

/* The standard error of the difference of a's and b's mean NLL, paired over the calibration
 * windows (both scored the same tokens); 0 with fewer than two windows. */
static double diff_se(const RTuner *u, const RConf *a, const RConf *b) {
  int n = u->nwin;
  if (n < 2 || !a->win || !b->win || !u->scored) return 0;
  double m = 0, v = 0;
  for (int w = 0; w < n; w++) m += a->win[w] - b->win[w];
  m /= n;
  for (int w = 0; w < n; w++) {
    double d = a->win[w] - b->win[w] - m;
    v += d * d;
  }
  return sqrt(n * v / (n - 1)) / (double)u->scored;
}

static double margin(const RTuner *u, const RConf *c, const RConf *from) { return RT_MARGIN * diff_se(u, c, from); }

/* c, when it is within the budget and lowers from's NLL by more than the margin (a gain that
 * the calibration text's window-to-window noise does not explain) and by more than best does */
static RConf *gain(const RTuner *u, const RConf *from, RConf *best, RConf *c) {
  if (!c || !within(u, c) || c->nll >= from->nll - margin(u, c, from)) return best;
  return best && best != from && best->nll <= c->nll ? best : c;
}

/* Every uniform level from the lowest, up to the first over the budget: a step takes longer
 * as more tokens take the blocks, so the levels above it cannot meet the budget either, and
 * the time they would take goes to the per-layer moves instead. */
static void uniform(RTuner *u, int *rc) {
  signed char lev[SPEC_MAX_LAYERS];
  for (int g = 0; g < RT_LEVELS && !*rc; g++) {
    for (int i = 0; i < u->nr; i++) lev[i] = (signed char)u->lad[i].coarse[g];
    RConf *c = get(u, lev, rc);
    if (c && !within(u, c) && g + 1 < RT_LEVELS) {
      cli_progress("tune --routing: uniform %s is over the budget (%.4g ms); the levels above it are not measured",
                   LEVEL_NAMES[g], c->ms);
      break;
    }
  }
}

/* the rung of ladder d named "given-j", else the nearest such rung closer to "given", else
 * "given" */
static int fine_rung(const Ladder *d, int j) {
  for (; j >= 1; j--) {
    char want[24];
    snprintf(want, sizeof want, "given-%d", j);
    for (int k = 0; k < d->n; k++)
      if (!strcmp(d->name[k], want)) return k;
  }
  return d->given;
}

/* Session mode, the spec as given over the budget: every routed layer at given-1, then
 * given-2, given-3 (each layer's own take rate cut by FINE[j]), up to the first within the
 * budget.  A cut this even stays near the trained operating point, where the coarse levels
 * leave it (quantiles of all layers alike); the moves then start from the best within the
 * budget. */
static void uniform_fine(RTuner *u, int *rc) {
  RConf *spec = NULL;
  for (int i = 0; i < u->nconf; i++)
    if (u->conf[i].kind == RC_SPEC) spec = &u->conf[i];
  if (u->mode != EVAL_SESSION || !spec || within(u, spec)) return;
  signed char lev[SPEC_MAX_LAYERS];
  for (int j = 1; j <= RT_FINE && !*rc; j++) {
    for (int i = 0; i < u->nr; i++) lev[i] = (signed char)fine_rung(&u->lad[i], j);
    RConf *c = get(u, lev, rc);
    if (c && within(u, c)) break;
  }
}

/* one round of moves from cur: singles, then (when none gains) pairs; the best gain, or cur */
static RConf *move(RTuner *u, RConf *cur, int *rc) {
  signed char lev[SPEC_MAX_LAYERS];
  RConf *best = cur;
  for (int i = 0; i < u->nr; i++)
    for (int d = -1; d <= 1; d += 2) {
      memcpy(lev, cur->level, u->nr);
      if ((lev[i] += d) < 0 || lev[i] >= u->lad[i].n) continue;
      best = gain(u, cur, best, get(u, lev, rc));
    }
  for (int i = 0; best == cur && i < u->nr; i++)
    for (int j = 0; j < u->nr; j++) {
      memcpy(lev, cur->level, u->nr);
      if (i == j || ++lev[i] >= u->lad[i].n || --lev[j] < 0) continue;
      best = gain(u, cur, best, get(u, lev, rc));
    }
  return best;
}

/* where the moves start: the spec as given when it is within the budget, unless a uniform
 * level gains on it; else the best within the budget */
static RConf *start(RTuner *u) {
  RConf *spec = NULL, *cur = NULL;
  for (int i = 0; i < u->nconf; i++)
    if (u->conf[i].kind == RC_SPEC) spec = &u->conf[i];
  if (within(u, spec)) {
    cur = spec;
    for (int i = 0; i < u->nconf; i++)
      if (u->conf[i].kind == RC_SEARCH) cur = gain(u, spec, cur, &u->conf[i]);
    if (cur != spec) cur->margin = margin(u, cur, spec);
    return cur;
  }
  for (int i = 0; i < u->nconf; i++)
    if (u->conf[i].kind != RC_TWIN) cur = better(u, cur, &u->conf[i]);
  return cur;
}

static int search(RTuner *u) {
  int rc = 0, steps = 0;
  char name[512];
  uniform_fine(u, &rc);
  if (!rc) uniform(u, &rc);
  RConf *cur = rc ? NULL : start(u);
  if (cur) cur->step = ++steps;
  while (cur && !rc && time_left(u)) {
    RConf *next = move(u, cur, &rc);
    if (next == cur) {
      if (!rc && time_left(u)) cli_progress("tune --routing: no move from %s lowers the nll by more than %g standard errors",
                            conf_name(u, cur, name, sizeof name), RT_MARGIN);
      break;
    }
    next->margin = margin(u, next, cur);
    cur = next, cur->step = ++steps;
  }
  if (!rc && !time_left(u)) cli_progress("tune --routing: the --budget-seconds of %.0f s is spent", u->seconds);
  return rc;
}

/* One latency measurement is noisy, and it decides "within budget": before a configuration
 * is chosen it is compiled and measured again and its ms becomes the mean of the two runs.
 * Candidates are the search's path, in order of NLL, then (when none of the path stays within
 * the budget) any other configuration measured within it, until one stays within the budget
 * (at most RT_CONFIRM).  On bytes_mod at 0.95 of the spec's step the path was one
 * configuration that measured over the budget again, while three others on the frontier were
 * within it. */
static int confirm(RTuner *u) {
  for (int tries = 0; tries < RT_CONFIRM; tries++) {
    RConf *best = NULL, again;
    for (int i = 0; i < u->nconf; i++)
      if (u->conf[i].step && u->conf[i].runs == 1) best = better(u, best, &u->conf[i]);
    for (int i = 0; !best && i < u->nconf; i++)
      if (u->conf[i].kind != RC_TWIN && u->conf[i].runs == 1) best = better(u, best, &u->conf[i]);
    if (!best) return 0;
    Spec s;
    char dir[3100];
    conf_spec(u, best, &s);
    again = *best;
    again.win = NULL;
    int rc = measure(u, &again, &s, 0, dir, sizeof dir, "again");
    free(again.win);
    if (rc) return 1;
    best->ratio = 0.5 * (best->ratio + again.ratio), best->runs = 2;
    rescale(u);
    if (within(u, best)) return 0;
  }
  return 0;
}

/* ---- results ---- */

static void mark_frontier(RTuner *u) {
  RConf *best = NULL;
  for (int i = 0; i < u->nconf; i++) {
    RConf *c = &u->conf[i];
    if (c->kind == RC_TWIN) continue;
    c->frontier = 1;
    for (int j = 0; j < u->nconf && c->frontier; j++) {
      const RConf *d = &u->conf[j];
      if (j != i && d->kind != RC_TWIN && d->ms <= c->ms && d->nll <= c->nll && (d->ms < c->ms || d->nll < c->nll))
        c->frontier = 0;
    }
    if (c->runs == 2) best = better(u, best, c);
  }
  if (best) best->chosen = 1;
}

static int write_csv(const RTuner *u, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) return cli_fail("cannot write '%s': %s", path, strerror(errno));
  fprintf(f, "id,kind,levels,nll,ms,vs_spec,runs,within_budget,on_frontier,chosen,step,margin");
  for (int i = 0; i < u->nr; i++) fprintf(f, ",%s_%d", u->mode == EVAL_FORWARD ? "capacity" : "threshold", u->layer[i]);
  for (int i = 0; i < u->nr; i++) fprintf(f, ",take_%d", u->layer[i]);
  fputc('\n', f);
  for (int k = 0; k < u->nconf; k++) {
    const RConf *c = &u->conf[k];
    char name[512], v[64];
    Spec s;
    conf_spec(u, c, &s);
    fprintf(f, "%d,%s,%s,%.9g,%.6g,%.6g,%d,%d,%d,%d,%d,%.9g", k + 1, KIND_NAMES[c->kind],
            c->kind == RC_TWIN ? "" : levels_text(u, c, name, sizeof name), c->nll, c->ms, c->ratio, c->runs, within(u, c),
            c->frontier, c->chosen, c->step, c->margin);
    for (int i = 0; i < u->nr; i++) {
      if (c->kind == RC_TWIN) snprintf(v, sizeof v, "dense");
      else layer_text(u, &s, u->layer[i], v, sizeof v);
      fprintf(f, ",%s", v);
    }
    for (int i = 0; i < u->nr; i++) fprintf(f, ",%.6g", c->take[i]);
    fputc('\n', f);
  }
  return fclose(f) ? cli_fail("cannot write '%s'", path) : 0;
}

static int write_png(const RTuner *u, const char *path) {
  PlotPoint *pt = malloc((size_t)u->nconf * sizeof *pt);
  char err[ERRLEN], title[256];
  if (!pt) return cli_fail("out of memory");
  for (int k = 0; k < u->nconf; k++) {
    const RConf *c = &u->conf[k];
    pt[k] = (PlotPoint){c->ms, c->nll,
                        c->chosen ? MARK_CHOSEN : c->kind == RC_SPEC ? MARK_SPEC : c->kind == RC_TWIN ? MARK_TWIN
                        : c->frontier ? MARK_FRONTIER : MARK_DOT, c->frontier};
  }
  snprintf(title, sizeof title, "%s: %s routing, nll against latency (%d configurations)", u->spec.name,
           u->mode == EVAL_FORWARD ? "capacity" : "threshold", u->nconf);
  Plot p = {title, u->mode == EVAL_FORWARD ? "ms per forward call" : "ms per decode step", "nll (nats/token)", pt,
            u->nconf, u->budget_ms};
  int rc = plot_png(&p, path, err, sizeof err) ? cli_fail("%s", err) : 0;
  free(pt);
  return rc;
}

static int write_tuned(const RTuner *u, const RConf *c, const char *path) {
  Spec s;
  char note[512];
  conf_spec(u, c, &s);
  snprintf(note, sizeof note, "modc tune --routing (%s mode): nll %.6f, %.4g ms measured, budget %.4g ms",
           u->mode == EVAL_FORWARD ? "forward" : "session", c->nll, c->ms, u->budget_ms);
  FILE *f = fopen(path, "w");
  int rc = !f || spec_write(&s, NULL, note, f) ? 1 : 0;
  if (f && fclose(f)) rc = 1;
  return rc ? cli_fail("cannot write '%s'", path) : 0;
}

/* write DIR's files through temporary names, so a failure leaves none half written */
static int write_outputs(RTuner *u) {
  char csv[3100], png[3100], yaml[3100], tmp[3][3200];
  const RConf *chosen = NULL;
  mark_frontier(u);
  for (int i = 0; i < u->nconf; i++)
    if (u->conf[i].chosen) chosen = &u->conf[i];
  snprintf(csv, sizeof csv, "%s/frontier.csv", u->out);
  snprintf(png, sizeof png, "%s/frontier.png", u->out);
  snprintf(yaml, sizeof yaml, "%s/%s.tuned.yaml", u->out, u->spec.name);
  for (int i = 0; i < 3; i++) snprintf(tmp[i], sizeof tmp[i], "%s.tmp", i == 0 ? csv : i == 1 ? png : yaml);
  if (write_csv(u, tmp[0]) || write_png(u, tmp[1]) || (chosen && write_tuned(u, chosen, tmp[2]))) {
    for (int i = 0; i < 3; i++) unlink(tmp[i]);
    return 1;
  }
  rename(tmp[0], csv), rename(tmp[1], png);
  if (chosen) rename(tmp[2], yaml);
  else unlink(yaml); /* an earlier run's answer would no longer be true */
  return 0;
}

static void report(const RTuner *u) {
  const RConf *chosen = NULL, *fastest = NULL;
  int nf = 0;
  for (int i = 0; i < u->nconf; i++) {
    const RConf *c = &u->conf[i];
    nf += c->frontier;
    if (c->chosen) chosen = c;
    if (c->kind != RC_TWIN && (!fastest || c->ms < fastest->ms)) fastest = c;
  }
  printf("%d configurations measured in %.1f s, %d on the frontier; written to %s/frontier.csv and frontier.png\n",
         u->nconf, cli_elapsed() - u->t0, nf, u->out);
  char name[512];
  if (chosen)
    printf("best within %.4g ms: %s, nll %.6f, %.4g ms -> %s/%s.tuned.yaml\n", u->budget_ms,
           conf_name(u, chosen, name, sizeof name), chosen->nll, chosen->ms, u->out, u->spec.name);
}

/* ---- the command ---- */

/* the spec's weights path made absolute: the configurations' specs live elsewhere */
static int absolute_weights(Spec *s) {
  char abs[PATH_MAX];
  if (!realpath(s->weights_path, abs)) return cli_fail("cannot read weights '%s': %s", s->weights_path, strerror(errno));
  if (strlen(abs) >= sizeof s->weights_path) return cli_fail("weights path '%s' is too long", abs);
  memcpy(s->weights_path, abs, strlen(abs) + 1);
  return 0;
}

static int prepare(RTuner *u) {
  char err[ERRLEN];
  if (spec_load(u->spec_path, u->defs, u->ndefs, &u->spec, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  for (int l = 0; l < u->spec.n_layers; l++)
    if (u->spec.routed[l]) u->layer[u->nr++] = l;
  if (!u->nr) return cli_fail("%s: the spec has no routed layers: there is no routing to tune", u->spec_path);
  if (u->mode == EVAL_FORWARD && u->spec.forward == FWD_THRESHOLD)
    return cli_fail("%s: routing.forward is threshold, so modc_forward routes by the thresholds that --mode session "
                    "tunes; --mode forward tunes capacities", u->spec_path);
  if (absolute_weights(&u->spec)) return 1;
  if (tok_read(u->calib, u->bytes, u->spec.vocab_size, &u->tok, &u->ntok)) return 1;
  if (!u->ntok) return cli_fail("tune --routing: the calibration file '%s' holds no tokens", u->calib);
  int T = 0;
  for (int i = 0; i < u->spec.n_shapes; i++) T = u->spec.shapes[i][1] > T ? u->spec.shapes[i][1] : T;
  if (u->mode == EVAL_SESSION && !u->window) u->window = T < u->spec.max_seq_len ? T : u->spec.max_seq_len;
  int W = u->mode == EVAL_SESSION ? u->window : T;
  if (W > u->spec.max_seq_len) return cli_fail("--window %d is longer than max_seq_len %d", W, u->spec.max_seq_len);
  if (W < 2) return cli_fail("tune --routing: windows of %d token predict nothing", W);
  if (u->ntok < W)
    return cli_fail("tune --routing: the calibration file holds %d tokens, fewer than one window of %d", u->ntok, W);
  u->nwin = eval_window_count(u->ntok, W);
  if (cli_self_exe(u->self, sizeof u->self)) return 1;
  if (mkdir(u->out, 0777) && errno != EEXIST) return cli_fail("cannot create '%s': %s", u->out, strerror(errno));
  snprintf(u->work, sizeof u->work, "%s/work", u->out);
  if (mkdir(u->work, 0777) && errno != EEXIST) return cli_fail("cannot create '%s': %s", u->work, strerror(errno));
  catch_signals(u->work);
  return 0;
}

/* the spec as given (session: its weights give the threshold grid) and the twin */
static int baselines(RTuner *u) {
  char dir[3100], err[ERRLEN];
  RConf *c = &u->conf[u->nconf];
  c->kind = RC_SPEC;
  u->keep_ref = u->mode == EVAL_SESSION;
  int rc = measure(u, c, &u->spec, u->mode == EVAL_SESSION, dir, sizeof dir, "config 1");
  u->keep_ref = 0;
  if (!rc) u->nconf++;
  if (!rc && u->mode == EVAL_SESSION) rc = threshold_grid(u, dir);
  else if (!rc) ladders_forward(u);
  cli_rmdir(dir);
  if (!rc) spec_levels(u);
  if (rc || !u->twin) return rc;
  Spec t;
  if (spec_load(u->twin, NULL, 0, &t, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  if (absolute_weights(&t)) return 1;
  if (t.vocab_size != u->spec.vocab_size) return cli_fail("--twin %s has vocab_size %d, the spec %d", u->twin, t.vocab_size, u->spec.vocab_size);
  t.n_shapes = u->spec.n_shapes; /* forward: timed at the spec's shapes, call by call beside it */
  memcpy(t.shapes, u->spec.shapes, sizeof t.shapes);
  c = &u->conf[u->nconf];
  c->kind = RC_TWIN;
  rc = measure(u, c, &t, 0, dir, sizeof dir, "config 2");
  if (!rc) u->nconf++, rescale(u);
  if (!rc && u->speedup > 0)
    cli_progress("tune --routing: budget %.4g ms, the twin's step over %g (it moves with the reference's ms)",
                 u->budget_ms, u->speedup);
  return rc;
}

int tune_routing_main(int argc, char **argv) {
  RTuner *u = calloc(1, sizeof *u);
  if (!u) return cli_fail("out of memory");
  int rc = parse_routing(argc, argv, u) || prepare(u);
  u->t0 = cli_elapsed();
  if (!rc && u->speedup > 0)
    cli_progress("tune --routing: %d routed layers, %d calibration tokens, budget the twin's step over %g, %s mode",
                 u->nr, u->ntok, u->speedup, u->mode == EVAL_FORWARD ? "forward" : "session");
  else if (!rc) cli_progress("tune --routing: %d routed layers, %d calibration tokens, budget %.4g ms, %s mode", u->nr,
                             u->ntok, u->budget_ms, u->mode == EVAL_FORWARD ? "forward" : "session");
  rc = rc || baselines(u) || search(u) || confirm(u);
  if (u->nconf && !write_outputs(u)) report(u);
  else if (u->nconf) rc = 1;
  if (u->work[0]) rmdir(u->work);
  int chosen = 0;
  for (int i = 0; i < u->nconf; i++) chosen |= u->conf[i].chosen;
  if (!rc && !chosen) {
    double fast = INFINITY;
    for (int i = 0; i < u->nconf; i++) fast = u->conf[i].kind == RC_TWIN ? fast : fmin(fast, u->conf[i].ms);
    rc = cli_fail("no configuration meets --budget-ms %.4g (the fastest took %.4g ms); no tuned spec written, the "
                  "frontier is in %s/frontier.csv", u->budget_ms, fast, u->out);
  }
  for (int i = 0; i < RT_MAX_CONF; i++) free(u->conf[i].win);
  if (u->ref_m) u->ref.close(u->ref_m), dlclose(u->ref.h);
  free(u->tok);
  free(u);
  return rc;
}
