/* kkey.c: kernel keys (kkey.h), one function per op kind in one table.
 *
 * The keys are the names codegen gave its functions before records existed; they must not
 * change lightly, since tuning files name kernels by them.  A '+' or '-' that %g writes into
 * a key becomes 'p' or stays, so that a key is also a legible symbol name.
 */
#include <stdio.h>
#include <string.h>
#include "kkey.h"

typedef struct KeyCtx {
  const Graph *g;
  const Node *n;
  const Type *out, *in[IR_MAXIN];
  int bad;                  /* a dim that should be constant is a symbol */
} KeyCtx;

/* dim d of t, 1 past the rank; a symbol marks the key bad */
static long long kdim(KeyCtx *k, const Type *t, int d) {
  if (d >= t->rank) return 1;
  if (DIM_IS_SYM(t->dim[d])) k->bad = 1;
  return (long long)t->dim[d];
}

/* product of the dims after the first */
static long long kcols(KeyCtx *k, const Type *t) {
  long long c = 1;
  for (int d = 1; d < t->rank; d++) c *= kdim(k, t, d);
  return c;
}

static double keps(const Node *n) {
  const Attr *eps = attr_get(n, "eps");
  return !eps ? 0 : eps->kind == ATTR_INT ? (double)eps->i : eps->f;
}

static void key_cols(KeyCtx *k, char *buf, size_t n) {
  snprintf(buf, n, "k_%s_c%lld", op_names[k->n->op], kcols(k, k->out));
}

static void key_embed(KeyCtx *k, char *buf, size_t n) {
  snprintf(buf, n, "k_embed_v%lld_d%lld_%s", kdim(k, k->in[1], 0), kcols(k, k->out), dtype_name(k->in[1]->dt));
}

static void key_rmsnorm(KeyCtx *k, char *buf, size_t n) {
  snprintf(buf, n, "k_rmsnorm_d%lld_eps%.9g", kcols(k, k->out), keps(k->n));
}

static void key_matmul(KeyCtx *k, char *buf, size_t n) {
  const Node *nd = k->n;
  char extra[48] = "";
  if (nd->op == OP_MATMUL_NORM_GATHER) snprintf(extra, sizeof extra, "_eps%.9g", keps(nd));
  if (nd->op == OP_MATMUL_SCATTER_GATE) snprintf(extra, sizeof extra, "_%s", attr_s(nd, "gate", "raw"));
  snprintf(buf, n, "k_%s_n%lld_k%lld_%s_nr%lld%s", op_names[nd->op], kdim(k, k->in[1], 0), kdim(k, k->in[1], 1),
           dtype_name(k->in[1]->dt), (long long)attr_i(&k->g->n[nd->in[1]], "nr", 0), extra);
}

static void key_rope(KeyCtx *k, char *buf, size_t n) {
  snprintf(buf, n, "k_rope_c%lld_h%lld_theta%.17g", kcols(k, k->out), (long long)attr_i(k->n, "heads", 0),
           attr_f(k->n, "theta", 0));
}

static void key_attention(KeyCtx *k, char *buf, size_t n) {
  const Node *nd = k->n;
  long long H = attr_i(nd, "heads", 0), hd = H > 0 ? kcols(k, k->in[0]) / H : 0;
  char layer[32] = "";
  if (nd->op == OP_KV_ATTENTION) snprintf(layer, sizeof layer, "_l%lld", (long long)attr_i(nd, "layer", -1));
  snprintf(buf, n, "k_%s%s_h%lld_kv%lld_hd%lld", op_names[nd->op], layer, H, (long long)attr_i(nd, "kv_heads", H), hd);
}

static void key_topk(KeyCtx *k, char *buf, size_t n) {
  snprintf(buf, n, "k_topk_k%lld", (long long)attr_i(k->n, "k", kdim(k, k->out, 0)));
}

static void key_select(KeyCtx *k, char *buf, size_t n) {
  int64_t d = k->out->dim[0];
  snprintf(buf, n, "k_select_l%lld_s%d", (long long)attr_i(k->n, "layer", -1), DIM_IS_SYM(d) ? DIM_SYMNO(d) : -1);
}

static void key_gather(KeyCtx *k, char *buf, size_t n) {
  snprintf(buf, n, "k_gather_c%lld_%s", kcols(k, k->out), dtype_name(k->out->dt));
}

static void key_scatter(KeyCtx *k, char *buf, size_t n) {
  snprintf(buf, n, "k_scatter_gate_d%lld_%s", kcols(k, k->out), attr_s(k->n, "gate", "raw"));
}

typedef void (*KeyFn)(KeyCtx *k, char *buf, size_t n);

/* Every op that becomes a kernel, with its key; graph plumbing has none. */
static const KeyFn key_fns[OP_COUNT] = {
  [OP_EMBED] = key_embed,
  [OP_ADD] = key_cols,
  [OP_BIAS_ADD] = key_cols,
  [OP_SILU] = key_cols,
  [OP_SILU_MUL] = key_cols,
  [OP_RMSNORM] = key_rmsnorm,
  [OP_MATMUL] = key_matmul,
  [OP_MATMUL_ADD] = key_matmul,
  [OP_MATMUL_SILU_MUL] = key_matmul,
  [OP_MATMUL_NORM_GATHER] = key_matmul,
  [OP_MATMUL_ADD_GATHER] = key_matmul,
  [OP_MATMUL_SCATTER_GATE] = key_matmul,
  [OP_ROPE] = key_rope,
  [OP_ATTENTION] = key_attention,
  [OP_KV_ATTENTION] = key_attention,
  [OP_TAKE_LAST] = key_cols,
  [OP_TOPK] = key_topk,
  [OP_SELECT] = key_select,
  [OP_GATHER] = key_gather,
  [OP_SCATTER_GATE] = key_scatter,
};

int kernel_node(const Graph *g, int i) { return i >= 0 && i < g->len && key_fns[g->n[i].op] != NULL; }

int kernel_key(const Graph *g, int i, char *buf, size_t n) {
  if (!n) return -1;
  buf[0] = 0;
  if (!kernel_node(g, i)) return -1;
  const Node *nd = &g->n[i];
  KeyCtx k = {g, nd, &nd->ty, {0}, 0};
  if (nd->ty.rank < 1) {
    snprintf(buf, n, "%%%d (%s): type not inferred", i, op_names[nd->op]);
    return -1;
  }
  for (int j = 0; j < nd->nin && j < IR_MAXIN; j++) k.in[j] = &g->n[nd->in[j]].ty;
  if (nd->nin != op_ninputs[nd->op]) {
    snprintf(buf, n, "%%%d (%s): %d operands", i, op_names[nd->op], nd->nin);
    return -1;
  }
  key_fns[nd->op](&k, buf, n);
  if (k.bad) {
    snprintf(buf, n, "%%%d (%s): an inner dimension is not a constant", i, op_names[nd->op]);
    return -1;
  }
  for (char *p = buf; *p; p++)
    if (*p == '+') *p = 'p';
  return 0;
}
