/* session.c: sessions, i.e. prefill and decode with causal routing (DESIGN.md sections 4, 6).
 *
 * A session owns every buffer its calls touch, allocated once by modc_session_open: the
 * planned arena, dims, and per layer a KV cache [max_seq][n_kv_heads*head_dim] for keys and
 * for values, the cached rows' positions, and the routing trace by position.  The session
 * graph appends to the caches and writes the trace; the runtime only hands it positions
 * len..len+n-1 and advances len.  A routed layer's cache holds only the tokens that took the
 * block, yet is sized max_seq so that no input can overflow it.  Sessions share the model's
 * read-only weights and nothing else, so separate sessions need no lock.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static size_t round_up(size_t n) { return (n + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN; }

/* Carve every layer's k, v, kv_pos and route out of one 64-byte aligned block. */
static int alloc_kv(modc_session *s, const modc_desc *d) {
  size_t L = (size_t)d->n_layers, T = (size_t)d->max_seq_len;
  size_t kv = round_up(T * (size_t)(d->n_kv_heads * d->head_dim) * sizeof(float));
  size_t ps = round_up(T * sizeof(int32_t)), rs = round_up(T);
  size_t per_layer = 2 * kv + ps + rs;
  uint8_t *p = rt_alloc(per_layer * L);
  s->kv_block = p;
  if (!p) return -1;
  for (size_t l = 0; l < L; l++, p += per_layer) {
    s->kv_k[l] = (float *)p;
    s->kv_v[l] = (float *)(p + kv);
    s->kv_pos[l] = (int32_t *)(p + 2 * kv);
    s->route[l] = p + 2 * kv + ps;
  }
  return 0;
}

static int alloc_session(modc_session *s, const modc_desc *d) {
  size_t L = (size_t)d->n_layers;
  s->arena = rt_alloc((size_t)d->session_arena);
  s->dims = rt_alloc((size_t)(d->session_nsym > 1 ? d->session_nsym : 1) * sizeof(int64_t));
  s->kv_k = rt_alloc(L * sizeof *s->kv_k);
  s->kv_v = rt_alloc(L * sizeof *s->kv_v);
  s->kv_pos = rt_alloc(L * sizeof *s->kv_pos);
  s->kv_len = rt_alloc(L * sizeof *s->kv_len);
  s->route = rt_alloc(L * sizeof *s->route);
  s->pos = rt_alloc((size_t)d->max_seq_len * sizeof *s->pos);
  s->scratch = rt_alloc((size_t)d->vocab_size * sizeof *s->scratch);
  if (!s->arena || !s->dims || !s->kv_k || !s->kv_v || !s->kv_pos || !s->kv_len ||
      !s->route || !s->pos || !s->scratch)
    return -1;
  return alloc_kv(s, d);
}

RT_API int modc_session_open(modc_model *m, modc_session **out) {
  if (!m || !out)
    return rt_error(MODC_ERR_ARG, "modc_session_open: %s is NULL", !m ? "model" : "out");
  *out = NULL;
  if (!m->desc->session)
    return rt_error(MODC_ERR_ARG, "modc_session_open: this library has no session graph");
  modc_session *s = calloc(1, sizeof *s);
  if (s) s->m = m;
  if (!s || alloc_session(s, m->desc)) {
    modc_session_close(s);
    return rt_error(MODC_ERR_NOMEM, "modc_session_open: out of memory (KV caches for %lld "
                    "layers of %lld tokens)", (long long)m->desc->n_layers,
                    (long long)m->desc->max_seq_len);
  }
  *out = s;
  return 0;
}

RT_API void modc_session_close(modc_session *s) {
  if (!s) return;
  free(s->arena);
  free(s->dims);
  free(s->kv_k);
  free(s->kv_v);
  free(s->kv_pos);
  free(s->kv_len);
  free(s->route);
  free(s->pos);
  free(s->scratch);
  free(s->kv_block);
  free(s);
}

RT_API int modc_session_reset(modc_session *s) {
  if (!s) return rt_error(MODC_ERR_ARG, "modc_session_reset: session is NULL");
  const modc_desc *d = s->m->desc;
  s->len = 0;
  memset(s->kv_len, 0, (size_t)d->n_layers * sizeof *s->kv_len);
  for (int64_t l = 0; l < d->n_layers; l++) memset(s->route[l], 0, (size_t)d->max_seq_len);
  return 0;
}

/* Validate a call of n new tokens; nothing in the session changes when it fails. */
static int check_prefill(const char *fn, const modc_session *s, const int32_t *tokens,
                         int n) {
  if (!s || !tokens)
    return rt_error(MODC_ERR_ARG, "%s: %s is NULL", fn, !s ? "session" : "tokens");
  const modc_desc *d = s->m->desc;
  if (n < 1) return rt_error(MODC_ERR_ARG, "%s: n = %d, needs at least one token", fn, n);
  if (n > d->max_seq_len - s->len)
    return rt_error(MODC_ERR_FULL, "%s: %d more tokens would pass max_seq_len %lld (the "
                    "session holds %lld); reset it or recompile with a larger max_seq_len",
                    fn, n, (long long)d->max_seq_len, (long long)s->len);
  return rt_check_tokens(fn, tokens, n, d->vocab_size);
}

static int run_session(const char *fn, modc_session *s, const int32_t *tokens, int n,
                       float *last_logits) {
  int rc = check_prefill(fn, s, tokens, n);
  if (rc) return rc;
  modc_model *m = s->m;
  for (int i = 0; i < n; i++) s->pos[i] = (int32_t)(s->len + i);
  s->dims[0] = n;
  modc_exec x = {
    .weights = m->weights, .arena = s->arena, .tokens = tokens, .pos = s->pos,
    .out = last_logits ? last_logits : s->scratch, .dims = s->dims, .kv_k = s->kv_k,
    .kv_v = s->kv_v, .kv_pos = s->kv_pos, .kv_len = s->kv_len, .route = s->route,
    .nthreads = m->nthreads, .pool = m->pool,
  };
  rt_run_graph(m->desc->session, &x);
  s->len += n;
  return 0;
}

RT_API int modc_prefill(modc_session *s, const int32_t *tokens, int n, float *last_logits) {
  return run_session("modc_prefill", s, tokens, n, last_logits);
}

RT_API int modc_decode(modc_session *s, int32_t token, float *logits) {
  return run_session("modc_decode", s, &token, 1, logits);
}

RT_API int modc_routing(const modc_session *s, int layer, uint8_t *taken, int n) {
  if (!s || !taken)
    return rt_error(MODC_ERR_ARG, "modc_routing: %s is NULL", !s ? "session" : "taken");
  const modc_desc *d = s->m->desc;
  if (layer < 0 || layer >= d->n_layers)
    return rt_error(MODC_ERR_ARG, "modc_routing: layer %d out of range [0, %lld)", layer,
                    (long long)d->n_layers);
  if (!d->routed || !d->routed[layer])
    return rt_error(MODC_ERR_ARG, "modc_routing: layer %d is dense (not routed)", layer);
  if (n < 0) return rt_error(MODC_ERR_ARG, "modc_routing: n = %d is negative", n);
  int count = n < s->len ? n : (int)s->len;
  for (int t = 0; t < count; t++) taken[t] = s->route[layer][t] != 0;
  return count;
}
