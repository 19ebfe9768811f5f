/* test_cross.c: libraries linked for AArch64 (issue 11), run under emulation, against the
 * double-precision interpreter.  For random specs (tests/e2e/randspec.c): compile with
 * --target aarch64-linux-gnu --cpu CPU, draw inputs whose routing has no near-tie (the
 * interpreter's margin >= MARGIN, else redrawn), run runner.c (cross-compiled) on the library
 * under `qemu-aarch64 -cpu QEMU_CPU`, and compare: every forward shape's logits and a
 * session's (prefill then decodes) within TOL relative, the session's routing decisions equal.
 *
 *   test_cross MODC RUNNER WORKDIR CPU QEMU_CPU N FIRST_SEED [--refused FEATURE]
 *
 * With --refused, each library must instead be refused by modc_open on QEMU_CPU (runner exit
 * 3) with a message naming FEATURE: the CPU check of runtime/cpu.c on that architecture.
 * QEMU is $MODC_QEMU (default "qemu-aarch64 -L /usr/aarch64-linux-gnu").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "frontend/graph.h"
#include "frontend/spec.h"
#include "ir/interp.h"
#include "passes/passes.h"
#include "randspec.h"
#include "e2e_util.h"
#include "runtime/exec.h"

#define TOL 1e-4
#define MARGIN 1e-3
#define TRIES 8
#define MAXJ 8

static int failures;
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
  fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; return -1; } } while (0)

typedef struct Job {
  int kind, a, b;           /* 0: forward B=a T=b; 1: session n=a n1=b */
  int32_t *tok;
  double *want;             /* forward [a*b][V]; session [a-b+1][V] */
  uint8_t *taken;           /* session: [n_layers][n] from the interpreter */
} Job;

typedef struct Case {
  Spec spec;
  WLayout layout;
  const uint8_t *blob;
  uint64_t rng;
  Job jobs[MAXJ];
  int njobs, redrawn;
} Case;

static Graph *typed(Graph *g) {
  char err[512];
  if (pass_infer_shapes(g, err, sizeof err)) fprintf(stderr, "infer-shapes: %s\n", err), exit(2);
  return g;
}

static void draw(Case *c, int32_t *t, int n) {
  for (int i = 0; i < n; i++) t[i] = rs_int(&c->rng, 0, c->spec.vocab_size - 1);
}

/* a forward job of shape (B, T) whose routing has no near-tie, with the interpreter's logits */
static int add_forward(Case *c, int B, int T) {
  const Spec *s = &c->spec;
  Job *j = &c->jobs[c->njobs++];
  Graph *g = typed(build_forward(s, &c->layout, T));
  int V = s->vocab_size;
  int32_t *pos = malloc(T * sizeof *pos);
  char err[512];
  *j = (Job){0, B, T, malloc(B * T * sizeof(int32_t)), malloc((size_t)B * T * V * sizeof(double)), NULL};
  for (int i = 0; i < T; i++) pos[i] = i;
  for (int tries = 0;; tries++) {
    double margin = INFINITY;
    draw(c, j->tok, B * T);
    for (int b = 0; b < B; b++) {
      InterpStats st;
      CHECK(!interp_run(g, c->blob, j->tok + b * T, pos, T, NULL, j->want + (size_t)b * T * V, &st, err, sizeof err),
            "interp: %s", err);
      margin = fmin(margin, st.min_margin);
    }
    if (margin >= MARGIN) break;
    c->redrawn++;
    CHECK(tries + 1 < TRIES, "%s: no input without a near-tie in %d tries", s->name, TRIES);
  }
  free(pos);
  graph_free(g);
  return 0;
}

/* a session job: prefill n1 then decode to n, logits and routing from the interpreter */
static int add_session(Case *c, int n, int n1) {
  const Spec *s = &c->spec;
  Job *j = &c->jobs[c->njobs++];
  Graph *g = typed(build_session(s, &c->layout));
  int V = s->vocab_size, L = s->n_layers;
  int32_t *pos = malloc(n * sizeof *pos);
  double *all = malloc((size_t)n * V * sizeof(double));
  char err[512];
  *j = (Job){1, n, n1, malloc(n * sizeof(int32_t)), malloc((size_t)(n - n1 + 1) * V * sizeof(double)),
             calloc((size_t)L * n, 1)};
  for (int i = 0; i < n; i++) pos[i] = i;
  InterpSession *is = NULL;
  for (int tries = 0;; tries++) {
    double margin = INFINITY;
    draw(c, j->tok, n);
    interp_session_free(is);
    is = interp_session_new(L, s->max_seq_len, s->n_kv_heads * spec_head_dim(s));
    for (int at = 0, step = n1; at < n; at += step, step = 1) {
      InterpStats st;
      CHECK(!interp_run(g, c->blob, j->tok + at, pos + at, step, is, all + (size_t)(at + step - 1) * V, &st, err,
                        sizeof err), "interp session: %s", err);
      margin = fmin(margin, st.min_margin);
    }
    if (margin >= MARGIN) break;
    c->redrawn++;
    CHECK(tries + 1 < TRIES, "%s: no session input without a near-tie", s->name);
  }
  memcpy(j->want, all + (size_t)(n1 - 1) * V, (size_t)(n - n1 + 1) * V * sizeof(double));
  for (int l = 0; l < L; l++)
    if (s->routed[l]) memcpy(j->taken + (size_t)l * n, interp_routing(is, l), n);
  interp_session_free(is);
  free(pos), free(all);
  graph_free(g);
  return 0;
}

static int write_jobs(const Case *c, const char *path, int threads) {
  FILE *f = fopen(path, "wb");
  CHECK(f, "cannot write %s", path);
  int32_t head[2] = {threads, c->njobs};
  fwrite(head, sizeof *head, 2, f);
  for (int i = 0; i < c->njobs; i++) {
    const Job *j = &c->jobs[i];
    int32_t h[3] = {j->kind, j->a, j->b};
    fwrite(h, sizeof *h, 3, f);
    fwrite(j->tok, sizeof(int32_t), j->kind == 0 ? (size_t)j->a * j->b : (size_t)j->a, f);
  }
  CHECK(!fclose(f), "cannot write %s", path);
  return 0;
}

/* the runner's output against each job's reference */
static int compare(const Case *c, const char *out) {
  const Spec *s = &c->spec;
  size_t V = s->vocab_size, L = s->n_layers;
  FILE *f = fopen(out, "rb");
  CHECK(f, "no runner output %s", out);
  int rc = 0;
  for (int i = 0; i < c->njobs && !rc; i++) {
    const Job *j = &c->jobs[i];
    size_t rows = j->kind == 0 ? (size_t)j->a * j->b : (size_t)(j->a - j->b + 1);
    float *got = malloc(rows * V * sizeof *got);
    uint8_t *taken = malloc(L * j->a);
    if (fread(got, sizeof *got, rows * V, f) != rows * V ||
        (j->kind == 1 && fread(taken, 1, L * j->a, f) != L * j->a)) {
      fprintf(stderr, "FAIL %s: short runner output at job %d\n", s->name, i);
      failures++, rc = -1;
    } else if (e2e_rel_err(got, j->want, rows * V) >= TOL) {
      fprintf(stderr, "FAIL %s: %s (%d,%d): relative error %.3g\n", s->name, j->kind ? "session" : "forward", j->a,
              j->b, e2e_rel_err(got, j->want, rows * V));
      failures++, rc = -1;
    }
    for (size_t l = 0; !rc && j->kind == 1 && l < L; l++)
      if (s->routed[l] && memcmp(taken + l * j->a, j->taken + l * j->a, j->a)) {
        fprintf(stderr, "FAIL %s: session routing of layer %zu differs from the interpreter's\n", s->name, l);
        failures++, rc = -1;
      }
    free(got), free(taken);
  }
  fclose(f);
  return rc;
}

static void free_case(Case *c) {
  for (int i = 0; i < c->njobs; i++) free(c->jobs[i].tok), free(c->jobs[i].want), free(c->jobs[i].taken);
  wlayout_free(&c->layout);
}

static int run_case(char **argv, uint64_t seed, const char *refused, int *redrawn) {
  const char *modc = argv[1], *runner = argv[2], *dir = argv[3], *cpu = argv[4], *qcpu = argv[5];
  const char *qemu = getenv("MODC_QEMU") ? getenv("MODC_QEMU") : "qemu-aarch64 -L /usr/aarch64-linux-gnu";
  RandSpec r;
  char yaml[1024], lib[1100], cmd[8192], err[1024], dt[128], dc[128], jobs[1100], out[1100], msg[1100];
  randspec_draw(seed, &r);
  CHECK(!randspec_write(&r, dir, seed, yaml, sizeof yaml), "seed %llu: cannot write spec", (unsigned long long)seed);
  snprintf(dt, sizeof dt, "compile.target=aarch64-linux-gnu");
  snprintf(dc, sizeof dc, "compile.cpu=%s", cpu);
  snprintf(lib, sizeof lib, "%s/lib%s.so", dir, r.name);
  snprintf(cmd, sizeof cmd, "'%s' compile '%s' -D %s -D %s -o '%s' -q", modc, yaml, dt, dc, lib);
  CHECK(system(cmd) == 0, "compile failed: %s", cmd);
  Case c = {0};
  const char *defs[2] = {dt, dc};
  c.rng = seed * 31 + 7;
  CHECK(!spec_load(yaml, defs, 2, &c.spec, err, sizeof err), "%s", err);
  CHECK(!e2e_layout(&c.spec, &c.layout, err, sizeof err), "%s", err);
  snprintf(cmd, sizeof cmd, "%s/%s.weights", dir, r.name);
  CHECK((c.blob = e2e_map_blob(cmd)), "cannot map %s", cmd);
  int rc = 0;
  for (int i = 0; i < c.spec.n_shapes && !rc; i++) rc = add_forward(&c, c.spec.shapes[i][0], c.spec.shapes[i][1]);
  int n = rs_int(&c.rng, 1, c.spec.max_seq_len < 24 ? c.spec.max_seq_len : 24);
  if (!rc) rc = add_session(&c, n, rs_int(&c.rng, 1, n));
  snprintf(jobs, sizeof jobs, "%s/%s.jobs", dir, r.name);
  snprintf(out, sizeof out, "%s/%s.out", dir, r.name);
  snprintf(msg, sizeof msg, "%s/%s.err", dir, r.name);
  if (!rc) rc = write_jobs(&c, jobs, 2);
  if (!rc) {
    snprintf(cmd, sizeof cmd, "%s -cpu %s '%s' '%s' '%s' '%s' 2> '%s'", qemu, qcpu, runner, lib, jobs, out, msg);
    int st = system(cmd), code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    FILE *f = fopen(msg, "r");
    char text[1024] = "";
    if (f) text[fread(text, 1, sizeof text - 1, f)] = 0, fclose(f);
    if (refused) {
      if (code != 3 || !strstr(text, refused)) {
        fprintf(stderr, "FAIL %s: expected modc_open to refuse it on %s naming %s; exit %d: %s\n", r.name, qcpu,
                refused, code, text);
        failures++, rc = -1;
      }
    } else if (code != 0) {
      fprintf(stderr, "FAIL %s: runner exit %d: %s\n", r.name, code, text);
      failures++, rc = -1;
    } else {
      rc = compare(&c, out);
    }
  }
  *redrawn += c.redrawn;
  printf("%s %s: %d layers d=%d heads=%d/%d ff=%d vocab=%d routing=%s w=%s, %s on qemu -cpu %s%s\n",
         rc ? "FAIL" : "ok  ", r.name, r.layers, r.d, r.heads, r.kv_heads, r.d_ff, r.vocab, r.layers_yaml, r.wdtype,
         cpu, qcpu, refused ? " (refused)" : "");
  free_case(&c);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 8 && !(argc == 10 && !strcmp(argv[8], "--refused"))) {
    fprintf(stderr, "usage: test_cross MODC RUNNER WORKDIR CPU QEMU_CPU N FIRST_SEED [--refused FEATURE]\n");
    return 2;
  }
  mkdir(argv[3], 0777);
  int n = atoi(argv[6]), first = atoi(argv[7]), bad = 0, redrawn = 0;
  for (int i = 0; i < n; i++) bad += run_case(argv, first + i, argc == 10 ? argv[9] : NULL, &redrawn) != 0;
  printf("%d passed, %d failed (%d inputs redrawn for near-tie routing margins)\n", n - bad, bad, redrawn);
  return bad || failures ? 1 : 0;
}
