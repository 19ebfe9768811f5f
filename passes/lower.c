/* lower.c: the lower-mod pass, mod.block into explicit routing.
 * require: typed.  provide: typed, no mod.block, no region.
 *
 * forward (top-k routing, DESIGN section 4):
 *   r = h W_router^T (+ b)            [R,1]
 *   idx = topk(r) {k}                 [k]
 *   x = gather(h, idx); p = gather(pos, idx)
 *   y = body(x, p)                    the region, inlined
 *   h' = scatter_gate(h, idx, y, r)   h[idx] = x + g(r[idx]) (y - x)
 * session, or forward under routing.forward: threshold (causal routing, block_is_causal): the
 * same, but the decision is a predictor score p, router or mlp (p = fc2(silu(fc1 h))), and
 * idx = select(p, pos) keeps the rows with p > threshold (attr, default 0); its row count is
 * the block's symbol, known at run time.
 */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

typedef struct Lower {
  const Graph *src;
  Graph *dst;
  int *map;                 /* src node -> dst node */
} Lower;

static int emit(Lower *L, Op op, int nin, const int *in) { return graph_add(L->dst, op, nin, in); }

static int emit2(Lower *L, Op op, int a, int b) {
  int in[2] = {a, b};
  return emit(L, op, 2, in);
}

/* copy node i (operands remapped) */
static int copy(Lower *L, int i) {
  const Node *s = &L->src->n[i];
  int in[IR_MAXIN];
  for (int k = 0; k < s->nin; k++) in[k] = L->map[s->in[k]];
  int j = emit(L, s->op, s->nin, in);
  Node *d = &L->dst->n[j];
  d->nattr = s->nattr;
  memcpy(d->attr, s->attr, sizeof s->attr);
  d->ty = s->ty;
  return j;
}

/* the block's decision score for causal routing */
static int predictor(Lower *L, const Node *b, int h, int r) {
  if (strcmp(attr_s(b, "predictor", "router"), "mlp")) return r;
  int base = 3 + (int)attr_i(b, "router_bias", 0);
  int t = emit2(L, OP_MATMUL, h, L->map[b->in[base]]);
  t = emit2(L, OP_BIAS_ADD, t, L->map[b->in[base + 1]]);
  int one[1] = {t};
  t = emit(L, OP_SILU, 1, one);
  t = emit2(L, OP_MATMUL, t, L->map[b->in[base + 2]]);
  return emit2(L, OP_BIAS_ADD, t, L->map[b->in[base + 3]]);
}

static void lower_block(Lower *L, int bi) {
  const Node *b = &L->src->n[bi];
  int h = L->map[b->in[0]], pos = L->map[b->in[1]];
  int r = emit2(L, OP_MATMUL, h, L->map[b->in[2]]);
  if (attr_i(b, "router_bias", 0)) r = emit2(L, OP_BIAS_ADD, r, L->map[b->in[3]]);
  int idx;
  if (!block_is_causal(L->src, b)) {
    int in[1] = {r};
    idx = emit(L, OP_TOPK, 1, in);
    attr_set_i(&L->dst->n[idx], "k", attr_i(b, "k", 1));
    attr_set_i(&L->dst->n[idx], "layer", attr_i(b, "layer", 0));
  } else {
    idx = emit2(L, OP_SELECT, predictor(L, b, h, r), pos);
    attr_set_i(&L->dst->n[idx], "layer", attr_i(b, "layer", 0));
    attr_set_i(&L->dst->n[idx], "sym", attr_i(b, "sym", 0));
    if (attr_get(b, "threshold")) attr_set_f(&L->dst->n[idx], "threshold", attr_f(b, "threshold", 0));
  }
  int x = emit2(L, OP_GATHER, h, idx), p = emit2(L, OP_GATHER, pos, idx);
  int y = -1;
  for (int j = bi + 1; j < b->body_end; j++) {
    const Node *s = &L->src->n[j];
    if (s->op == OP_BLOCK_ARG) L->map[j] = attr_i(s, "index", 0) == 0 ? x : p;
    else if (s->op == OP_YIELD) y = L->map[s->in[0]];
    else L->map[j] = copy(L, j);
  }
  int in[4] = {h, idx, y, r};
  int out = emit(L, OP_SCATTER_GATE, 4, in);
  attr_set_s(&L->dst->n[out], "gate", attr_s(b, "gate", "raw"));
  L->map[bi] = out;
}

int pass_lower_mod(Graph **gp, char *err, size_t errlen) {
  const Graph *g = *gp;
  Lower L = {g, graph_new(g->name, g->mode), calloc(g->len ? g->len : 1, sizeof(int))};
  L.dst->nsym = g->nsym;
  memcpy(L.dst->symbound, g->symbound, sizeof g->symbound);
  for (int i = 0; i < g->len; i++) {
    if (g->n[i].op == OP_MOD_BLOCK) {
      lower_block(&L, i);
      i = g->n[i].body_end - 1;
    } else {
      L.map[i] = copy(&L, i);
    }
  }
  free(L.map);
  if (pass_infer_shapes(L.dst, err, errlen)) {
    graph_free(L.dst);
    return -1;
  }
  graph_free(*gp);
  *gp = L.dst;
  return 0;
}
