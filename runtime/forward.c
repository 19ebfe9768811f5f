/* forward.c: modc_forward, whole sequences with top-k routing at a compiled shape.
 *
 * Each (batch, seq_len) in the descriptor has a graph for one sequence of seq_len tokens;
 * the rows of a batch never interact, so they run one after another through the same
 * planned arena.  The arena and dims belong to the model, hence the lock: concurrent
 * forward calls on one model take turns (sessions have their own buffers and do not).
 */
#include <stdio.h>
#include "internal.h"

int rt_check_tokens(const char *fn, const int32_t *tokens, int64_t n, int64_t vocab) {
  for (int64_t i = 0; i < n; i++)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      return rt_error(MODC_ERR_ARG, "%s: token %d at index %lld is out of range [0, %lld)",
                      fn, tokens[i], (long long)i, (long long)vocab);
  return 0;
}

/* Index of the compiled shape (batch, seq_len), or an error listing the compiled ones. */
static int find_shape(const modc_desc *d, int batch, int seq_len) {
  char list[256] = "";
  size_t used = 0;
  for (int64_t i = 0; i < d->n_shapes; i++) {
    if (d->shapes[2 * i] == batch && d->shapes[2 * i + 1] == seq_len) return (int)i;
    if (used < sizeof list)
      used += snprintf(list + used, sizeof list - used, "%s(%d, %d)", i ? ", " : "",
                       d->shapes[2 * i], d->shapes[2 * i + 1]);
  }
  return rt_error(MODC_ERR_ARG, "modc_forward: shape (batch %d, seq_len %d) was not "
                  "compiled; this library has %s; recompile with --shape %d,%d", batch,
                  seq_len, d->n_shapes ? list : "none", batch, seq_len);
}

static void run_rows(modc_model *m, int shape, int batch, int seq_len,
                     const int32_t *tokens, float *logits) {
  const modc_desc *d = m->desc;
  modc_exec x = {0};
  x.weights = m->weights;
  x.arena = m->arena;
  x.pos = m->pos;
  x.dims = m->dims;
  x.nthreads = m->nthreads;
  x.pool = m->pool;
  m->dims[0] = seq_len;
  for (int b = 0; b < batch; b++) {
    x.tokens = tokens + (int64_t)b * seq_len;
    x.out = logits + (int64_t)b * seq_len * d->vocab_size;
    rt_run_graph(d->forward[shape], &x);
  }
}

RT_API int modc_forward(modc_model *m, int batch, int seq_len, const int32_t *tokens,
                        float *logits) {
  if (!m || !tokens || !logits)
    return rt_error(MODC_ERR_ARG, "modc_forward: %s is NULL",
                    !m ? "model" : !tokens ? "tokens" : "logits");
  const modc_desc *d = m->desc;
  int shape = find_shape(d, batch, seq_len);
  if (shape < 0) return shape;
  int rc = rt_check_tokens("modc_forward", tokens, (int64_t)batch * seq_len, d->vocab_size);
  if (rc) return rc;
  pthread_mutex_lock(&m->lock);
  run_rows(m, shape, batch, seq_len, tokens, logits);
  pthread_mutex_unlock(&m->lock);
  return 0;
}
