/* eval.c: modc eval, mean NLL and perplexity of a token file through a compiled library
 * (DESIGN section 7; the windows and the scoring are described in eval.h).  eval_run is the
 * measuring core that tune --routing shares; eval_main is the command. */
#include "tools/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "frontend/spec.h"
#include "tools/cli.h"
#include "tools/timing.h"
#include "tools/tokfile.h"

#define EVAL_DEFAULT_WINDOW 512
#define PROGRESS_EVERY_S 1.0

static const char usage_eval[] =
  "usage: modc eval LIB.so (--tokens FILE | --bytes FILE) [options]\n"
  "\n"
  "Mean negative log-likelihood (nats per token) and perplexity of the file's tokens, each\n"
  "predicted from the tokens before it in its window; take rates of the routed layers.\n"
  "The file is cut into windows of W tokens; when it does not end on a window's edge, the\n"
  "last window is its last W tokens and scores only tokens not scored before.\n"
  "  --tokens FILE         whitespace-separated token ids\n"
  "  --bytes FILE          each byte of the file is a token (byte-level models)\n"
  "  --mode forward        windows of the longest compiled shape's seq_len, B at a time\n"
  "                        through modc_forward (top-k routing, or by threshold under\n"
  "                        routing.forward: threshold: take rates then not counted); the default\n"
  "  --mode session        one session per window, fed token by token (causal routing,\n"
  "                        the decode path)\n"
  "  --window W            session mode: tokens per window (default min(max_seq_len, 512))\n"
  "  --json                print {\"nll\", \"ppl\", \"tokens\", \"take_rate\": {layer: rate}, ...}\n"
  "  --threads N           threads (default: the library's default)\n"
  "  --weights PATH        weights file (default: the one beside the library)\n"
  "  --vs OTHER.so         OTHER (same vocabulary; its own weights) on the same windows, the\n"
  "                        two alternating step by step in one process (session: window by\n"
  "                        window; forward: call by call, which needs one longest compiled\n"
  "                        shape); prints both and OTHER/LIB ms per token step or forward\n"
  "                        call (median and 10th-90th percentile over the steps): a speed\n"
  "                        ratio that what slows the machine for seconds at a time does not\n"
  "                        bias\n"
  "  -q                    no progress lines\n";

/* logsumexp(l) - l[target], in double */
static double token_nll(const float *l, int V, int target) {
  double mx = l[0], sum = 0;
  for (int i = 1; i < V; i++) mx = fmax(mx, l[i]);
  for (int i = 0; i < V; i++) sum += exp((double)l[i] - mx);
  return log(sum) + mx - l[target];
}

/* ---- windows ---- */

typedef struct Windows {
  int W, n, count;
  int done;                 /* targets below this are scored */
  double sum;               /* of the NLLs so far */
  double *per;              /* NULL, or [count]: each window's sum */
  long long scored;
} Windows;

int eval_window_count(int n, int W) { return n / W + (n % W != 0); }

static int win_start(const Windows *w, int i) { return (i + 1) * w->W <= w->n ? i * w->W : w->n - w->W; }

/* the window that starts at start: every one on a multiple of W but the last */
static int win_index(const Windows *w, int start) { return start % w->W ? w->count - 1 : start / w->W; }

/* score window i from its logits, row j predicting token start + j + 1 */
static void win_score_row(Windows *w, int start, int j, const float *logits, int V, const int32_t *tok) {
  int t = start + j + 1;
  if (t < w->done) return;
  double nll = token_nll(logits, V, tok[t]);
  w->sum += nll;
  if (w->per) w->per[win_index(w, start)] += nll;
  w->scored++;
}

/* per-window sums (NULL: none), zeroed, into w */
static void win_per(Windows *w, double *per) {
  w->per = per;
  if (w->per) memset(w->per, 0, (size_t)w->count * sizeof *w->per);
}

static void win_finish(Windows *w, int start) { w->done = start + w->W; }

static void progress(const Windows *w, int i, double *last) {
  double now = cli_elapsed();
  if (now - *last < PROGRESS_EVERY_S) return;
  *last = now;
  cli_progress("eval: window %d of %d, %lld tokens, nll %.4f so far", i + 1, w->count, w->scored,
               w->scored ? w->sum / (double)w->scored : 0.0);
}

static int win_init(Windows *w, int n, int W, const char *what) {
  memset(w, 0, sizeof *w);
  if (W < 2) return cli_fail("eval: windows of %d token%s predict nothing (%s)", W, W == 1 ? "" : "s", what);
  if (n < W) return cli_fail("eval: the file holds %d tokens, fewer than one window of %d (%s)", n, W, what);
  w->W = W, w->n = n, w->done = 1;
  w->count = eval_window_count(n, W);
  return 0;
}

/* ---- routed layers and take rates ---- */

/* routed[l] = 1 where modc_routing accepts layer l (it refuses dense layers) */
static int find_routed(const ModcLib *a, modc_model *m, EvalResult *r) {
  const modc_info *info = a->info(m);
  modc_session *s;
  uint8_t none[1];
  if (info->n_layers > EVAL_MAX_LAYERS) return cli_fail("eval: %d layers (at most %d)", info->n_layers, EVAL_MAX_LAYERS);
  if (a->session_open(m, &s)) return cli_fail("%s", a->last_error());
  r->n_layers = info->n_layers;
  for (int l = 0; l < info->n_layers; l++) r->routed[l] = a->routing(s, l, none, 0) >= 0;
  a->session_close(s);
  return 0;
}

/* one window through a session: prefill its first token, decode the rest but its last */
static int session_window(const ModcLib *a, modc_session *s, Windows *w, int start, const int32_t *tok,
                          float *logits, int V) {
  if (a->reset(s) || a->prefill(s, tok + start, 1, logits)) return cli_fail("%s", a->last_error());
  for (int j = 0; j + 1 < w->W; j++) {
    if (j && a->decode(s, tok[start + j], logits)) return cli_fail("%s", a->last_error());
    win_score_row(w, start, j, logits, V, tok);
  }
  win_finish(w, start);
  return 0;
}

static int count_taken(const ModcLib *a, modc_session *s, const EvalResult *r, uint8_t *buf, int W,
                       long long *taken) {
  for (int l = 0; l < r->n_layers; l++) {
    if (!r->routed[l]) continue;
    int got = a->routing(s, l, buf, W);
    if (got < 0) return cli_fail("%s", a->last_error());
    for (int t = 0; t < got; t++) taken[l] += buf[t];
  }
  return 0;
}

/* ---- an evaluation, step by step ---- */

/* the compiled shape with the longest seq_len (then the largest batch) */
static void pick_shape(const modc_info *info, int *B, int *T) {
  *B = info->shapes[0][0], *T = info->shapes[0][1];
  for (int i = 1; i < info->n_shapes; i++) {
    int b = info->shapes[i][0], t = info->shapes[i][1];
    if (t > *T || (t == *T && b > *B)) *B = b, *T = t;
  }
}

/* the default session window of a model whose longest sequence is max_seq_len */
static int default_window(int max_seq_len) { return max_seq_len < EVAL_DEFAULT_WINDOW ? max_seq_len : EVAL_DEFAULT_WINDOW; }

static int session_window_len(const modc_info *info, const EvalOpts *o) {
  int W = o->window ? o->window : default_window(info->max_seq_len);
  if (W > info->max_seq_len) return -cli_fail("eval: --window %d is longer than %s's max_seq_len %d", W, info->name, info->max_seq_len);
  return W;
}

/* An evaluation in progress, one step at a time: a step is one forward call of B windows
 * (forward mode) or one window through a session (session mode), so that eval_pair can
 * alternate two libraries step by step. */
typedef struct Run {
  const ModcLib *a;
  modc_model *m;
  EvalResult *r;
  EvalMode mode;
  Windows w;
  int V, B, steps;          /* B: windows per step (session: 1) */
  modc_session *s;          /* session mode */
  float *logits;
  int32_t *bt;              /* forward mode: the call's B windows */
  uint8_t *buf;
  long long *taken, fed;
  double *ms;               /* [steps]: each step's ms per call (forward) or per token step (session) */
} Run;

static void run_free(Run *e) {
  if (e->s) e->a->session_close(e->s);
  free(e->logits), free(e->bt), free(e->buf), free(e->taken), free(e->ms);
  e->s = NULL, e->logits = NULL, e->bt = NULL, e->buf = NULL, e->taken = NULL, e->ms = NULL;
}

/* W: the window (session: the caller's choice; forward: the longest compiled seq_len) */
static int run_begin(Run *e, const ModcLib *a, modc_model *m, EvalMode mode, int n, int W, double *win_nll,
                     EvalResult *r) {
  memset(e, 0, sizeof *e);
  const modc_info *info = a->info(m);
  int T, fwd = mode == EVAL_FORWARD;
  e->a = a, e->m = m, e->r = r, e->mode = mode, e->V = info->vocab_size, e->B = 1;
  if (fwd) pick_shape(info, &e->B, &T);
  if (win_init(&e->w, n, W, fwd ? "forward mode: the longest compiled seq_len" : "session mode: --window")) return 1;
  win_per(&e->w, win_nll);
  e->steps = (e->w.count + e->B - 1) / e->B;
  if (!fwd && a->session_open(m, &e->s)) return e->s = NULL, cli_fail("%s", a->last_error());
  e->logits = malloc((size_t)(fwd ? e->B * W : 1) * e->V * sizeof *e->logits);
  e->bt = malloc((size_t)(fwd ? e->B * W : 1) * sizeof *e->bt);
  e->buf = malloc((size_t)W);
  e->taken = calloc(EVAL_MAX_LAYERS, sizeof *e->taken);
  e->ms = malloc((size_t)e->steps * sizeof *e->ms);
  if (!e->logits || !e->bt || !e->buf || !e->taken || !e->ms)
    return run_free(e), cli_fail("eval: out of memory for %d x %d logits", e->B * W, e->V);
  return 0;
}

/* forward step i: windows [i*B, i*B + B) in one modc_forward call; rows past the last window
 * repeat it (rows never interact) */
static int fwd_step(Run *e, int i, const int32_t *tok) {
  Windows *w = &e->w;
  int W = w->W, first = i * e->B;
  for (int b = 0; b < e->B; b++)
    memcpy(e->bt + (size_t)b * W, tok + win_start(w, first + b < w->count ? first + b : w->count - 1), W * sizeof *e->bt);
  double c0 = timing_now();
  if (e->a->forward(e->m, e->B, W, e->bt, e->logits)) return cli_fail("%s", e->a->last_error());
  double c1 = timing_now();
  e->ms[i] = (c1 - c0) * 1e3, e->r->seconds += c1 - c0, e->r->calls++;
  for (int b = 0; b < e->B && first + b < w->count; b++) {
    int start = win_start(w, first + b);
    for (int j = 0; j + 1 < W; j++) win_score_row(w, start, j, e->logits + ((size_t)b * W + j) * e->V, e->V, tok);
    win_finish(w, start);
  }
  return 0;
}

/* session step i: window i through the session, timed; its take decisions counted */
static int sess_step(Run *e, int i, const int32_t *tok) {
  double c0 = timing_now();
  int rc = session_window(e->a, e->s, &e->w, win_start(&e->w, i), tok, e->logits, e->V);
  double c1 = timing_now();
  e->ms[i] = (c1 - c0) * 1e3 / (e->w.W - 1);
  e->r->seconds += c1 - c0, e->r->calls += e->w.W - 1;
  e->fed += e->w.W - 1;
  return rc || count_taken(e->a, e->s, e->r, e->buf, e->w.W, e->taken);
}

static int run_step(Run *e, int i, const int32_t *tok) { return e->mode == EVAL_FORWARD ? fwd_step(e, i, tok) : sess_step(e, i, tok); }

static void run_end(Run *e) {
  EvalResult *r = e->r;
  const modc_info *info = e->a->info(e->m);
  for (int l = 0; l < r->n_layers; l++) /* NaN: routed by threshold in forward mode, not counted */
    r->take[l] = !r->routed[l] ? 1.0
                 : e->mode == EVAL_FORWARD ? (info->forward_threshold ? NAN : (double)spec_capacity_k(info->capacity[l], e->w.W) / e->w.W)
                 : (double)e->taken[l] / (double)e->fed;
  r->batch = e->B, r->window = e->w.W, r->nll = e->w.sum / (double)e->w.scored, r->tokens = e->w.scored;
  r->ms_median = timing_median(e->ms, e->steps);
  run_free(e);
}

/* the window of mode o->mode for a model */
static int run_window(const ModcLib *a, modc_model *m, const EvalOpts *o) {
  int B, T;
  if (o->mode == EVAL_SESSION) return session_window_len(a->info(m), o);
  pick_shape(a->info(m), &B, &T);
  return T;
}

int eval_run(const ModcLib *a, modc_model *m, const int32_t *tok, int n, const EvalOpts *o, EvalResult *r) {
  memset(r, 0, sizeof *r);
  if (find_routed(a, m, r)) return 1;
  int W = run_window(a, m, o);
  Run e;
  double last = 0;
  if (W < 0 || run_begin(&e, a, m, o->mode, n, W, o->win_nll, r)) return 1;
  int rc = 0;
  for (int i = 0; !rc && i < e.steps; i++) {
    rc = run_step(&e, i, tok);
    if (o->progress) progress(&e.w, i * e.B, &last);
  }
  run_end(&e);
  return rc;
}

/* ---- two libraries side by side ---- */

/* q-quantile (0..1) of the sorted v[0..n) by the nearest rank */
static double quantile(const double *v, int n, double q) {
  int k = (int)(q * (n - 1) + 0.5);
  return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* the window both libraries run: session: o's, else the shorter model's default; forward:
 * their longest compiled shape, which must be the same (B and seq_len) */
static int pair_window(const ModcLib *la, modc_model *ma, const ModcLib *lb, modc_model *mb, const EvalOpts *o) {
  const modc_info *ia = la->info(ma), *ib = lb->info(mb);
  if (o->mode == EVAL_FORWARD) {
    int Ba, Ta, Bb, Tb;
    pick_shape(ia, &Ba, &Ta), pick_shape(ib, &Bb, &Tb);
    if (Ba != Bb || Ta != Tb)
      return -cli_fail("eval: forward mode side by side needs one shape: %s's longest is [%d, %d], %s's [%d, %d]",
                       ia->name, Ba, Ta, ib->name, Bb, Tb);
    return Ta;
  }
  EvalOpts oo = *o;
  if (!oo.window) oo.window = default_window(ia->max_seq_len < ib->max_seq_len ? ia->max_seq_len : ib->max_seq_len);
  int W = session_window_len(ia, &oo);
  return W < 0 || session_window_len(ib, &oo) < 0 ? -1 : W;
}

int eval_pair(const ModcLib *la, modc_model *ma, const ModcLib *lb, modc_model *mb, const int32_t *tok, int n,
              const EvalOpts *o, EvalResult *ra, EvalResult *rb, double ratio[3]) {
  memset(ra, 0, sizeof *ra), memset(rb, 0, sizeof *rb);
  if (find_routed(la, ma, ra) || find_routed(lb, mb, rb)) return 1;
  int W = pair_window(la, ma, lb, mb, o);
  Run ea, eb;
  if (W < 0 || run_begin(&ea, la, ma, o->mode, n, W, NULL, ra)) return 1;
  if (run_begin(&eb, lb, mb, o->mode, n, W, o->win_nll, rb)) return run_free(&ea), 1;
  double *q = malloc((size_t)ea.steps * sizeof *q), last = 0;
  int rc = q ? 0 : cli_fail("eval: out of memory");
  for (int i = 0; !rc && i < ea.steps; i++) {
    Run *first = i % 2 ? &eb : &ea, *second = i % 2 ? &ea : &eb;
    rc = run_step(first, i, tok) || run_step(second, i, tok);
    if (!rc) q[i] = eb.ms[i] / ea.ms[i];
    if (o->progress) progress(&ea.w, i * ea.B, &last);
  }
  if (!rc) {
    int k = ea.steps;
    ratio[0] = timing_median(q, k);   /* sorts q */
    ratio[1] = quantile(q, k, 0.1), ratio[2] = quantile(q, k, 0.9);
  }
  run_end(&ea), run_end(&eb);
  free(q);
  return rc;
}
/* ---- the command ---- */

typedef struct EvalCmd {
  const char *lib, *file, *weights, *vs;
  int bytes, json, threads;
  EvalOpts o;
} EvalCmd;

static int parse_eval(int argc, char **argv, EvalCmd *c) {
  c->o.progress = 1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_eval, stdout); exit(0); }
    int takes = !strcmp(a, "--tokens") || !strcmp(a, "--bytes") || !strcmp(a, "--mode") ||
                !strcmp(a, "--window") || !strcmp(a, "--threads") || !strcmp(a, "--weights") || !strcmp(a, "--vs");
    if (takes && !v) return cli_fail("%s needs a value", a);
    if (takes) i++;
    if (!strcmp(a, "--tokens") || !strcmp(a, "--bytes")) {
      if (c->file) return cli_fail("eval: give one token file (--tokens or --bytes), not two");
      c->file = v, c->bytes = a[2] == 'b';
    } else if (!strcmp(a, "--mode")) {
      if (strcmp(v, "forward") && strcmp(v, "session")) return cli_fail("--mode must be forward or session, got '%s'", v);
      c->o.mode = v[0] == 's' ? EVAL_SESSION : EVAL_FORWARD;
    } else if (!strcmp(a, "--window")) {
      if (cli_int(a, v, 2, 1 << 24, &c->o.window)) return 1;
    } else if (!strcmp(a, "--threads")) {
      if (cli_int(a, v, 0, 1 << 16, &c->threads)) return 1;
    } else if (!strcmp(a, "--weights")) c->weights = v;
    else if (!strcmp(a, "--vs")) c->vs = v;
    else if (!strcmp(a, "--json")) c->json = 1;
    else if (!strcmp(a, "-q")) cli_quiet = 1;
    else if (a[0] == '-') return cli_fail("eval: unknown option '%s' (see modc eval --help)", a);
    else if (!c->lib) c->lib = a;
    else return cli_fail("eval: more than one library given");
  }
  if (!c->lib) return cli_fail("eval: no library given (see modc eval --help)");
  if (!c->file) return cli_fail("eval: give a token file: --tokens FILE or --bytes FILE");
  if (c->o.window && c->o.mode != EVAL_SESSION) return cli_fail("eval: --window is for --mode session (forward windows are the compiled seq_len)");
  return 0;
}

static void print_json(const EvalCmd *c, const EvalResult *r) {
  printf("{\"nll\": %.9g, \"ppl\": %.9g, \"tokens\": %lld, \"mode\": \"%s\", \"batch\": %d, \"window\": %d, "
         "\"seconds\": %.6g, \"ms_per_call\": %.6g, \"take_rate\": {",
         r->nll, exp(r->nll), r->tokens, c->o.mode == EVAL_SESSION ? "session" : "forward", r->batch, r->window,
         r->seconds, r->ms_median);
  for (int l = 0, k = 0; l < r->n_layers; l++)
    if (r->routed[l] && isnan(r->take[l])) printf("%s\"%d\": null", k++ ? ", " : "", l);
    else if (r->routed[l]) printf("%s\"%d\": %.9g", k++ ? ", " : "", l, r->take[l]);
  printf("}}");
}

static void print_text(const EvalCmd *c, const char *prefix, const modc_info *info, const EvalResult *r) {
  printf("%s%s, %s mode, windows of %d tokens (%d per call): %lld tokens predicted\n", prefix, info->name,
         c->o.mode == EVAL_SESSION ? "session" : "forward", r->window, r->batch, r->tokens);
  printf("  nll %.6f nats/token, perplexity %.4f, %.3f s (median %.4g ms per %s)\n", r->nll, exp(r->nll), r->seconds,
         r->ms_median, c->o.mode == EVAL_SESSION ? "token step" : "forward call");
  for (int l = 0; l < r->n_layers; l++)
    if (r->routed[l] && isnan(r->take[l])) printf("  layer %3d  take rate not counted (modc_forward routes it by threshold)\n", l);
    else if (r->routed[l]) printf("  layer %3d  take rate %.4f\n", l, r->take[l]);
}

static void print_result(const EvalCmd *c, const modc_info *info, const EvalResult *r) {
  if (c->json) print_json(c, r), printf("\n");
  else print_text(c, "", info, r);
}

static void print_vs(const EvalCmd *c, const modc_info *ia, const modc_info *ib, const EvalResult *ra,
                     const EvalResult *rb, const double q[3]) {
  int sess = c->o.mode == EVAL_SESSION, steps = (int)(sess ? ra->calls / (ra->window - 1) : ra->calls);
  if (c->json) {
    printf("{\"a\": "), print_json(c, ra), printf(", \"b\": "), print_json(c, rb);
    printf(", \"ms_ratio\": {\"median\": %.6g, \"p10\": %.6g, \"p90\": %.6g, \"%s\": %d}}\n", q[0], q[1], q[2],
           sess ? "windows" : "calls", steps);
    return;
  }
  print_text(c, "A: ", ia, ra);
  print_text(c, "B: ", ib, rb);
  printf("B/A ms per %s: median %.4f [%.4f - %.4f: 10th - 90th percentile] over %d %s, A and B\n"
         "  alternating %s in one process; B/A nll %.5f\n", sess ? "token step" : "forward call", q[0], q[1], q[2],
         steps, sess ? "windows" : "calls", sess ? "window by window" : "call by call", rb->nll / ra->nll);
}

/* --vs: B opened beside A (its own weights), the same vocabulary, then eval_pair */
static int eval_vs_cmd(const EvalCmd *c, const ModcLib *la, modc_model *ma, const int32_t *tok, int n) {
  ModcLib lb;
  char err[4200];
  modc_model *mb;
  if (modc_load(c->vs, &lb, err, sizeof err)) return cli_fail("%s", err);
  if (lb.open(NULL, c->threads, &mb)) return cli_fail("%s", lb.last_error());
  const modc_info *ia = la->info(ma), *ib = lb.info(mb);
  EvalResult ra, rb;
  double q[3];
  int rc = 0;
  if (ia->vocab_size != ib->vocab_size)
    rc = cli_fail("eval: --vs: %s has a vocabulary of %d, %s of %d: one token file cannot feed both", c->lib,
                  ia->vocab_size, c->vs, ib->vocab_size);
  if (!rc) rc = eval_pair(la, ma, &lb, mb, tok, n, &c->o, &ra, &rb, q);
  if (!rc) print_vs(c, ia, ib, &ra, &rb, q);
  lb.close(mb);
  return rc;
}

int eval_main(int argc, char **argv) {
  EvalCmd c = {0};
  ModcLib a;
  char err[4200];
  if (parse_eval(argc, argv, &c)) return 1;
  if (modc_load(c.lib, &a, err, sizeof err)) return cli_fail("%s", err);
  modc_model *m;
  if (a.open(c.weights, c.threads, &m)) return cli_fail("%s", a.last_error());
  const modc_info *info = a.info(m);
  int32_t *tok;
  int n, rc = tok_read(c.file, c.bytes, info->vocab_size, &tok, &n);
  EvalResult r;
  if (!rc && n == 0) rc = cli_fail("eval: '%s' holds no tokens", c.file);
  if (!rc && c.vs) rc = eval_vs_cmd(&c, &a, m, tok, n);
  else if (!rc && !(rc = eval_run(&a, m, tok, n, &c.o, &r))) print_result(&c, info, &r);
  free(tok);
  a.close(m);
  return rc;
}
