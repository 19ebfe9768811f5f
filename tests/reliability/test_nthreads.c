/* test_nthreads.c: a compiled model gives the same bits whatever its thread count (issue 4,
 * item 5).
 *
 * runtime/parallel.c cuts each kernel's independent items (rows, column blocks, (row, head)
 * pairs) into one contiguous chunk per thread, and codegen/kernels.c computes every output
 * element with the same instruction sequence whichever chunk holds it; no reduction is ever
 * split across threads.  So modc_open with n_threads 1, 2, 3, 5 and 8 must agree exactly.
 * Compared with memcmp against the first count: modc_forward at every compiled shape, and a
 * session (a prefill, a second prefill starting mid-sequence, decode steps), its logits and
 * the routing trace of every layer.  A difference is reported by output, row and column.
 *
 * usage: test_nthreads LIB.so [NTHREADS...]   (default 1 2 3 5 8)
 */
#include <math.h>
#include <stdlib.h>
#include "modclib.h"

#define DECODES 8

typedef struct Run {
  float *logits;   /* every forward shape's [batch*seq_len][vocab], then the session's [steps][vocab] */
  uint8_t *route;  /* [n_layers][session tokens]; dense layers stay 0 */
  int *route_rc;   /* [n_layers] */
} Run;

typedef struct Plan {
  const modc_info *info;
  int p1, p2;             /* the two prefills' lengths */
  size_t n_fwd, n_all;    /* floats of forward outputs; of everything */
  int32_t *tok;           /* [p1 + p2 + DECODES] session tokens, then forward tokens */
  int32_t *ftok;          /* [max batch*seq_len] */
} Plan;

static int n_sess(const Plan *p) { return p->p1 + p->p2 + DECODES; }

static int plan_init(Plan *p, const modc_info *in) {
  p->info = in;
  p->p1 = in->max_seq_len / 3 > 37 ? 37 : in->max_seq_len / 3;
  p->p2 = in->max_seq_len / 4 > 20 ? 20 : in->max_seq_len / 4;
  if (p->p1 < 1 || p->p2 < 1 || n_sess(p) > in->max_seq_len)
    return fprintf(stderr, "max_seq_len %d is too small for this test\n", in->max_seq_len), -1;
  size_t maxbt = 0;
  p->n_fwd = 0;
  for (int i = 0; i < in->n_shapes; i++) {
    size_t bt = (size_t)in->shapes[i][0] * in->shapes[i][1];
    p->n_fwd += bt * in->vocab_size;
    if (bt > maxbt) maxbt = bt;
  }
  p->n_all = p->n_fwd + (size_t)(2 + DECODES) * in->vocab_size;
  p->tok = malloc(n_sess(p) * sizeof *p->tok);
  p->ftok = malloc((maxbt ? maxbt : 1) * sizeof *p->ftok);
  if (!p->tok || !p->ftok) return fprintf(stderr, "out of memory\n"), -1;
  modclib_tokens(p->tok, n_sess(p), in->vocab_size, 7);
  modclib_tokens(p->ftok, (int)maxbt, in->vocab_size, 8);
  return 0;
}

/* The session part of a run: prefill p1, prefill p2, DECODES decodes, the traces. */
static int run_session(const ModcLib *l, modc_model *m, const Plan *p, Run *r) {
  int V = p->info->vocab_size, N = n_sess(p);
  float *lg = r->logits + p->n_fwd;
  modc_session *s;
  if (l->session_open(m, &s)) return fprintf(stderr, "session_open: %s\n", l->last_error()), -1;
  int rc = l->prefill(s, p->tok, p->p1, lg) || l->prefill(s, p->tok + p->p1, p->p2, lg + V);
  for (int i = 0; !rc && i < DECODES; i++)
    rc = l->decode(s, p->tok[p->p1 + p->p2 + i], lg + (size_t)(2 + i) * V);
  if (rc) fprintf(stderr, "session: %s\n", l->last_error());
  for (int layer = 0; !rc && layer < p->info->n_layers; layer++)
    r->route_rc[layer] = l->routing(s, layer, r->route + (size_t)layer * N, N);
  l->session_close(s);
  return rc ? -1 : 0;
}

/* Everything the model computes, on nt threads. */
static int run_all(const ModcLib *l, const Plan *p, int nt, Run *r) {
  const modc_info *in = p->info;
  modc_model *m;
  if (l->open(NULL, nt, &m)) return fprintf(stderr, "modc_open: %s\n", l->last_error()), -1;
  float *out = r->logits;
  int rc = 0;
  for (int i = 0; !rc && i < in->n_shapes; i++) {
    int B = in->shapes[i][0], T = in->shapes[i][1];
    rc = l->forward(m, B, T, p->ftok, out);
    if (rc) fprintf(stderr, "modc_forward (%d, %d): %s\n", B, T, l->last_error());
    out += (size_t)B * T * in->vocab_size;
  }
  if (!rc) rc = run_session(l, m, p, r);
  l->close(m);
  return rc;
}

/* Name the output float i belongs to, by shape/step, row and column. */
static void locate(const Plan *p, size_t i, char *buf, size_t n) {
  const modc_info *in = p->info;
  size_t V = in->vocab_size;
  for (int s = 0; s < in->n_shapes; s++) {
    size_t sz = (size_t)in->shapes[s][0] * in->shapes[s][1] * V;
    if (i < sz) {
      snprintf(buf, n, "modc_forward (%d, %d), row %zu, column %zu", in->shapes[s][0],
               in->shapes[s][1], i / V, i % V);
      return;
    }
    i -= sz;
  }
  size_t step = i / V;
  snprintf(buf, n, "session %s %zu, column %zu", step < 2 ? "prefill" : "decode",
           step < 2 ? step + 1 : step - 1, i % V);
}

/* 0 if b == a bit for bit; else report the first difference and the largest one. */
static int compare(const Plan *p, const Run *a, const Run *b, int nta, int ntb) {
  long at = modclib_first_diff(b->logits, a->logits, p->n_all);
  int N = n_sess(p), L = p->info->n_layers;
  if (at < 0) {
    if (!memcmp(a->route, b->route, (size_t)L * N) && !memcmp(a->route_rc, b->route_rc, L * sizeof(int)))
      return 0;
    printf("FAIL n_threads %d: routing traces differ from n_threads %d\n", ntb, nta);
    return -1;
  }
  double maxd = 0;
  size_t ndiff = 0;
  for (size_t i = 0; i < p->n_all; i++)
    if (memcmp(&a->logits[i], &b->logits[i], sizeof(float))) {
      ndiff++;
      double d = fabs((double)a->logits[i] - b->logits[i]);
      if (d > maxd) maxd = d;
    }
  char where[200];
  locate(p, (size_t)at, where, sizeof where);
  printf("FAIL n_threads %d differs from n_threads %d: first at %s (%.9g vs %.9g); %zu of %zu "
         "floats differ, largest difference %.3g\n", ntb, nta, where, b->logits[at],
         a->logits[at], ndiff, p->n_all, maxd);
  return -1;
}

static int run_alloc(const Plan *p, Run *r) {
  r->logits = calloc(p->n_all, sizeof(float));
  r->route = calloc((size_t)p->info->n_layers * n_sess(p), 1);
  r->route_rc = calloc(p->info->n_layers, sizeof(int));
  return r->logits && r->route && r->route_rc ? 0 : -1;
}

static void run_free(Run *r) { free(r->logits), free(r->route), free(r->route_rc); }

int main(int argc, char **argv) {
  if (argc < 2) return fprintf(stderr, "usage: test_nthreads LIB.so [NTHREADS...]\n"), 2;
  int counts[16] = {1, 2, 3, 5, 8}, nc = 5;
  if (argc > 2) {
    nc = 0;
    for (int i = 2; i < argc && nc < 16; i++) counts[nc++] = atoi(argv[i]);
  }
  ModcLib l;
  modc_model *m;
  if (modclib_load(argv[1], &l)) return 2;
  if (l.open(NULL, 1, &m)) return fprintf(stderr, "modc_open: %s\n", l.last_error()), 2;
  Plan p;
  Run ref, got;
  int fails = 0;
  if (plan_init(&p, l.info(m)) || run_alloc(&p, &ref) || run_alloc(&p, &got) ||
      run_all(&l, &p, counts[0], &ref))
    return 2;
  for (int c = 1; c < nc; c++) {
    memset(got.logits, 0xff, p.n_all * sizeof(float));
    if (run_all(&l, &p, counts[c], &got)) return 2;
    if (compare(&p, &ref, &got, counts[0], counts[c])) fails++;
    else printf("ok   n_threads %d: %zu logits and the routing traces match n_threads %d\n",
                counts[c], p.n_all, counts[0]);
  }
  run_free(&ref), run_free(&got);
  free(p.tok), free(p.ftok);
  l.close(m);
  return fails != 0;
}
