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
  "                        through modc_forward (top-k routing); the default\n"
  "  --mode session        one session per window, fed token by token (causal routing,\n"
  "                        the decode path)\n"
  "  --window W            session mode: tokens per window (default min(max_seq_len, 512))\n"
  "  --json                print {\"nll\", \"ppl\", \"tokens\", \"take_rate\": {layer: rate}, ...}\n"
  "  --threads N           threads (default: the library's default)\n"
  "  --weights PATH        weights file (default: the one beside the library)\n"
  "  --vs OTHER.so         session mode: OTHER (same vocabulary; its own weights) on the same\n"
  "                        windows, the two alternating window by window in one process;\n"
  "                        prints both and OTHER/LIB ms per token step (median and 10th-90th\n"
  "                        percentile over windows): a decode speed ratio that what slows\n"
  "                        the machine for seconds at a time does not bias\n"
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

/* o's per-window sums, zeroed, into w */
static void win_per(Windows *w, const EvalOpts *o) {
  w->per = o->win_nll;
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

/* ---- forward mode ---- */

/* the compiled shape with the longest seq_len (then the largest batch) */
static void pick_shape(const modc_info *info, int *B, int *T) {
  *B = info->shapes[0][0], *T = info->shapes[0][1];
  for (int i = 1; i < info->n_shapes; i++) {
    int b = info->shapes[i][0], t = info->shapes[i][1];
    if (t > *T || (t == *T && b > *B)) *B = b, *T = t;
  }
}

static int eval_forward(const ModcLib *a, modc_model *m, const int32_t *tok, int n, const EvalOpts *o,
                        EvalResult *r) {
  const modc_info *info = a->info(m);
  int B, T, V = info->vocab_size;
  Windows w;
  pick_shape(info, &B, &T);
  if (win_init(&w, n, T, "forward mode: the longest compiled seq_len")) return 1;
  win_per(&w, o);
  int32_t *bt = malloc((size_t)B * T * sizeof *bt);
  float *logits = malloc((size_t)B * T * V * sizeof *logits);
  double *ms = malloc((size_t)(w.count / B + 1) * sizeof *ms);
  int rc = !bt || !logits || !ms ? cli_fail("eval: out of memory for %d x %d logits", B * T, V) : 0;
  double t0 = timing_now(), last = 0;
  for (int i = 0; !rc && i < w.count; i += B) {
    for (int b = 0; b < B; b++) /* rows past the last window repeat it; rows never interact */
      memcpy(bt + (size_t)b * T, tok + win_start(&w, i + b < w.count ? i + b : w.count - 1), T * sizeof *bt);
    double c0 = timing_now();
    if (a->forward(m, B, T, bt, logits)) rc = cli_fail("%s", a->last_error());
    ms[r->calls++] = (timing_now() - c0) * 1e3;
    for (int b = 0; !rc && b < B && i + b < w.count; b++) {
      int start = win_start(&w, i + b);
      for (int j = 0; j + 1 < T; j++) win_score_row(&w, start, j, logits + ((size_t)b * T + j) * V, V, tok);
      win_finish(&w, start);
    }
    if (o->progress) progress(&w, i, &last);
  }
  r->seconds = timing_now() - t0;
  for (int l = 0; l < r->n_layers; l++)
    r->take[l] = r->routed[l] ? (double)spec_capacity_k(info->capacity[l], T) / T : 1.0;
  r->batch = B, r->window = T, r->nll = w.sum / (double)w.scored, r->tokens = w.scored;
  r->ms_median = timing_median(ms, (int)r->calls);
  free(bt), free(logits), free(ms);
  return rc;
}

/* ---- session mode ---- */

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

/* A session-mode evaluation in progress: windows run one at a time (sess_window), so that
 * modc eval --vs can alternate two libraries window by window. */
typedef struct SessEval {
  const ModcLib *a;
  modc_session *s;
  EvalResult *r;
  Windows w;
  int V, W;
  float *logits;
  uint8_t *buf;
  long long *taken, fed;
  double *ms;               /* [w.count] each window's ms per token step */
} SessEval;

/* the default session window of a model whose longest sequence is max_seq_len */
static int default_window(int max_seq_len) { return max_seq_len < EVAL_DEFAULT_WINDOW ? max_seq_len : EVAL_DEFAULT_WINDOW; }

static int session_window_len(const modc_info *info, const EvalOpts *o) {
  int W = o->window ? o->window : default_window(info->max_seq_len);
  if (W > info->max_seq_len) return -cli_fail("eval: --window %d is longer than %s's max_seq_len %d", W, info->name, info->max_seq_len);
  return W;
}

static void sess_free(SessEval *e) {
  if (e->s) e->a->session_close(e->s);
  free(e->logits), free(e->buf), free(e->taken), free(e->ms);
  e->s = NULL, e->logits = NULL, e->buf = NULL, e->taken = NULL, e->ms = NULL;
}

static int sess_begin(SessEval *e, const ModcLib *a, modc_model *m, int n, int W, EvalResult *r) {
  memset(e, 0, sizeof *e);
  e->a = a, e->r = r, e->V = a->info(m)->vocab_size, e->W = W;
  if (win_init(&e->w, n, W, "session mode: --window")) return 1;
  if (a->session_open(m, &e->s)) return e->s = NULL, cli_fail("%s", a->last_error());
  e->logits = malloc((size_t)e->V * sizeof *e->logits);
  e->buf = malloc((size_t)W);
  e->taken = calloc(EVAL_MAX_LAYERS, sizeof *e->taken);
  e->ms = malloc((size_t)e->w.count * sizeof *e->ms);
  if (!e->logits || !e->buf || !e->taken || !e->ms) return sess_free(e), cli_fail("eval: out of memory");
  return 0;
}

/* window i through the session, timed; its take decisions counted */
static int sess_window(SessEval *e, int i, const int32_t *tok) {
  double c0 = timing_now();
  int rc = session_window(e->a, e->s, &e->w, win_start(&e->w, i), tok, e->logits, e->V);
  double c1 = timing_now();
  e->ms[i] = (c1 - c0) * 1e3 / (e->W - 1);
  e->r->seconds += c1 - c0;
  e->fed += e->W - 1;
  return rc || count_taken(e->a, e->s, e->r, e->buf, e->W, e->taken);
}

static void sess_end(SessEval *e) {
  EvalResult *r = e->r;
  for (int l = 0; l < r->n_layers; l++) r->take[l] = r->routed[l] ? (double)e->taken[l] / (double)e->fed : 1.0;
  r->batch = 1, r->window = e->W, r->nll = e->w.sum / (double)e->w.scored, r->tokens = e->w.scored;
  r->calls = e->fed, r->ms_median = timing_median(e->ms, e->w.count);
  sess_free(e);
}

static int eval_session(const ModcLib *a, modc_model *m, const int32_t *tok, int n, const EvalOpts *o,
                        EvalResult *r) {
  int W = session_window_len(a->info(m), o);
  SessEval e;
  double last = 0;
  if (W < 0 || sess_begin(&e, a, m, n, W, r)) return 1;
  win_per(&e.w, o);
  int rc = 0;
  for (int i = 0; !rc && i < e.w.count; i++) {
    rc = sess_window(&e, i, tok);
    if (o->progress) progress(&e.w, i, &last);
  }
  sess_end(&e);
  return rc;
}

int eval_run(const ModcLib *a, modc_model *m, const int32_t *tok, int n, const EvalOpts *o, EvalResult *r) {
  memset(r, 0, sizeof *r);
  if (find_routed(a, m, r)) return 1;
  return o->mode == EVAL_FORWARD ? eval_forward(a, m, tok, n, o, r) : eval_session(a, m, tok, n, o, r);
}

/* ---- two libraries side by side (--vs) ---- */

/* q-quantile (0..1) of the sorted v[0..n) by the nearest rank */
static double quantile(const double *v, int n, double q) {
  int k = (int)(q * (n - 1) + 0.5);
  return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* Session mode for A and B over the same windows, alternating window by window in one process
 * (A first on even windows, B first on odd ones), so that what slows the machine for a second
 * slows both alike.  Each window's B/A ms per step is one sample of the speed ratio:
 * ratio = {median, 10th percentile, 90th percentile}. */
static int eval_vs(const ModcLib *la, modc_model *ma, const ModcLib *lb, modc_model *mb, const int32_t *tok, int n,
                   const EvalOpts *o, EvalResult *ra, EvalResult *rb, double ratio[3]) {
  memset(ra, 0, sizeof *ra), memset(rb, 0, sizeof *rb);
  if (find_routed(la, ma, ra) || find_routed(lb, mb, rb)) return 1;
  EvalOpts oo = *o;
  int sa = la->info(ma)->max_seq_len, sb = lb->info(mb)->max_seq_len;
  if (!oo.window) oo.window = default_window(sa < sb ? sa : sb);   /* the shorter model's */
  int W = session_window_len(la->info(ma), &oo);
  if (W < 0 || session_window_len(lb->info(mb), &oo) < 0) return 1;
  SessEval ea, eb;
  if (sess_begin(&ea, la, ma, n, W, ra)) return 1;
  if (sess_begin(&eb, lb, mb, n, W, rb)) return sess_free(&ea), 1;
  double *q = malloc((size_t)ea.w.count * sizeof *q), last = 0;
  int rc = q ? 0 : cli_fail("eval: out of memory");
  for (int i = 0; !rc && i < ea.w.count; i++) {
    SessEval *first = i % 2 ? &eb : &ea, *second = i % 2 ? &ea : &eb;
    rc = sess_window(first, i, tok) || sess_window(second, i, tok);
    if (!rc) q[i] = eb.ms[i] / ea.ms[i];
    if (o->progress) progress(&ea.w, i, &last);
  }
  if (!rc) {
    int k = ea.w.count;
    ratio[0] = timing_median(q, k);   /* sorts q */
    ratio[1] = quantile(q, k, 0.1), ratio[2] = quantile(q, k, 0.9);
  }
  sess_end(&ea), sess_end(&eb);
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
  if (c->vs && c->o.mode != EVAL_SESSION) return cli_fail("eval: --vs is for --mode session (it compares decode steps)");
  return 0;
}

static void print_json(const EvalCmd *c, const EvalResult *r) {
  printf("{\"nll\": %.9g, \"ppl\": %.9g, \"tokens\": %lld, \"mode\": \"%s\", \"batch\": %d, \"window\": %d, "
         "\"seconds\": %.6g, \"ms_per_call\": %.6g, \"take_rate\": {",
         r->nll, exp(r->nll), r->tokens, c->o.mode == EVAL_SESSION ? "session" : "forward", r->batch, r->window,
         r->seconds, r->ms_median);
  for (int l = 0, k = 0; l < r->n_layers; l++)
    if (r->routed[l]) printf("%s\"%d\": %.9g", k++ ? ", " : "", l, r->take[l]);
  printf("}}");
}

static void print_text(const EvalCmd *c, const char *prefix, const modc_info *info, const EvalResult *r) {
  printf("%s%s, %s mode, windows of %d tokens (%d per call): %lld tokens predicted\n", prefix, info->name,
         c->o.mode == EVAL_SESSION ? "session" : "forward", r->window, r->batch, r->tokens);
  printf("  nll %.6f nats/token, perplexity %.4f, %.3f s (median %.4g ms per %s)\n", r->nll, exp(r->nll), r->seconds,
         r->ms_median, c->o.mode == EVAL_SESSION ? "token step" : "forward call");
  for (int l = 0; l < r->n_layers; l++)
    if (r->routed[l]) printf("  layer %3d  take rate %.4f\n", l, r->take[l]);
}

static void print_result(const EvalCmd *c, const modc_info *info, const EvalResult *r) {
  if (c->json) print_json(c, r), printf("\n");
  else print_text(c, "", info, r);
}

static void print_vs(const EvalCmd *c, const modc_info *ia, const modc_info *ib, const EvalResult *ra,
                     const EvalResult *rb, const double q[3]) {
  int windows = (int)(ra->calls / (ra->window - 1));
  if (c->json) {
    printf("{\"a\": "), print_json(c, ra), printf(", \"b\": "), print_json(c, rb);
    printf(", \"ms_ratio\": {\"median\": %.6g, \"p10\": %.6g, \"p90\": %.6g, \"windows\": %d}}\n", q[0], q[1], q[2],
           windows);
    return;
  }
  print_text(c, "A: ", ia, ra);
  print_text(c, "B: ", ib, rb);
  printf("B/A ms per token step: median %.4f [%.4f - %.4f: 10th - 90th percentile] over %d windows, A and B\n"
         "  alternating window by window in one process; B/A nll %.5f\n", q[0], q[1], q[2], windows, rb->nll / ra->nll);
}

/* --vs: B opened beside A (its own weights), the same vocabulary, then eval_vs */
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
  if (!rc) rc = eval_vs(la, ma, &lb, mb, tok, n, &c->o, &ra, &rb, q);
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
