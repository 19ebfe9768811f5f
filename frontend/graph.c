/* graph.c: a spec as graph IR (DESIGN section 4), before any pass.
 *
 * One builder serves both execution modes; they differ in three places: the row count
 * (forward: T constants; session: symbol 0), the routed blocks' row counts (forward: the
 * attr k of top-k; session: a symbol per routed layer, set at run time by causal routing),
 * and attention (forward: among this call's rows; session: through the layer's KV cache).
 * Sessions only need the last row's logits, so their head starts with take_last.
 */
#include <stdio.h>
#include <stdlib.h>
#include "graph.h"

typedef struct Builder {
  Graph *g;
  const Spec *s;
  const WLayout *w;
  int parent;               /* mod.block whose region is being built, or -1 */
} Builder;

static int add(Builder *b, Op op, int nin, int a0, int a1, int a2, int a3) {
  int in[4] = {a0, a1, a2, a3};
  int i = graph_add(b->g, op, nin, in);
  b->g->n[i].parent = b->parent;
  return i;
}

static int op1(Builder *b, Op op, int a) { return add(b, op, 1, a, 0, 0, 0); }
static int op2(Builder *b, Op op, int a, int c) { return add(b, op, 2, a, c, 0, 0); }

/* weight node for a tensor of the layout; top level, typed by the layout.  A panel-packed
 * matrix says so (layout = "panel", nr = NR): the matmul kernels and the interpreter read
 * that layout.  panel: the head of a tied model asks for the table's packed copy. */
static int weight_of(Builder *b, const char *name, int panel) {
  const WEntry *e = panel ? wlayout_find_panel(b->w, name) : wlayout_find(b->w, name);
  if (!e) {
    fprintf(stderr, "modc: internal error: tensor '%s' missing from the weight layout\n", name);
    abort();
  }
  int saved = b->parent;
  b->parent = -1;
  int i = add(b, OP_WEIGHT, 0, 0, 0, 0, 0);
  b->parent = saved;
  Node *n = &b->g->n[i];
  attr_set_s(n, "name", name);
  attr_set_i(n, "offset", e->offset);
  if (e->nr) {
    attr_set_s(n, "layout", "panel");
    attr_set_i(n, "nr", e->nr);
  }
  n->ty = type_make(e->dt, e->rank, e->shape);
  return i;
}

static int weight(Builder *b, const char *name) { return weight_of(b, name, 0); }

static int layer_weight(Builder *b, int l, const char *suffix) {
  char name[160];
  snprintf(name, sizeof name, "model.layers.%d.%s", l, suffix);
  return weight(b, name);
}

typedef struct LayerW {
  int in_ln, q, k, v, o, post_ln, gate, up, down;
} LayerW;

static LayerW layer_weights(Builder *b, int l) {
  LayerW w;
  w.in_ln = layer_weight(b, l, "input_layernorm.weight");
  w.q = layer_weight(b, l, "self_attn.q_proj.weight");
  w.k = layer_weight(b, l, "self_attn.k_proj.weight");
  w.v = layer_weight(b, l, "self_attn.v_proj.weight");
  w.o = layer_weight(b, l, "self_attn.o_proj.weight");
  w.post_ln = layer_weight(b, l, "post_attention_layernorm.weight");
  w.gate = layer_weight(b, l, "mlp.gate_proj.weight");
  w.up = layer_weight(b, l, "mlp.up_proj.weight");
  w.down = layer_weight(b, l, "mlp.down_proj.weight");
  return w;
}

static int rmsnorm(Builder *b, int x, int w) {
  int i = op2(b, OP_RMSNORM, x, w);
  attr_set_f(&b->g->n[i], "eps", b->s->norm_eps);
  return i;
}

static int rope(Builder *b, int x, int pos, int heads) {
  int i = op2(b, OP_ROPE, x, pos);
  attr_set_i(&b->g->n[i], "heads", heads);
  attr_set_f(&b->g->n[i], "theta", b->s->rope_theta);
  return i;
}

static int attention(Builder *b, int l, int q, int k, int v, int pos) {
  int session = b->g->mode == GRAPH_SESSION;
  int i = add(b, session ? OP_KV_ATTENTION : OP_ATTENTION, 4, q, k, v, pos);
  Node *n = &b->g->n[i];
  if (session) attr_set_i(n, "layer", l);
  attr_set_i(n, "heads", b->s->n_heads);
  attr_set_i(n, "kv_heads", b->s->n_kv_heads);
  return i;
}

/* block(x, pos): the pre-norm Llama block of DESIGN section 4 */
static int block_body(Builder *b, int l, const LayerW *w, int x, int pos) {
  int u = rmsnorm(b, x, w->in_ln);
  int q = rope(b, op2(b, OP_MATMUL, u, w->q), pos, b->s->n_heads);
  int k = rope(b, op2(b, OP_MATMUL, u, w->k), pos, b->s->n_kv_heads);
  int v = op2(b, OP_MATMUL, u, w->v);
  int att = attention(b, l, q, k, v, pos);
  int a = op2(b, OP_ADD, x, op2(b, OP_MATMUL, att, w->o));
  int z = rmsnorm(b, a, w->post_ln);
  int m = op2(b, OP_SILU_MUL, op2(b, OP_MATMUL, z, w->gate), op2(b, OP_MATMUL, z, w->up));
  return op2(b, OP_ADD, a, op2(b, OP_MATMUL, m, w->down));
}

static void block_attrs(Builder *b, Node *n, int l, int T) {
  const Spec *s = b->s;
  attr_set_i(n, "layer", l);
  attr_set_f(n, "capacity", s->capacity[l]);
  int causal = b->g->mode == GRAPH_SESSION || s->forward == FWD_THRESHOLD;
  if (!causal) attr_set_i(n, "k", spec_capacity_k(s->capacity[l], T));
  else attr_set_i(n, "sym", graph_add_sym(b->g, b->g->mode == GRAPH_SESSION ? s->max_seq_len : T));
  if (causal && s->threshold[l] != 0) attr_set_f(n, "threshold", s->threshold[l]);
  attr_set_s(n, "gate", s->gate == GATE_RAW ? "raw" : "sigmoid");
  attr_set_s(n, "predictor", s->predictor == PRED_ROUTER ? "router" : "mlp");
  attr_set_i(n, "router_bias", s->router_bias);
}

/* mod.block(h, pos, router weights..., predictor weights...) with the body as its region */
static int routed_layer(Builder *b, int l, int h, int pos, int T) {
  const Spec *s = b->s;
  LayerW w = layer_weights(b, l);
  int in[IR_MAXIN], nin = 0;
  in[nin++] = h;
  in[nin++] = pos;
  in[nin++] = layer_weight(b, l, "router.weight");
  if (s->router_bias) in[nin++] = layer_weight(b, l, "router.bias");
  if (s->predictor == PRED_MLP) {
    in[nin++] = layer_weight(b, l, "predictor.fc1.weight");
    in[nin++] = layer_weight(b, l, "predictor.fc1.bias");
    in[nin++] = layer_weight(b, l, "predictor.fc2.weight");
    in[nin++] = layer_weight(b, l, "predictor.fc2.bias");
  }
  int blk = graph_add(b->g, OP_MOD_BLOCK, nin, in);
  block_attrs(b, &b->g->n[blk], l, T);
  b->parent = blk;
  int x = add(b, OP_BLOCK_ARG, 0, 0, 0, 0, 0);
  attr_set_i(&b->g->n[x], "index", 0);
  int p = add(b, OP_BLOCK_ARG, 0, 0, 0, 0, 0);
  attr_set_i(&b->g->n[p], "index", 1);
  /* the body's weights were created above, at top level, before the block */
  int y = block_body(b, l, &w, x, p);
  op1(b, OP_YIELD, y);
  b->parent = -1;
  b->g->n[blk].body_end = b->g->len;
  return blk;
}

static int input(Builder *b, const char *name, int64_t rows) {
  int i = add(b, OP_INPUT, 0, 0, 0, 0, 0);
  attr_set_s(&b->g->n[i], "name", name);
  b->g->n[i].ty = type_make(DT_I32, 1, &rows);
  return i;
}

static Graph *build(const Spec *s, const WLayout *w, GraphMode mode, int T, const char *name) {
  Builder b = {graph_new(name, mode), s, w, -1};
  int64_t rows = T;
  if (mode == GRAPH_SESSION) rows = DIM_SYM(graph_add_sym(b.g, s->max_seq_len));
  int tok = input(&b, "tokens", rows);
  int pos = input(&b, "pos", rows);
  int h = op2(&b, OP_EMBED, tok, weight(&b, "model.embed_tokens.weight"));
  for (int l = 0; l < s->n_layers; l++) {
    if (s->routed[l]) {
      h = routed_layer(&b, l, h, pos, T);
    } else {
      LayerW lw = layer_weights(&b, l);
      h = block_body(&b, l, &lw, h, pos);
    }
  }
  if (mode == GRAPH_SESSION) h = op1(&b, OP_TAKE_LAST, h);
  int norm = rmsnorm(&b, h, weight(&b, "model.norm.weight"));
  int lm = weight_of(&b, s->tie_embeddings ? "model.embed_tokens.weight" : "lm_head.weight", 1);
  int out = op1(&b, OP_OUTPUT, op2(&b, OP_MATMUL, norm, lm));
  attr_set_s(&b.g->n[out], "name", "logits");
  return b.g;
}

Graph *build_forward(const Spec *s, const WLayout *w, int T) {
  char name[64];
  snprintf(name, sizeof name, "forward_t%d", T);
  return build(s, w, GRAPH_FORWARD, T, name);
}

Graph *build_session(const Spec *s, const WLayout *w) {
  return build(s, w, GRAPH_SESSION, 0, "session");
}
