/* tune_e2e.c: the last check of `modc tune`, end to end (tune.c says where it runs).
 *
 * Kernels are searched alone, each on its own data; a decode step streams every weight of
 * the model one GEMV after another, and there a record that timed within 2% alone can lose
 * (measured: a down projection's two decode accumulator groups made a dense12 decode step
 * 13-16% slower).  So when some record changed, the spec is compiled
 * twice, with the heuristic's records (A) and with the tuned ones (B), on its weights (or
 * random weights when the file is absent), and `modc bench A --vs B` times a prefill and
 * decode steps of both in one process, alternating call by call.  If a kind lost (E2E_WORSE
 * says when), the fields of the paths that kind runs are put back to the heuristic's in every
 * record (decode: the one-row groups; prefill: the many-row groups; tune_space.h) and the
 * check runs again; if it still loses, or the budget has no room for the second check, every
 * record goes back to the heuristic's, so the records file never makes a library slower
 * than the untuned one by what this check can see.  The forward of the compiled shapes is
 * not timed here: its calls are the many-row kernels timed at their real size, and it costs
 * seconds per call on the benchmark model.
 *
 * MODC_TUNE_E2E_RATIO is a test hook, "P,D" or "P,D;P,D" (the first check's, then the
 * second's): the measured prefill and decode ratios read P and D (the libraries are still
 * compiled and timed), so a test can see a loss handled.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "frontend/safetensors.h"
#include "tools/cli.h"
#include "tools/timing.h"
#include "tools/tune_int.h"

/* A kind of call lost when B/A, the median of the rounds, is above E2E_WORSE and B was the
 * slower in at least 3/4 of the rounds.  1.04 is the A/B's resolution (a library timed
 * against a byte-identical copy of itself read 1.033 [1.013 - 1.041]: where the weights
 * file's pages lie is worth ~3%); the rounds' agreement keeps a noisy prefill (rounds of one
 * A/B spread over 0.6-2.1 on a busy VM) from taking back gains the kernels' timing found. */
#define E2E_WORSE 1.04
#define E2E_ROUNDS 7
#define ERRLEN 2048

/* the children running (a compile or the bench), for tune_e2e_kill */
static volatile pid_t running[2];

void tune_e2e_kill(void) {
  for (int i = 0; i < 2; i++)
    if (running[i] > 0) cli_stop_child_in_handler(running[i]), running[i] = 0;
}

/* Everything lies flat in the tuner's work folder (removed at the end or on a signal): A and
 * B are the spec under two names, e2e_a and e2e_b, so their weights files do not collide. */
typedef struct E2e {
  Tuner *u;
  char self[PATH_MAX], yaml[2][1500], rec[1500], lib[2][1500];
  double ratio[2];         /* B/A: prefill, decode */
  int lost[2];              /* that kind lost (E2E_WORSE) */
  double took;             /* seconds the last check took */
  int checks;               /* checks made */
} E2e;

enum { E2E_PREFILL, E2E_DECODE };

/* a child in slot (tune_e2e_kill finds it there) */
static int spawn(E2e *e, char **argv, const char *outf, int slot, pid_t *pid) {
  if (cli_spawn(e->self, argv, outf, pid)) return 1;
  running[slot] = *pid;
  return 0;
}

static int reap(pid_t pid, int slot, const char *what, const char *outf) {
  int rc = cli_reap(pid, what, outf);
  running[slot] = 0;
  return rc;
}

/* the libraries: A (which = 0, heuristic) and/or B (which = 1, tuned), compiled at once */
static int compile_libs(E2e *e, int which_from, int which_to) {
  pid_t pid[2] = {0, 0};
  char outf[2][1600];
  int rc = 0;
  for (int w = which_from; w <= which_to && !rc; w++) {
    char *argv[] = {"modc", "compile", e->yaml[w], "-o", e->lib[w], "-q", w ? "--tuning" : NULL, e->rec, NULL};
    snprintf(outf[w], sizeof outf[w], "%s/e2e_compile%d.out", e->u->dir, w);
    rc = spawn(e, argv, outf[w], w, &pid[w]);
  }
  for (int w = which_from; w <= which_to; w++)
    if (pid[w] > 0 && reap(pid[w], w, w ? "tune: end-to-end check: compiling with the tuned records"
                                        : "tune: end-to-end check: compiling", outf[w])) rc = 1;
  return rc;
}

static double kv_number(const char *path, const char *key) {
  FILE *f = fopen(path, "r");
  char line[512];
  size_t n = strlen(key);
  double v = NAN;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, n) && line[n] == '=') v = strtod(line + n + 1, NULL);
  if (f) fclose(f);
  return v;
}

/* modc bench A --vs B: the ratios of prefill and decode */
static int measure(E2e *e) {
  char kvf[1600], outf[1600], threads[16], rounds[16];
  snprintf(kvf, sizeof kvf, "%s/e2e_ab.kv", e->u->dir);
  snprintf(outf, sizeof outf, "%s/e2e_ab.out", e->u->dir);
  snprintf(threads, sizeof threads, "%d", e->u->run.threads);
  snprintf(rounds, sizeof rounds, "%d", E2E_ROUNDS);
  char *argv[] = {"modc", "bench", e->lib[0], "--vs", e->lib[1], "--no-forward", "--threads", threads,
                  "--repeats", rounds, "--kv", kvf, "-q", "--peak-gflops", "1", "--dram-gbs", "1", NULL};
  pid_t pid;
  if (spawn(e, argv, outf, 0, &pid) || reap(pid, 0, "tune: end-to-end check: modc bench --vs", outf)) return 1;
  static const char *const kind[2] = {"prefill", "decode"};
  double slower[2];
  for (int i = 0; i < 2; i++) {
    char key[64];
    snprintf(key, sizeof key, "ab.%s.ratio", kind[i]), e->ratio[i] = kv_number(kvf, key);
    snprintf(key, sizeof key, "ab.%s.rounds_b_slower", kind[i]), slower[i] = kv_number(kvf, key);
  }
  const char *hook = getenv("MODC_TUNE_E2E_RATIO");
  if (hook && *hook) {
    const char *semi = strchr(hook, ';');
    if (e->checks > 0 && semi) hook = semi + 1;
    char *end;
    e->ratio[E2E_PREFILL] = strtod(hook, &end);
    e->ratio[E2E_DECODE] = *end == ',' ? strtod(end + 1, NULL) : e->ratio[E2E_PREFILL];
    slower[0] = slower[1] = E2E_ROUNDS;
  }
  e->checks++;
  if (!isfinite(e->ratio[0]) || !isfinite(e->ratio[1]) || !isfinite(slower[0]) || !isfinite(slower[1]))
    return cli_fail("tune: end-to-end check: modc bench --vs gave no prefill and decode ratios (%s)", kvf);
  for (int i = 0; i < 2; i++) e->lost[i] = e->ratio[i] > E2E_WORSE && 4 * slower[i] >= 3 * E2E_ROUNDS;
  return 0;
}

/* the spec as tuned (its -D overrides and --cpu applied), as e2e_a and e2e_b, on its weights
 * when the file can be read, else on random weights */
static int write_specs(E2e *e) {
  Spec s = e->u->spec;
  const char *dir = e->u->dir;
  char abs[PATH_MAX], err[ERRLEN];
  if (!realpath(s.weights_path, abs) || access(abs, R_OK)) {
    snprintf(abs, sizeof abs, "%s/e2e_random.safetensors", dir);
    cli_progress("end-to-end check: %s cannot be read; random weights", s.weights_path);
    if (st_write_random(&s, abs, DT_F32, 1, NULL, NULL, err, sizeof err)) return cli_fail("%s", err);
  }
  for (int w = 0; w < 2; w++) {
    snprintf(s.name, sizeof s.name, "e2e_%c", "ab"[w]);
    snprintf(e->yaml[w], sizeof e->yaml[w], "%s/%s.yaml", dir, s.name);
    snprintf(e->lib[w], sizeof e->lib[w], "%s/lib%s.so", dir, s.name);
    FILE *f = fopen(e->yaml[w], "w");
    int rc = !f || spec_write(&s, abs, "the spec of modc tune's end-to-end check", f);
    if (f && fclose(f)) rc = 1;
    if (rc) return cli_fail("cannot write '%s'", e->yaml[w]);
  }
  return 0;
}

/* compile B (and A the first time) with the records as they stand, then time them */
static int check(E2e *e, int first) {
  double t0 = timing_now();
  if (tune_write_records(e->u, e->rec) || compile_libs(e, first ? 0 : 1, 1) || measure(e)) return 1;
  e->took = timing_now() - t0;
  cli_progress("end-to-end: tuned/untuned prefill %.3f, decode step %.3f (median of %d rounds, %.1f s)",
               e->ratio[E2E_PREFILL], e->ratio[E2E_DECODE], E2E_ROUNDS, e->took);
  return 0;
}

/* the calls of a path back at the heuristic's time in a kernel's ms */
static void revert_paths(Tuner *u, int paths) {
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    if (tune_same(&k->best, &k->def)) continue;
    tune_revert_paths(&k->best, &k->def, paths);
    double t[MAX_CTX];
    for (int c = 0; c < k->nctx; c++) {
      t[c] = tune_same(&k->best, &k->def) || (k->ctx[c].call.path & paths) ? k->ctx[c].t_vdef : k->ctx[c].t_vbest;
    }
    k->best_ms = tune_ms(k, t), k->best_cost = tune_cost(k, t);
  }
}

static void revert_all(Tuner *u) {
  for (int i = 0; i < u->nk; i++) {
    TKern *k = &u->k[i];
    if (!tune_same(&k->best, &k->def)) k->best = k->def, k->best_ms = k->def_ms, k->best_cost = k->def_cost;
  }
}

static int changed(const Tuner *u) {
  int n = 0;
  for (int i = 0; i < u->nk; i++) n += !tune_same(&u->k[i].best, &u->k[i].def);
  return n;
}

static int run_check(E2e *e) {
  Tuner *u = e->u;
  cli_progress("end-to-end check: %d changed records; the spec compiled with and without them", changed(u));
  if (write_specs(e) || check(e, 1)) return 1;
  int paths = (e->lost[E2E_PREFILL] ? TUNE_MANY : 0) | (e->lost[E2E_DECODE] ? TUNE_ONE : 0);
  if (!paths) return 0;
  revert_paths(u, paths);
  const char *what = paths == TUNE_ONE ? "one-row (decode)" : paths == TUNE_MANY ? "many-row" : "one- and many-row";
  if (!changed(u)) cli_progress("end-to-end: slower with the tuned records; their %s fields back to the heuristic's, "
                                "which leaves every record the heuristic's", what);
  else if (u->o.budget - cli_elapsed() < e->took)
    cli_progress("end-to-end: slower with the tuned records, and no time in the budget to check a part of them; "
                 "every record back to the heuristic's");
  else {
    cli_progress("end-to-end: slower with the tuned records; their %s fields back to the heuristic's", what);
    if (check(e, 0)) return 1;
    if (!e->lost[E2E_PREFILL] && !e->lost[E2E_DECODE]) return 0;
    cli_progress("end-to-end: still slower; every record back to the heuristic's");
  }
  revert_all(u);
  u->e2e_reverted = 1;
  return 0;
}

int tune_e2e(Tuner *u) {
  if (!changed(u)) return 0;
  E2e *e = calloc(1, sizeof *e);
  if (!e) return cli_fail("out of memory");
  e->u = u;
  int rc = cli_self_exe(e->self, sizeof e->self);
  snprintf(e->rec, sizeof e->rec, "%s/e2e_tuned.json", u->dir);
  if (!rc) rc = run_check(e);
  free(e);
  return rc;
}
