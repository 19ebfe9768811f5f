/* test_e2e.c: end-to-end property test.  For many random specs: write the spec and random
 * weights, compile with the real `modc compile`, load the library through the ABI, and
 * compare with the reference interpreter run on the unlowered graph:
 *   - modc_forward logits for every compiled shape (top-k routing; under routing.forward:
 *     threshold also each row against the session graph fed token by token);
 *   - sessions (causal routing): a prefill then decode steps, logits at every step, and the
 *     routing traces from modc_routing;
 *   - a prefill of n tokens against n single-token decodes of the same tokens;
 *   - `modc eval` in forward and session mode against the interpreter's NLL (e2e_eval.c).
 * Routing is discrete: an input whose routing margin in the reference (the gap at the k-th
 * score, or |p| for causal routing) is below MARGIN may legitimately route differently in
 * float32; such inputs are redrawn (and counted), never compared with a looser tolerance.
 *
 * With $MODC_E2E_TUNE (seconds), each spec is first tuned (`modc tune` with that budget) and
 * compiled with its records (`--tuning`): a tuned library must pass the same comparisons.
 *
 * usage: test_e2e MODC_BINARY WORKDIR N_SPECS [FIRST_SEED]
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "codegen/codegen.h"
#include "frontend/graph.h"
#include "frontend/spec.h"
#include "ir/interp.h"
#include "passes/passes.h"
#include "randspec.h"
#include "e2e.h"
#include "e2e_util.h"
#include "runtime/exec.h"
#include "runtime/modc.h"

int failures;

static int load_lib(const char *path, Lib *l) {
  l->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(l->h, "dlopen %s: %s", path, dlerror());
#define SYM(f, n) CHECK((*(void **)&l->f = dlsym(l->h, n)), "missing %s", n)
  SYM(open, "modc_open"); SYM(close, "modc_close"); SYM(last_error, "modc_last_error");
  SYM(forward, "modc_forward"); SYM(session_open, "modc_session_open"); SYM(prefill, "modc_prefill");
  SYM(decode, "modc_decode"); SYM(session_close, "modc_session_close"); SYM(routing, "modc_routing");
#undef SYM
  return 0;
}

Graph *e2e_typed(Graph *g) {
  char err[512];
  if (pass_infer_shapes(g, err, sizeof err)) {
    fprintf(stderr, "infer-shapes: %s\n", err);
    exit(2);
  }
  return g;
}

void e2e_draw_tokens(Case *c, int32_t *t, int n) {
  for (int i = 0; i < n; i++) t[i] = rs_int(&c->rng, 0, c->spec.vocab_size - 1);
}

/* routing.forward: threshold: row t of a sequence's forward logits equals a session's logits
 * after the sequence's first t+1 tokens (the interpreter's session graph, fed token by token),
 * which does not depend on how the forward graph was built */
static int check_forward_as_session(Case *c, int T, const int32_t *tok, const float *got) {
  const Spec *s = &c->spec;
  Graph *g = e2e_typed(build_session(s, &c->layout));
  int64_t V = s->vocab_size;
  double *want = malloc(V * sizeof(double));
  char err[512];
  InterpSession *is = interp_session_new(s->n_layers, s->max_seq_len, s->n_kv_heads * spec_head_dim(s));
  for (int t = 0; t < T; t++) {
    int32_t pos = t;
    InterpStats st;
    CHECK(!interp_run(g, c->blob, tok + t, &pos, 1, is, want, &st, err, sizeof err), "interp session: %s", err);
    double e = e2e_rel_err(got + (size_t)t * V, want, V);
    CHECK(e < TOL, "%s: forward by threshold, row %d of %d against the session: relative error %.3g", s->name, t, T, e);
  }
  interp_session_free(is);
  free(want);
  graph_free(g);
  return 0;
}

/* one shape of modc_forward against the interpreter, sequence by sequence */
static int check_forward(Case *c, int B, int T) {
  const Spec *s = &c->spec;
  Graph *g = e2e_typed(build_forward(s, &c->layout, T));
  int64_t V = s->vocab_size;
  int32_t *tok = malloc(B * T * sizeof(int32_t)), *pos = malloc(T * sizeof(int32_t));
  float *got = malloc(B * T * V * sizeof(float));
  double *want = malloc(B * T * V * sizeof(double));
  char err[512];
  int rc = 0, tries = 0;
  for (int i = 0; i < T; i++) pos[i] = i;
  for (;;) {
    e2e_draw_tokens(c, tok, B * T);
    double margin = INFINITY;
    for (int b = 0; b < B; b++) {
      InterpStats st;
      CHECK(!interp_run(g, c->blob, tok + b * T, pos, T, NULL, want + b * T * V, &st, err, sizeof err), "interp: %s", err);
      margin = fmin(margin, st.min_margin);
    }
    if (margin >= MARGIN) break;
    c->skipped++;
    CHECK(++tries < TRIES, "%s: no input without a near-tie in %d tries", s->name, TRIES);
  }
  CHECK(!c->lib.forward(c->m, B, T, tok, got), "modc_forward(%d,%d): %s", B, T, c->lib.last_error());
  double e = e2e_rel_err(got, want, B * T * V);
  CHECK(e < TOL, "%s: forward (%d,%d) relative error %.3g", s->name, B, T, e);
  if (s->forward == FWD_THRESHOLD) rc = check_forward_as_session(c, T, tok, got);
  c->compared++;
  free(tok), free(pos), free(got), free(want);
  graph_free(g);
  return rc;
}

/* sessions: prefill n1 then decode the rest, step by step against the interpreter */
static int check_session(Case *c, int n, int n1) {
  const Spec *s = &c->spec;
  Graph *g = e2e_typed(build_session(s, &c->layout));
  int64_t V = s->vocab_size;
  int kvd = s->n_kv_heads * spec_head_dim(s);
  int32_t *tok = malloc(n * sizeof(int32_t)), *pos = malloc(n * sizeof(int32_t));
  double *want = malloc(n * V * sizeof(double));
  float *got = malloc(n * V * sizeof(float));
  char err[512];
  InterpSession *is = NULL;
  for (int i = 0; i < n; i++) pos[i] = i;
  for (int tries = 0;; tries++) {
    e2e_draw_tokens(c, tok, n);
    interp_session_free(is);
    is = interp_session_new(s->n_layers, s->max_seq_len, kvd);
    double margin = INFINITY;
    for (int at = 0, step = n1; at < n; at += step, step = 1) {
      InterpStats st;
      CHECK(!interp_run(g, c->blob, tok + at, pos + at, step, is, want + (at + step - 1) * V, &st, err, sizeof err),
            "interp session: %s", err);
      margin = fmin(margin, st.min_margin);
    }
    if (margin >= MARGIN) break;
    c->skipped++;
    CHECK(tries + 1 < TRIES, "%s: no session input without a near-tie", s->name);
  }
  modc_session *ss;
  CHECK(!c->lib.session_open(c->m, &ss), "session_open: %s", c->lib.last_error());
  CHECK(!c->lib.prefill(ss, tok, n1, got + (n1 - 1) * V), "prefill: %s", c->lib.last_error());
  for (int t = n1; t < n; t++) CHECK(!c->lib.decode(ss, tok[t], got + t * V), "decode: %s", c->lib.last_error());
  for (int t = n1 - 1; t < n; t++) {
    double e = e2e_rel_err(got + t * V, want + t * V, V);
    CHECK(e < TOL, "%s: session logits at step %d (prefill %d of %d): relative error %.3g", s->name, t, n1, n, e);
  }
  uint8_t taken[1024];
  for (int l = 0; l < s->n_layers; l++) {
    if (!s->routed[l]) continue;
    int w = c->lib.routing(ss, l, taken, n);
    CHECK(w == n, "modc_routing(layer %d) wrote %d of %d", l, w, n);
    const uint8_t *ref = interp_routing(is, l);
    for (int t = 0; t < n; t++) CHECK(taken[t] == ref[t], "%s: layer %d token %d: routing %d, reference %d", s->name, l, t, taken[t], ref[t]);
  }
  /* prefill of all n tokens == the same n tokens decoded one by one */
  float *one = malloc(V * sizeof(float)), *steps = malloc(V * sizeof(float));
  modc_session *s2;
  CHECK(!c->lib.session_open(c->m, &s2), "session_open: %s", c->lib.last_error());
  CHECK(!c->lib.prefill(s2, tok, n, one), "prefill: %s", c->lib.last_error());
  c->lib.session_close(ss);
  CHECK(!c->lib.session_open(c->m, &ss), "session_open: %s", c->lib.last_error());
  for (int t = 0; t < n; t++) CHECK(!c->lib.decode(ss, tok[t], steps), "decode: %s", c->lib.last_error());
  double num = 0, den = 1e-30;
  for (int v = 0; v < V; v++) num = fmax(num, fabs(one[v] - steps[v])), den = fmax(den, fabs(steps[v]));
  CHECK(num / den < TOL, "%s: prefill(%d) vs %d decodes: relative difference %.3g", s->name, n, n, num / den);
  c->compared++;
  c->lib.session_close(ss);
  c->lib.session_close(s2);
  interp_session_free(is);
  free(tok), free(pos), free(want), free(got), free(one), free(steps);
  graph_free(g);
  return 0;
}

static int run_case(const char *modc, const char *dir, uint64_t seed, int *skipped) {
  RandSpec r;
  char yaml[1024], cmd[4096], lib[1100], wfile[1100], err[1024];
  randspec_draw(seed, &r);
  CHECK(!randspec_write(&r, dir, seed, yaml, sizeof yaml), "seed %llu: cannot write spec", (unsigned long long)seed);
  snprintf(lib, sizeof lib, "%s/lib%s.so", dir, r.name);
  snprintf(cmd, sizeof cmd, "'%s' compile '%s' -o '%s' -q", modc, yaml, lib);
  const char *tune = getenv("MODC_E2E_TUNE"); /* seconds: tune first, compile with the records */
  if (tune && *tune) {
    char tcmd[4096], rec[1100];
    snprintf(rec, sizeof rec, "%s/%s.tuning.json", dir, r.name);
    snprintf(tcmd, sizeof tcmd, "'%s' tune '%s' -o '%s' --budget-seconds %s -q", modc, yaml, rec, tune);
    CHECK(system(tcmd) == 0, "tune failed: %s", tcmd);
    size_t len = strlen(cmd);
    snprintf(cmd + len, sizeof cmd - len, " --tuning '%s'", rec);
  }
  CHECK(system(cmd) == 0, "compile failed: %s", cmd);
  Case c = {0};
  c.rng = seed * 31 + 7;
  CHECK(!spec_load(yaml, NULL, 0, &c.spec, err, sizeof err), "%s", err);
  CHECK(!e2e_layout(&c.spec, &c.layout, err, sizeof err), "%s", err);
  snprintf(wfile, sizeof wfile, "%s/%s.weights", dir, r.name);
  CHECK((c.blob = e2e_map_blob(wfile)), "cannot map %s", wfile);
  if (load_lib(lib, &c.lib)) return -1;
  CHECK(!c.lib.open(NULL, 2, &c.m), "modc_open: %s", c.lib.last_error());
  int rc = 0;
  for (int i = 0; i < c.spec.n_shapes && !rc; i++) rc = check_forward(&c, c.spec.shapes[i][0], c.spec.shapes[i][1]);
  int n = rs_int(&c.rng, 1, c.spec.max_seq_len < 24 ? c.spec.max_seq_len : 24);
  if (!rc) rc = check_session(&c, n, rs_int(&c.rng, 1, n));
  if (!rc) rc = check_eval(&c, modc, lib, dir);
  c.lib.close(c.m);
  *skipped += c.skipped;
  wlayout_free(&c.layout);
  printf("%s %s: %d layers d=%d heads=%d/%d ff=%d vocab=%d routing=%s cap=%g%s %s %s %s%s w=%s src=%s\n",
         rc ? "FAIL" : "ok  ", r.name, r.layers, r.d, r.heads, r.kv_heads, r.d_ff, r.vocab, r.layers_yaml,
         r.capacity, r.forward_threshold ? " forward=threshold" : "", r.sigmoid ? "sigmoid" : "raw", r.mlp ? "mlp" : "router", r.tie ? "tied " : "",
         r.bias ? "bias" : "", r.wdtype, dtype_name((DType)r.src_dtype));
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: test_e2e MODC WORKDIR N [FIRST_SEED]\n");
    return 2;
  }
  mkdir(argv[2], 0777);
  int n = atoi(argv[3]), first = argc > 4 ? atoi(argv[4]) : 0, skipped = 0, bad = 0;
  for (int i = 0; i < n; i++) bad += run_case(argv[1], argv[2], first + i, &skipped) != 0;
  printf("%d passed, %d failed (%d inputs redrawn for near-tie routing margins)\n", n - bad, bad, skipped);
  return bad || failures ? 1 : 0;
}
