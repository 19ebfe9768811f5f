/* eval.h: modc eval (tools/eval.c), the quality of a compiled library on a token file.
 *
 * The file is cut into windows of W tokens: [0, W), [W, 2W), ..., and when the file does not
 * end on a window's edge, a last window [n - W, n).  Every token but the first of each whole
 * window is predicted once, from the tokens before it in its window (the last window scores
 * only the tokens the others did not).  forward mode: W is a compiled shape's seq_len and windows go B at a time
 * through modc_forward (top-k routing); session mode: each window is one session fed token by
 * token (causal routing, the decode path), W = --window.  The NLL is the mean of
 * logsumexp(logits) - logits[target] in double precision, in nats per token.
 * tune --routing measures quality with eval_run and latency with eval_pair.
 */
#ifndef MODC_EVAL_H
#define MODC_EVAL_H

#include <stdint.h>
#include "runtime/modc_load.h"

#define EVAL_MAX_LAYERS 256

typedef enum { EVAL_FORWARD, EVAL_SESSION } EvalMode;

typedef struct EvalOpts {
  EvalMode mode;
  int window;               /* session: tokens per window (0: min(max_seq_len, 512)) */
  int progress;             /* print progress lines (cli_progress) */
  double *win_nll;          /* NULL, or [eval_window_count(n, W)]: each window's summed NLL (the
                               paired margins of tune --routing) */
} EvalOpts;

typedef struct EvalResult {
  double nll;               /* mean nats per predicted token */
  long long tokens;         /* tokens predicted */
  int batch, window;        /* the windows used (forward: the compiled shape) */
  int n_layers;
  int routed[EVAL_MAX_LAYERS];   /* 1 for routed layers */
  double take[EVAL_MAX_LAYERS];  /* fraction of the tokens fed that took the block */
  double seconds;           /* wall time of the model calls */
  long long calls;          /* forward: modc_forward calls; session: token steps (prefill of
                               one token or a decode) */
  double ms_median;         /* the median over windows (session) or calls (forward) of the
                               milliseconds per call: the latency tune --routing compares */
} EvalResult;

/* the windows of W tokens that n tokens are cut into */
int eval_window_count(int n, int W);

/* Evaluate tok[0..n) on an open model.  Returns 0, or 1 after cli_fail. */
int eval_run(const ModcLib *a, modc_model *m, const int32_t *tok, int n, const EvalOpts *o,
             EvalResult *r);

/* A and B on the same windows, alternating step by step in one process (session: window by
 * window; forward: call by call, which needs both libraries' longest compiled shape to be
 * one), so that what slows the machine for seconds at a time slows both alike: each step's
 * B/A ms is one sample of their speed ratio, ratio = {median, 10th, 90th percentile}.
 * o->win_nll (when not NULL) takes B's per-window sums.  Returns 0, or 1 after cli_fail. */
int eval_pair(const ModcLib *la, modc_model *ma, const ModcLib *lb, modc_model *mb, const int32_t *tok, int n,
              const EvalOpts *o, EvalResult *ra, EvalResult *rb, double ratio[3]);

int eval_main(int argc, char **argv);

#endif
