/* safetensors_spec.c: the spec's tensor list (DESIGN.md section 5) and the check of a
 * weights file against it.
 *
 * st_expected_tensors is the one list: the checker, the weight packer, the parameter count
 * of the summary and the random-weights tool all walk it, so they cannot disagree about a
 * name, a shape or the order (embedding, then layer by layer, then the final norm and the
 * head).  st_check_spec reports the first missing or mis-shaped tensor in that order, then
 * the first tensor the spec does not expect, with a hint at the spec key that would
 * explain it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "ytree.h"

typedef struct Emit {
  StExpectFn fn;
  void *ctx;
} Emit;

static void emit(Emit *e, const char *name, int rank, int64_t a, int64_t b) {
  int64_t shape[2] = {a, b};
  e->fn(name, rank, shape, e->ctx);
}

/* model.layers.{l}.<suffix> */
static void emit_l(Emit *e, int l, const char *suffix, int rank, int64_t a, int64_t b) {
  char name[160];
  snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);
  emit(e, name, rank, a, b);
}

static void emit_layer(Emit *e, const Spec *s, int l) {
  int64_t d = s->d_model, hd = spec_head_dim(s), q = s->n_heads * hd,
          kv = s->n_kv_heads * hd, ff = s->d_ff, h = s->predictor_hidden;
  emit_l(e, l, "input_layernorm.weight", 1, d, 0);
  emit_l(e, l, "self_attn.q_proj.weight", 2, q, d);
  emit_l(e, l, "self_attn.k_proj.weight", 2, kv, d);
  emit_l(e, l, "self_attn.v_proj.weight", 2, kv, d);
  emit_l(e, l, "self_attn.o_proj.weight", 2, d, q);
  emit_l(e, l, "post_attention_layernorm.weight", 1, d, 0);
  emit_l(e, l, "mlp.gate_proj.weight", 2, ff, d);
  emit_l(e, l, "mlp.up_proj.weight", 2, ff, d);
  emit_l(e, l, "mlp.down_proj.weight", 2, d, ff);
  if (!s->routed[l]) return;
  emit_l(e, l, "router.weight", 2, 1, d);
  if (s->router_bias) emit_l(e, l, "router.bias", 1, 1, 0);
  if (s->predictor != PRED_MLP) return;
  emit_l(e, l, "predictor.fc1.weight", 2, h, d);
  emit_l(e, l, "predictor.fc1.bias", 1, h, 0);
  emit_l(e, l, "predictor.fc2.weight", 2, 1, h);
  emit_l(e, l, "predictor.fc2.bias", 1, 1, 0);
}

void st_expected_tensors(const Spec *s, StExpectFn fn, void *ctx) {
  Emit e = {fn, ctx};
  emit(&e, "model.embed_tokens.weight", 2, s->vocab_size, s->d_model);
  for (int l = 0; l < s->n_layers; l++) emit_layer(&e, s, l);
  emit(&e, "model.norm.weight", 1, s->d_model, 0);
  if (!s->tie_embeddings) emit(&e, "lm_head.weight", 2, s->vocab_size, s->d_model);
}

/* ---- checking a file ---- */

typedef struct Check {
  const StFile *f;
  char *err;
  size_t errlen;
  int failed;
  char (*names)[160];       /* [n] expected names, sorted afterwards */
  int n, cap;
} Check;

static void fmt_shape(char *buf, size_t n, int rank, const int64_t *shape) {
  size_t o = (size_t)snprintf(buf, n, "[");
  for (int i = 0; i < rank && o < n; i++)
    o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? "," : "", (long long)shape[i]);
  if (o < n) snprintf(buf + o, n - o, "]");
}

static void remember(Check *c, const char *name) {
  if (c->n == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 256;
    c->names = realloc(c->names, (size_t)c->cap * sizeof *c->names);
    if (!c->names) abort();
  }
  snprintf(c->names[c->n++], sizeof *c->names, "%s", name);
}

static int same_shape(const StTensor *t, int rank, const int64_t *shape) {
  if (t->rank != rank) return 0;
  for (int i = 0; i < rank; i++)
    if (t->shape[i] != shape[i]) return 0;
  return 1;
}

static void check_one(const char *name, int rank, const int64_t *shape, void *ctx) {
  Check *c = ctx;
  char want[96], got[96];
  remember(c, name);
  if (c->failed) return;
  const StTensor *t = st_find(c->f, name);
  fmt_shape(want, sizeof want, rank, shape);
  if (!t) {
    snprintf(c->err, c->errlen, "%s: error: missing tensor '%s' (expected shape %s)",
             c->f->path, name, want);
    c->failed = 1;
  } else if (!same_shape(t, rank, shape)) {
    fmt_shape(got, sizeof got, t->rank, t->shape);
    snprintf(c->err, c->errlen, "%s: error: tensor '%s' has shape %s, expected %s", c->f->path,
             name, got, want);
    c->failed = 1;
  }
}

static int cmp_name(const void *a, const void *b) { return strcmp(a, b); }

/* why the spec might not expect this tensor, as " (...)" or "" */
static const char *extra_hint(const Spec *s, const char *name) {
  int l = -1, pos = 0;
  if (!strcmp(name, "lm_head.weight")) return " (the spec has tie_embeddings: true)";
  if (sscanf(name, "model.layers.%d.%n", &l, &pos) != 1 || pos == 0) return "";
  if (l < 0 || l >= s->n_layers) return " (beyond the spec's n_layers)";
  if (!strncmp(name + pos, "router.", 7) || !strncmp(name + pos, "predictor.", 10)) {
    if (!s->routed[l]) return " (the spec does not route this layer)";
    if (!strcmp(name + pos, "router.bias")) return " (the spec has router_bias: false)";
    if (!strncmp(name + pos, "predictor.", 10)) return " (not a tensor of the spec's mlp predictor)";
    return "";
  }
  return "";
}

/* a tensor the spec chose not to use: a router or predictor tensor of a layer the spec made
 * dense (per_layer.L.dense), or a predictor tensor of a routed layer when the spec routes by
 * the router (predictor: router), so that a checkpoint trained with the auxiliary predictor
 * can be compiled under either rule */
static int ignorable(const Spec *s, const char *name) {
  int l = -1, pos = 0;
  if (sscanf(name, "model.layers.%d.%n", &l, &pos) != 1 || pos == 0 || l < 0 || l >= s->n_layers) return 0;
  int pred = !strncmp(name + pos, "predictor.", 10);
  if (s->made_dense[l]) return pred || !strncmp(name + pos, "router.", 7);
  return s->routed[l] && pred && s->predictor == PRED_ROUTER;
}

int st_check_spec(const StFile *f, const Spec *s, char *err, size_t errlen) {
  Check c = {.f = f, .err = err, .errlen = errlen};
  st_expected_tensors(s, check_one, &c);
  if (!c.failed) qsort(c.names, (size_t)c.n, sizeof *c.names, cmp_name);
  for (int i = 0; i < f->n && !c.failed; i++) {
    const char *name = f->t[i].name;
    if (st_name_ends(name, "rotary_emb.inv_freq") || ignorable(s, name)) continue;
    if (bsearch(name, c.names, (size_t)c.n, sizeof *c.names, cmp_name)) continue;
    char q[256];
    ytree_quote(name, strlen(name), q, sizeof q);
    snprintf(err, errlen, "%s: error: unexpected tensor '%s'%s", f->path, q,
             extra_hint(s, name));
    c.failed = 1;
  }
  free(c.names);
  return c.failed ? -1 : 0;
}
