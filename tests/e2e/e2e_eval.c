/* e2e_eval.c: `modc eval` against the interpreter.  A token file of one or two windows and a part
 * (so the last window overlaps the one before it) goes through `modc eval --json` in forward
 * mode (the longest compiled shape) and in session mode (a random --window of 2..10); the reference
 * cuts the same windows, computes every logit with the double-precision interpreter (forward
 * graph per window; session graph token by token, a fresh session per window) and the mean
 * NLL in double.  NLL within 1e-4 relative; session take rates equal to the interpreter's
 * routing traces (forward mode under routing.forward: threshold: null, not counted).  Inputs
 * with a near-tie routing margin are redrawn, as in test_e2e.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "e2e.h"
#include "ir/interp.h"
#include "randspec.h"

#define EVAL_TRIES 64

typedef struct Ref {
  double sum, margin;
  long long scored, fed, taken[SPEC_MAX_LAYERS];
  int done;
} Ref;

static double nll_row(const double *l, int V, int target) {
  double mx = l[0], sum = 0;
  for (int i = 1; i < V; i++) mx = fmax(mx, l[i]);
  for (int i = 0; i < V; i++) sum += exp(l[i] - mx);
  return log(sum) + mx - l[target];
}

/* window i of n tokens cut into windows of W: whole windows, then the file's last W tokens */
static int start_of(int i, int n, int W) { return (i + 1) * W <= n ? i * W : n - W; }
static int n_windows(int n, int W) { return (n + W - 1) / W; }

static void score(Ref *r, const double *logits, int V, const int32_t *tok, int t) {
  if (t < r->done) return;
  r->sum += nll_row(logits, V, tok[t]);
  r->scored++;
}

static int ref_forward(Case *c, const int32_t *tok, int n, int T, Ref *r) {
  Graph *g = e2e_typed(build_forward(&c->spec, &c->layout, T));
  int V = c->spec.vocab_size;
  int32_t *pos = malloc(T * sizeof *pos);
  double *want = malloc((size_t)T * V * sizeof *want);
  char err[512];
  for (int i = 0; i < T; i++) pos[i] = i;
  for (int w = 0; w < n_windows(n, T); w++) {
    int s = start_of(w, n, T);
    InterpStats st;
    CHECK(!interp_run(g, c->blob, tok + s, pos, T, NULL, want, &st, err, sizeof err), "interp: %s", err);
    r->margin = fmin(r->margin, st.min_margin);
    for (int j = 0; j + 1 < T; j++) score(r, want + (size_t)j * V, V, tok, s + j + 1);
    r->done = s + T;
  }
  free(pos), free(want);
  graph_free(g);
  return 0;
}

static int ref_session(Case *c, const int32_t *tok, int n, int W, Ref *r) {
  const Spec *s = &c->spec;
  Graph *g = e2e_typed(build_session(s, &c->layout));
  int V = s->vocab_size;
  double *want = malloc((size_t)V * sizeof *want);
  char err[512];
  for (int w = 0; w < n_windows(n, W); w++) {
    int st0 = start_of(w, n, W);
    InterpSession *is = interp_session_new(s->n_layers, s->max_seq_len, s->n_kv_heads * spec_head_dim(s));
    for (int j = 0; j + 1 < W; j++) {
      int32_t pos = j;
      InterpStats st;
      CHECK(!interp_run(g, c->blob, tok + st0 + j, &pos, 1, is, want, &st, err, sizeof err), "interp: %s", err);
      r->margin = fmin(r->margin, st.min_margin);
      score(r, want, V, tok, st0 + j + 1);
    }
    for (int l = 0; l < s->n_layers; l++)
      for (int t = 0; s->routed[l] && t + 1 < W; t++) r->taken[l] += interp_routing(is, l)[t];
    r->fed += W - 1;
    r->done = st0 + W;
    interp_session_free(is);
  }
  free(want);
  graph_free(g);
  return 0;
}

/* run modc eval; *nll and take[l] (NAN where not printed, -1 where null) from its --json line */
static int run_eval(const char *cmd, double *nll, double *take, int L) {
  char out[8192] = "";
  FILE *p = popen(cmd, "r");
  CHECK(p, "cannot run %s", cmd);
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = 0;
  CHECK(pclose(p) == 0, "modc eval failed: %s\n%s", cmd, out);
  const char *k = strstr(out, "\"nll\": "), *tr = strstr(out, "\"take_rate\": {");
  CHECK(k && tr, "no nll or take_rate in: %s", out);
  *nll = strtod(k + 7, NULL);
  for (int l = 0; l < L; l++) {
    char key[16];
    snprintf(key, sizeof key, "\"%d\": ", l);
    const char *at = strstr(tr, key);
    take[l] = !at ? NAN : !strncmp(at + strlen(key), "null", 4) ? -1 : strtod(at + strlen(key), NULL);
  }
  return 0;
}

static int write_tokens(const char *path, const int32_t *tok, int n) {
  FILE *f = fopen(path, "w");
  CHECK(f, "cannot write %s", path);
  for (int i = 0; i < n; i++) fprintf(f, "%d%c", tok[i], i % 16 == 15 ? '\n' : ' ');
  fclose(f);
  return 0;
}

/* one mode: draw files until the reference has no near-tie, then compare with modc eval.
 * A file holds every routing decision of one or two whole windows and a tail, so near-ties
 * are likelier than in one sequence: it gets EVAL_TRIES draws. */
static int eval_mode(Case *c, const char *modc, const char *lib, const char *dir, int session, int W) {
  int n = rs_int(&c->rng, 1, 2) * W + rs_int(&c->rng, 1, W - 1), L = c->spec.n_layers;
  int32_t *tok = malloc(n * sizeof *tok);
  char path[1200], cmd[4096];
  Ref r;
  for (int tries = 0;; tries++) {
    memset(&r, 0, sizeof r);
    r.margin = INFINITY, r.done = 1;
    e2e_draw_tokens(c, tok, n);
    if ((session ? ref_session(c, tok, n, W, &r) : ref_forward(c, tok, n, W, &r))) return -1;
    if (r.margin >= MARGIN) break;
    c->skipped++;
    CHECK(tries + 1 < EVAL_TRIES, "%s: no eval input without a near-tie in %d draws", c->spec.name, EVAL_TRIES);
  }
  snprintf(path, sizeof path, "%s/%s.eval.txt", dir, c->spec.name);
  if (write_tokens(path, tok, n)) return -1;
  char wopt[32] = "";
  if (session) snprintf(wopt, sizeof wopt, " --mode session --window %d", W);
  snprintf(cmd, sizeof cmd, "'%s' eval '%s' --tokens '%s' --json -q%s", modc, lib, path, wopt);
  double nll, take[SPEC_MAX_LAYERS], want = r.sum / (double)r.scored;
  if (run_eval(cmd, &nll, take, L)) return -1;
  CHECK(r.scored == n - n / W, "reference scored %lld of %d tokens", r.scored, n - n / W); /* all but whole windows' first */
  CHECK(fabs(nll - want) <= 1e-4 * fabs(want), "%s: eval %s nll %.9g, interpreter %.9g", c->spec.name,
        session ? "session" : "forward", nll, want);
  for (int l = 0; l < L && !session && c->spec.forward == FWD_THRESHOLD; l++) /* not counted by modc_forward */
    CHECK(c->spec.routed[l] ? take[l] == -1 : isnan(take[l]), "%s: forward by threshold: layer %d take rate %.9g, not null",
          c->spec.name, l, take[l]);
  for (int l = 0; l < L && session; l++) {
    double ref = c->spec.routed[l] ? (double)r.taken[l] / (double)r.fed : NAN;
    CHECK(c->spec.routed[l] ? fabs(take[l] - ref) < 1e-8 : isnan(take[l]), "%s: layer %d take rate %.9g, interpreter %.9g",
          c->spec.name, l, take[l], ref);
  }
  free(tok);
  c->compared++;
  return 0;
}

int check_eval(Case *c, const char *modc, const char *lib, const char *dir) {
  int T = 0;
  for (int i = 0; i < c->spec.n_shapes; i++) T = c->spec.shapes[i][1] > T ? c->spec.shapes[i][1] : T;
  int Wmax = c->spec.max_seq_len < 10 ? c->spec.max_seq_len : 10;
  if (T >= 2 && eval_mode(c, modc, lib, dir, 0, T)) return -1;
  return eval_mode(c, modc, lib, dir, 1, rs_int(&c->rng, 2, Wmax));
}
