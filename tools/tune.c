/* tune.c: `modc tune`, the schedule search on this CPU (DESIGN sections 7 and 8).
 *
 * The spec is compiled as `modc compile` would, up to the scheduled graphs (no weights are
 * read: kernels are timed on random data of the model's shapes).  Every matmul and
 * attention kernel (by key, passes/kkey.h) is collected with the ways the model calls it:
 * the forward graph of each compiled seq_len, at its rows, and a session's decode step (one
 * row after a cache of kv rows; a routed block's kernels weighted by its capacity, the
 * share of tokens that take it).  Then:
 *   round 0   every kernel's heuristic record, timed in each of its calls; its output is
 *             the reference every candidate must match (tune_kern.h).  A kernel's cost is
 *             its time in a forward plus its time in a decode step, each over the whole
 *             step's time, so forward and decode weigh alike and a kernel's weight is its
 *             share of them.
 *   rounds    coordinate descent: each kernel still searching offers the records that
 *             differ from its best in one group of fields (tune_space.h), all kernels' in
 *             one round, compiled by one process per CPU; each candidate runs once, to be
 *             checked against the reference (a wrong output is never chosen) and screened;
 *             the cheapest few are timed call by call in turn with the best so far (the
 *             VM's drifts cancel) and one wins only below 0.98 of its cost with none of its
 *             calls (a forward shape, the decode step) over 1.02 of the best's, confirmed by
 *             a longer alternation.  A kernel stops when a whole cycle of its groups brought
 *             nothing; kernels go in order of share and the rounds stop when the next
 *             round's estimate would overrun the budget (less a reserve for the last round).
 *             Kernels below 0.5% share keep the heuristic's record unsearched.
 *   last      every changed record against the heuristic's, alternating, ~100 ms of calls:
 *             kept only below 0.99 of its cost and with no call over 1.02 of the heuristic's
 *             (tune_search.c: tune_validate).
 *   e2e       the spec compiled with and without the changed records, a prefill and decode
 *             steps timed side by side; a kind of call that got slower puts fields back
 *             (tune_e2e.c).  The search leaves room for it in the budget.
 * Every kernel gets a record (the key set does not depend on timings): the best found, with
 * its ms and the heuristic's default_ms, both the kernel's milliseconds in one forward of
 * each shape plus one decode step.  --shard I/N keeps kernels I, I+N, ... of the key order;
 * --merge joins shards (tools/records.c); --exhaustive N sweeps instead (tune_sweep.c).
 * The environment variable MODC_TUNE_FAULT is a test hook (tune_kern.h): every candidate's
 * output is made wrong, and the test checks that none is chosen.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "frontend/graph.h"
#include "frontend/spec.h"
#include "passes/kkey.h"
#include "passes/passes.h"
#include "passes/tuning.h"
#include "tools/cli.h"
#include "tools/records.h"
#include "tools/timing.h"
#include "tools/tune.h"
#include "tools/tune_int.h"
#include "tools/tune_routing.h"

/* A decode step is timed after this many cached rows (fewer when max_seq_len is smaller): a
 * step in the middle of a typical generation, where attention reads a real cache. */
#define DECODE_KV 256
#define ERRLEN 2048

static const char usage_tune[] =
  "usage: modc tune SPEC.yaml -o RECORDS.json [options]\n"
  "       modc tune --merge A.json B.json ... -o RECORDS.json\n"
  "       modc tune SPEC.yaml --routing --calib FILE --budget-ms MS -o DIR   (see --routing --help)\n"
  "\n"
  "Searches the schedule record of every matmul and attention kernel of the spec on this CPU\n"
  "(random data of the model's shapes; the weights file is not read) and writes tuning records\n"
  "for `modc compile --tuning RECORDS.json`.  Kernels are timed as the model calls them: the\n"
  "forward of each compiled shape and a decode step; the budget goes to the kernels with the\n"
  "largest share of those.  Each record's ms and default_ms are the kernel's milliseconds in\n"
  "one forward of each shape plus one decode step, with the record and with the heuristic's.\n"
  "  -o PATH                 the records file to write\n"
  "  --budget-seconds S      time to spend, compiles included (default 120; > 0)\n"
  "  --threads N             threads the kernels run on (default: this machine's CPUs)\n"
  "  --shape B,T             a (batch, seq_len) to tune for; repeatable; replaces compile.shapes\n"
  "  --shard I/N             tune only the I-th of N shares of the kernels (1 <= I <= N), for\n"
  "                          N machines of one kind; join the files with --merge\n"
  "  --cpu NAME              tune code for this CPU (default: the spec's compile.cpu); the code\n"
  "                          runs here, so it must be one this machine can run\n"
  "  -D key.path=value       override a spec key, as in modc compile\n"
  "  --exhaustive N          instead of the search: sweep every record of the many-row space\n"
  "                          (tile rows x rows per item x items x prefetch) of the N matmuls of\n"
  "                          largest share, no budget; prints a line per kernel (heuristic_ms,\n"
  "                          best_ms) and writes the best records (minutes per kernel)\n"
  "  --compare FILE          with --exhaustive: time FILE's record of each kernel beside the\n"
  "                          sweep's best (tuned_ms).  Without: no search and no -o; every kernel\n"
  "                          of the spec that a FILE names is timed with each FILE's record and\n"
  "                          the heuristic's, call by call in rotation, one line per kernel and a\n"
  "                          total (forward and decode weighed alike); repeatable (up to 4 files)\n"
  "  --no-e2e                skip the end-to-end check: the spec compiled with the heuristic's\n"
  "                          records and with the tuned ones (its weights, else random ones), a\n"
  "                          prefill and decode steps timed side by side; fields of a kind of\n"
  "                          call that got slower go back to the heuristic's, then every record\n"
  "                          if it still loses (two compiles and 7 rounds of A/B: 15-21 s on\n"
  "                          the benchmark model; the search leaves room for it in the budget)\n"
  "  --check FILE            no search: FILE's records (of this CPU) timed beside the\n"
  "                          heuristic's and put through the end-to-end check, the survivors\n"
  "                          written to -o (e.g. after --merge of shards tuned apart)\n"
  "  -q                      no progress lines (default when stderr is not a terminal)\n"
  "  -v                      progress lines even when stderr is not a terminal\n"
  "  --merge A.json ...      join records files (shards) of one CPU into -o, keys sorted; a key\n"
  "                          in several keeps the record with the lowest ms\n";

static int parse_shard(const char *v, TuneOpts *o) {
  char extra;
  if (sscanf(v, "%d/%d%c", &o->shard_i, &o->shard_n, &extra) != 2 || o->shard_n < 1 || o->shard_i < 1 ||
      o->shard_i > o->shard_n)
    return cli_fail("--shard expects I/N with 1 <= I <= N (e.g. 1/4), got '%s'", v);
  return 0;
}

static int parse_opts(int argc, char **argv, TuneOpts *o) {
  o->budget = 120, o->shard_i = 1, o->shard_n = 1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = !strcmp(a, "-o") || !strcmp(a, "--budget-seconds") || !strcmp(a, "--threads") ||
                !strcmp(a, "--shape") || !strcmp(a, "--shard") || !strcmp(a, "--cpu") || !strcmp(a, "-D") ||
                !strcmp(a, "--exhaustive") || !strcmp(a, "--compare") || !strcmp(a, "--check");
    if (takes && !v) return cli_fail("%s needs a value", a);
    if (takes) i++;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_tune, stdout); exit(0); }
    else if (!strcmp(a, "-o")) o->out = v;
    else if (!strcmp(a, "--cpu")) o->cpu = v;
    else if (!strcmp(a, "--budget-seconds")) {
      char *end;
      o->budget = strtod(v, &end);
      if (*end || !(o->budget > 0) || !isfinite(o->budget))
        return cli_fail("--budget-seconds must be a number of seconds > 0, got '%s'", v);
    } else if (!strcmp(a, "--threads")) {
      char *end;
      long t = strtol(v, &end, 10);
      if (*end || t < 1 || t > 4096) return cli_fail("--threads must be in 1..4096, got '%s'", v);
      o->threads = (int)t;
    } else if (!strcmp(a, "--shape")) {
      int b, t;
      char extra;
      if (sscanf(v, "%d,%d%c", &b, &t, &extra) != 2) return cli_fail("--shape expects B,T (e.g. 1,512), got '%s'", v);
      size_t n = strlen(o->shapes);
      snprintf(o->shapes + n, sizeof o->shapes - n, "%s[%d,%d]", n ? "," : "", b, t);
    } else if (!strcmp(a, "--shard")) { if (parse_shard(v, o)) return 1; }
    else if (!strcmp(a, "--exhaustive")) {
      char *end;
      long e = strtol(v, &end, 10);
      if (*end || e < 1 || e > MAX_KERNELS)
        return cli_fail("--exhaustive expects a kernel count in 1..%d, got '%s'", MAX_KERNELS, v);
      o->exhaustive = (int)e;
    } else if (!strcmp(a, "--compare")) {
      if (o->ncompare == TUNE_MAX_COMPARE) return cli_fail("at most %d --compare files", TUNE_MAX_COMPARE);
      o->compare[o->ncompare++] = v;
    }
    else if (!strcmp(a, "-D")) { if (o->ndefs < 250) o->defs[o->ndefs++] = v; }
    else if (!strncmp(a, "-D", 2) && a[2]) { if (o->ndefs < 250) o->defs[o->ndefs++] = a + 2; }
    else if (!strcmp(a, "--no-e2e")) o->no_e2e = 1;
    else if (!strcmp(a, "--check")) o->check = v;
    else if (!strcmp(a, "-q")) cli_quiet = 1;
    else if (!strcmp(a, "-v")) cli_quiet = 0;
    else if (a[0] == '-' && a[1]) return cli_fail("tune: unknown option '%s' (see modc tune --help)", a);
    else if (!o->spec) o->spec = a;
    else return cli_fail("tune: more than one spec given ('%s' and '%s')", o->spec, a);
  }
  if (!o->spec) return cli_fail("tune: no spec given (see modc tune --help)");
  if (o->check && (o->exhaustive || o->ncompare || o->no_e2e || o->shard_n > 1))
    return cli_fail("tune: --check takes none of --exhaustive, --compare, --no-e2e and --shard");
  if (!o->out && (o->exhaustive || !o->ncompare)) return cli_fail("tune: no output file given (-o RECORDS.json)");
  static char defs[2][1200];
  if (o->shapes[0]) snprintf(defs[0], sizeof defs[0], "compile.shapes=[%s]", o->shapes), o->defs[o->ndefs++] = defs[0];
  if (o->cpu) snprintf(defs[1], sizeof defs[1], "compile.cpu=%s", o->cpu), o->defs[o->ndefs++] = defs[1];
  return 0;
}

static int model_graphs(Tuner *u) {
  char err[ERRLEN];
  const Spec *s = &u->spec;
  PassOptions po = {0, NULL, 1, NULL, 0, &u->desc, NULL};
  for (int i = 0; i < s->n_shapes; i++) {
    int dup = 0;
    for (int j = 0; j < i; j++) dup |= s->shapes[j][1] == s->shapes[i][1];
    if (!dup) u->graphs[u->ngraphs++] = build_forward(s, &u->layout, s->shapes[i][1]);
  }
  u->nfwd = u->ngraphs;
  u->graphs[u->ngraphs++] = build_session(s, &u->layout);
  for (int i = 0; i < u->ngraphs; i++)
    if (passes_run(&u->graphs[i], &po, err, sizeof err)) return cli_fail("%s", err);
  double sum = 0;
  int n = 0;
  for (int l = 0; l < s->n_layers; l++)
    if (s->routed[l]) sum += s->capacity[l], n++;
  u->mean_capacity = n ? sum / n : 1;
  return 0;
}

/* the kernel of key, or NULL */
static TKern *find_kern(Tuner *u, const char *key) {
  for (int i = 0; i < u->nk; i++)
    if (!strcmp(u->k[i].key, key)) return &u->k[i];
  return NULL;
}

static TKern *kern_of(Tuner *u, const char *key, const Sched *def) {
  TKern *found = find_kern(u, key);
  if (found) return found;
  if (u->nk == MAX_KERNELS) return NULL;
  TKern *k = &u->k[u->nk++];
  memset(k, 0, sizeof *k);
  snprintf(k->key, sizeof k->key, "%s", key);
  k->def = k->best = *def;
  return k;
}

/* a session node's rows are symbol 0 (the call's tokens) or a routed block's count */
static int routed_rows(const Node *n) { return n->ty.rank && DIM_IS_SYM(n->ty.dim[0]) && DIM_SYMNO(n->ty.dim[0]) != 0; }

static int add_call(Tuner *u, TKern *k, const Graph *g, int i, int cls) {
  int decode = cls == u->nfwd;
  double count = decode && routed_rows(&g->n[i]) ? u->mean_capacity : 1;
  for (int c = 0; c < k->nctx; c++)
    if (k->ctx[c].cls == cls) return k->ctx[c].count += count, 0;
  char err[ERRLEN];
  TCtx *c = &k->ctx[k->nctx];
  int64_t kv = u->spec.max_seq_len - 1 < DECODE_KV ? u->spec.max_seq_len - 1 : DECODE_KV;
  if (tcall_make(&c->call, g, i, decode, kv, u->desc.l3, err, sizeof err)) {
    tcall_free(&c->call);
    return cli_fail("internal error: %s: the tuner's graph of this kernel: %s", k->key, err);
  }
  c->cls = cls, c->count = count;
  k->paths |= decode ? TUNE_ONE : TUNE_MANY;
  k->nctx++;
  return 0;
}

static int cmp_key(const void *a, const void *b) { return strcmp(((const TKern *)a)->key, ((const TKern *)b)->key); }

/* Every matmul and attention kernel of the graphs with its calls; then this shard's. */
static int collect(Tuner *u) {
  char key[KKEY_MAX];
  u->k = calloc(MAX_KERNELS, sizeof *u->k);
  if (!u->k) return cli_fail("out of memory");
  for (int gi = 0; gi < u->ngraphs; gi++) {
    const Graph *g = u->graphs[gi];
    for (int i = 0; i < g->len; i++) {
      SchedKind sk = g->n[i].sched.kind;
      if ((sk != SK_MATMUL && sk != SK_ATTN) || kernel_key(g, i, key, sizeof key)) continue;
      TKern *k = kern_of(u, key, &g->n[i].sched);
      if (!k) return cli_fail("more than %d kernels", MAX_KERNELS);
      if (add_call(u, k, g, i, gi)) return 1;
    }
  }
  qsort(u->k, (size_t)u->nk, sizeof *u->k, cmp_key);
  int w = 0;
  for (int i = 0; i < u->nk; i++) {
    if (i % u->o.shard_n == u->o.shard_i - 1) {
      if (w != i) u->k[w] = u->k[i];
      w++;
    } else {
      for (int c = 0; c < u->k[i].nctx; c++) tcall_free(&u->k[i].ctx[c].call);
    }
  }
  u->nk = w;
  return 0;
}

/* ---- output ---- */

int tune_write_records(Tuner *u, const char *path) {
  Tuning t = {0};
  char err[ERRLEN];
  snprintf(t.cpu, sizeof t.cpu, "%s", u->target.cpu);
  snprintf(t.features, sizeof t.features, "%s", u->target.features);
  t.threads = u->run.threads;
  int n = u->nk_out >= 0 ? u->nk_out : u->nk;
  for (int i = 0; i < n; i++)
    if (tuning_add(&t, u->k[i].key, &u->k[i].best, u->k[i].best_ms, u->k[i].def_ms)) return cli_fail("out of memory");
  tuning_sort(&t);
  int rc = records_write(path, &t, err, sizeof err) ? cli_fail("%s", err) : 0;
  tuning_free(&t);
  return rc;
}

static void summary(Tuner *u) {
  double def = 0, best = 0;
  int searched = 0, improved = 0, rejected = 0;
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    def += k->def_cost, best += k->best_cost;
    searched += k->searched, improved += k->wins > 0, rejected += k->rejected;
  }
  fprintf(stderr, "modc tune: %d kernels (%d searched, %d improved, %d wrong candidates rejected, %d gains not "
          "confirmed) in %d rounds, %.1f s; their time %.3f of the heuristic's records' (forward and decode weighed "
          "alike)%s\n", u->nk, searched, improved - u->reverted, rejected, u->reverted, u->rounds, cli_elapsed(),
          def > 0 ? best / def : 1, u->e2e_reverted ? "; the end-to-end check put every record back" : "");
}

/* ---- the command ---- */

/* An interrupted tune leaves no work folder: the signal's default action after the clean-up
 * (build_part's children reset these handlers before they compile). */
static char interrupted_dir[1200];
static void on_signal(int sig) {
  tune_kill_builds();
  tune_e2e_kill();
  cli_stop_child_in_handler(cg_link_running()); /* a link in this process (sanitizer builds) */
  cli_reap_all_in_handler();
  if (interrupted_dir[0]) cli_rmdir_in_handler(interrupted_dir);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void catch_signals(const char *dir) {
  snprintf(interrupted_dir, sizeof interrupted_dir, "%s", dir);
  cli_catch_children();
  signal(SIGINT, on_signal), signal(SIGTERM, on_signal), signal(SIGHUP, on_signal);
}

/* --compare's records, which must be of this target */
static int load_compare(Tuner *u) {
  char err[ERRLEN];
  if (!u->o.ncompare) return 0;
  if (u->o.exhaustive && u->o.ncompare > 1) return cli_fail("--exhaustive takes one --compare file");
  u->compare = calloc((size_t)u->o.ncompare, sizeof *u->compare);
  if (!u->compare) return cli_fail("out of memory");
  for (int i = 0; i < u->o.ncompare; i++)
    if (records_read(u->o.compare[i], &u->compare[i], err, sizeof err) ||
        records_check_target(&u->compare[i], u->o.compare[i], u->target.cpu, u->target.features, err, sizeof err))
      return cli_fail("%s", err);
  return 0;
}

/* --check's records become the bests (every kernel the file does not name keeps the
 * heuristic's; a key the spec does not have is ignored with a warning, as compile does) */
static int load_check(Tuner *u) {
  char err[ERRLEN];
  Tuning t = {0};
  if (records_read(u->o.check, &t, err, sizeof err) ||
      records_check_target(&t, u->o.check, u->target.cpu, u->target.features, err, sizeof err))
    return tuning_free(&t), cli_fail("%s", err);
  int used = 0;
  for (int j = 0; j < t.n; j++) {
    TKern *k = find_kern(u, t.r[j].key);
    if (!k) {
      fprintf(stderr, "modc: warning: %s: kernel '%s' is not in this spec; its record is ignored\n", u->o.check, t.r[j].key);
      continue;
    }
    if (t.r[j].sched.kind != k->def.kind || !tjob_valid(&k->ctx[0].call, &t.r[j].sched)) {
      tuning_free(&t);
      return cli_fail("%s: the record of '%s' does not fit its kernel", u->o.check, k->key);
    }
    k->best = t.r[j].sched, used++;
  }
  tuning_free(&t);
  cli_progress("--check: %d records of %s for the spec's %d kernels", used, u->o.check, u->nk);
  return 0;
}

/* the folder of -o must take a file: found out now, not after the budget is spent */
static int check_out_dir(const char *out) {
  char dir[1200];
  const char *slash = strrchr(out, '/');
  if (!strcmp(out, "-")) return 0;
  if (!slash) snprintf(dir, sizeof dir, ".");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - out + (slash == out)), out);
  if (access(dir, W_OK)) return cli_fail("cannot write '%s': %s", out, strerror(errno));
  return 0;
}

static int tuner_setup(Tuner *u) {
  char err[ERRLEN];
  u->nk_out = -1;
  if (u->o.out && check_out_dir(u->o.out)) return 1;
  if (spec_load(u->o.spec, u->o.defs, u->o.ndefs, &u->spec, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  if (cg_target_resolve(u->spec.target, u->spec.cpu, 2, &u->target, err, sizeof err)) return cli_fail("%s", err);
  if (!cg_target_is_host(&u->target))
    return cli_fail("tune: kernels must run here to be timed; target '%s' is not this machine's", u->target.triple);
  if (load_compare(u)) return 1;
  int threads = u->o.threads ? u->o.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
  cg_target_describe(&u->target, threads, &u->desc);
  char line[512];
  target_format(&u->desc, line, sizeof line);
  cli_progress("target: %s; %d threads", line, threads);
  wlayout_build(&u->spec, &u->desc, &u->layout);
  if (model_graphs(u) || collect(u)) return 1;
  if (trunner_init(&u->run, threads)) return cli_fail("cannot start %d threads", threads);
  const char *tmp = getenv("TMPDIR");
  snprintf(u->dir, sizeof u->dir, "%s/modc-tune-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(u->dir))
    return cli_fail("cannot create a work folder under %s: %s", tmp && *tmp ? tmp : "/tmp", strerror(errno));
  catch_signals(u->dir);
  return 0;
}

static void tuner_free(Tuner *u) {
  for (int i = 0; u->k && i < u->nk; i++)
    for (int c = 0; c < u->k[i].nctx; c++) tcall_free(&u->k[i].ctx[c].call);
  free(u->k);
  for (int i = 0; i < u->ngraphs; i++) graph_free(u->graphs[i]);
  wlayout_free(&u->layout);
  trunner_free(&u->run);
  for (int i = 0; u->compare && i < u->o.ncompare; i++) tuning_free(&u->compare[i]);
  free(u->compare);
  if (u->dir[0] && cli_rmdir(u->dir)) /* the work folder and what a failed build left in it */
    fprintf(stderr, "modc: warning: cannot remove the work folder %s: %s\n", u->dir, strerror(errno));
  interrupted_dir[0] = 0;
}

int tune_main(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--merge")) return records_merge_main(argc, argv);
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--routing")) return tune_routing_main(argc, argv);
  Tuner *u = calloc(1, sizeof *u);
  if (!u) return cli_fail("out of memory");
  int rc = parse_opts(argc, argv, &u->o) || tuner_setup(u) || tune_round0(u);
  int search = !u->o.exhaustive && !u->o.ncompare && !u->o.check;
  u->reserve = (u->o.no_e2e ? 0.12 : 0.27) * u->o.budget;   /* validation; the end-to-end check */
  if (!rc && u->o.exhaustive) rc = tune_sweep(u, u->o.exhaustive);
  if (!rc && !u->o.exhaustive && u->o.ncompare) rc = tune_compare(u);
  while (!rc && search) {
    int n = tune_search_round(u);
    if (n < 0) rc = 1;
    if (n <= 0) break;
  }
  if (!rc && u->o.check) rc = load_check(u) || tune_validate(u, 0);
  if (!rc && search) rc = tune_validate(u, 1);
  if (!rc && (search || u->o.check) && !u->o.no_e2e) rc = tune_e2e(u);
  if (!rc && u->o.out) rc = tune_write_records(u, u->o.out);
  if (!rc && (search || u->o.check)) summary(u);
  tuner_free(u);
  free(u);
  return rc;
}
