/* verify.c: the IR verifier, run after parsing and between passes.
 *
 * require: nothing (any Graph, even one built wrongly through the API)
 * checks, in this order, stopping at the first error:
 *   1. the graph: mode, symbol count and bounds, arena size;
 *   2. each node alone: op, operand count (op_ninputs; mod.block takes 3, 4, 7 or 8 per its
 *      row in ops.h), operands earlier than the node, attributes well formed, the required
 *      attributes present with the right kind, a well-formed type (dims >= 0 or symbols
 *      < nsym), a valid storage with offset >= 0;
 *   3. regions (ir.h): parent and body_end consistent, regions not nested, non-empty,
 *      starting with block.arg nodes and ending with their one yield; block.arg and yield
 *      only there, input and output only at top level; a body node uses only nodes of its
 *      own region and top-level weights, a top-level node no region node;
 *   4. types: each inferred node (rank >= 0) whose operands are inferred must have the type
 *      shape_infer_node gives it (the rules live once, in shape.c);
 *   5. schedule records (sched.h), where a node has one: the kind its op takes, and a record
 *      that fits its kernel (panel width = the weight's, a register tile within the
 *      registers, work items of whole register tiles, packed rows within the stack bound).
 * Errors read "verify: %IDX (op): what", or "verify: graph @NAME: what".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fmemopen */
#endif
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "ir.h"
#include "shape.h"

static int verr(const Graph *g, int i, char *err, size_t errlen, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  Op op = g->n[i].op;
  if (err && errlen)
    snprintf(err, errlen, "verify: %%%d (%s): %s", i, (unsigned)op < OP_COUNT ? op_names[op] : "?", msg);
  return -1;
}

/* ---- 1. the graph ---- */

static int check_graph(const Graph *g, char *err, size_t errlen) {
  const char *why = NULL;
  if (g->mode != GRAPH_FORWARD && g->mode != GRAPH_SESSION) why = "unknown mode";
  else if (g->len < 0 || (g->len > 0 && !g->n) || g->len > g->cap) why = "bad node array";
  else if (g->nsym < 0 || g->nsym > IR_MAXSYM) why = "bad symbol count";
  else if (g->arena_size < 0) why = "negative arena size";
  for (int s = 0; !why && s < g->nsym; s++)
    if (g->symbound[s] < 0) why = "negative symbol bound";
  if (!why) return 0;
  if (err && errlen) snprintf(err, errlen, "verify: graph @%.*s: %s", (int)sizeof g->name, g->name, why);
  return -1;
}

/* ---- 2. each node alone ---- */

/* Required attributes, "key:kind ...": kind s string, i int, n number (int or float),
 * a any.  Attributes not listed are allowed. */
static const char *const required[OP_COUNT] = {
  [OP_INPUT] = "name:s",
  [OP_WEIGHT] = "name:s offset:i",
  [OP_OUTPUT] = "name:s",
  [OP_RMSNORM] = "eps:n",
  [OP_ROPE] = "heads:i theta:n",
  [OP_ATTENTION] = "heads:i kv_heads:i",
  [OP_KV_ATTENTION] = "layer:i heads:i kv_heads:i",
  [OP_TOPK] = "k:i",
  [OP_SELECT] = "layer:i",
  [OP_SCATTER_GATE] = "gate:a",
  [OP_MATMUL_NORM_GATHER] = "eps:n",
  [OP_MATMUL_SCATTER_GATE] = "gate:a",
  [OP_MOD_BLOCK] = "layer:i capacity:n gate:a predictor:a",
  [OP_BLOCK_ARG] = "index:i",
};

static int kind_ok(const Attr *a, char kind) {
  switch (kind) {
  case 's': return a->kind == ATTR_STR;
  case 'i': return a->kind == ATTR_INT;
  case 'n': return a->kind == ATTR_INT || a->kind == ATTR_FLOAT;
  default: return 1;
  }
}

static const char *kind_name(char kind) {
  return kind == 's' ? "a string" : kind == 'i' ? "an integer" : "a number";
}

static int check_required(const Graph *g, int i, char *err, size_t errlen) {
  const char *spec = required[g->n[i].op];
  char key[IR_ATTR_KEY];
  while (spec && *spec) {
    size_t len = strcspn(spec, ":");
    snprintf(key, sizeof key, "%.*s", (int)len, spec);
    char kind = spec[len + 1];
    const Attr *a = attr_get(&g->n[i], key);
    if (!a) return verr(g, i, err, errlen, "missing attribute '%s'", key);
    if (!kind_ok(a, kind)) return verr(g, i, err, errlen, "attribute '%s' must be %s", key, kind_name(kind));
    spec += len + 2;
    spec += *spec == ' ';
  }
  return 0;
}

static int check_attrs(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  if (n->nattr < 0 || n->nattr > IR_MAXATTR) return verr(g, i, err, errlen, "%d attributes (max %d)", n->nattr, IR_MAXATTR);
  for (int k = 0; k < n->nattr; k++) {
    const Attr *a = &n->attr[k];
    if (!memchr(a->key, 0, sizeof a->key) || !a->key[0]) return verr(g, i, err, errlen, "attribute %d has a bad key", k);
    if (a->kind != ATTR_INT && a->kind != ATTR_FLOAT && a->kind != ATTR_STR)
      return verr(g, i, err, errlen, "attribute '%s' has a bad kind", a->key);
    if (a->kind == ATTR_STR && !memchr(a->s, 0, sizeof a->s)) return verr(g, i, err, errlen, "attribute '%s' is unterminated", a->key);
    for (int j = 0; j < k; j++)
      if (strcmp(n->attr[j].key, a->key) == 0) return verr(g, i, err, errlen, "duplicate attribute '%s'", a->key);
  }
  return check_required(g, i, err, errlen);
}

static int check_operands(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  int want = op_ninputs[n->op];
  if (n->nin < 0 || n->nin > IR_MAXIN) return verr(g, i, err, errlen, "%d operands (max %d)", n->nin, IR_MAXIN);
  if (want >= 0 && n->nin != want) return verr(g, i, err, errlen, "takes %d operands, has %d", want, n->nin);
  if (n->op == OP_MOD_BLOCK && n->nin != 3 && n->nin != 4 && n->nin != 7 && n->nin != 8)
    return verr(g, i, err, errlen, "takes 3, 4, 7 or 8 operands (h, pos, w_router [, b_router] [, predictor fc1_w, fc1_b, fc2_w, fc2_b]), has %d", n->nin);
  for (int k = 0; k < n->nin; k++)
    if (n->in[k] < 0 || n->in[k] >= i)
      return verr(g, i, err, errlen, "operand %d (%%%d) is not an earlier node", k, n->in[k]);
  return 0;
}

static int check_type_form(const Graph *g, int i, char *err, size_t errlen) {
  const Type *t = &g->n[i].ty;
  if (t->rank < -1 || t->rank > IR_MAXRANK) return verr(g, i, err, errlen, "bad rank %d", t->rank);
  if (t->rank >= 0 && (unsigned)t->dt >= DT_COUNT) return verr(g, i, err, errlen, "bad dtype %d", (int)t->dt);
  for (int k = 0; k < t->rank; k++) {
    int64_t d = t->dim[k];
    if (DIM_IS_SYM(d) && d < DIM_SYM(g->nsym - 1)) /* symbol >= nsym, without DIM_SYMNO's overflow */
      return verr(g, i, err, errlen, "dim %d is symbol s%lld but the graph has %d symbols", k, -(long long)(d + 1), g->nsym);
  }
  return 0;
}

/* mod.block: its operands are (h, pos, w_router [, b_router] [, 4 predictor weights]) as its
 * router_bias (0 or 1, default 0) and predictor ("mlp": with the weights) attributes say;
 * lower-mod indexes the operands by them.  A causal block's sym (block_is_causal) names a
 * graph symbol (its region's row count); a forward block has k or sym, not both. */
static int check_block_attrs(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  const Attr *sym = attr_get(n, "sym");
  if (sym && (sym->kind != ATTR_INT || sym->i < 0 || sym->i >= g->nsym))
    return verr(g, i, err, errlen, "attribute 'sym' must name a symbol of the graph (it has %d)", g->nsym);
  if (g->mode == GRAPH_FORWARD && sym && attr_get(n, "k"))
    return verr(g, i, err, errlen, "has both 'k' (top-k routing) and 'sym' (causal routing)");
  const Attr *rb = attr_get(n, "router_bias");
  if (rb && (rb->kind != ATTR_INT || (rb->i != 0 && rb->i != 1)))
    return verr(g, i, err, errlen, "attribute 'router_bias' must be 0 or 1");
  int bias = rb ? (int)rb->i : 0, mlp = !strcmp(attr_s(n, "predictor", ""), "mlp");
  if (n->nin != 3 + bias + 4 * mlp)
    return verr(g, i, err, errlen, "takes %d operands with router_bias = %d and predictor \"%s\", has %d",
                3 + bias + 4 * mlp, bias, mlp ? "mlp" : attr_s(n, "predictor", ""), n->nin);
  return 0;
}

static int check_node(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  if ((unsigned)n->op >= OP_COUNT) {
    if (err && errlen) snprintf(err, errlen, "verify: %%%d: unknown op %d", i, (int)n->op);
    return -1;
  }
  if (check_operands(g, i, err, errlen) || check_attrs(g, i, err, errlen) || check_type_form(g, i, err, errlen)) return -1;
  if (n->op == OP_MOD_BLOCK && check_block_attrs(g, i, err, errlen)) return -1;
  const Attr *thr = n->op == OP_MOD_BLOCK || n->op == OP_SELECT ? attr_get(n, "threshold") : NULL;
  if (thr && (thr->kind == ATTR_STR || !isfinite(thr->kind == ATTR_FLOAT ? thr->f : 0.0)))
    return verr(g, i, err, errlen, "attribute 'threshold' must be a finite number");
  if ((unsigned)n->st > ST_OUT) return verr(g, i, err, errlen, "bad storage %d", (int)n->st);
  if (n->offset < 0) return verr(g, i, err, errlen, "negative offset %lld", (long long)n->offset);
  if (n->op == OP_WEIGHT && attr_i(n, "offset", 0) < 0) return verr(g, i, err, errlen, "negative weight offset");
  if (n->op == OP_WEIGHT && attr_get(n, "layout")) { /* panel-packed: a matrix, NR a multiple of 16 */
    const Attr *nr = attr_get(n, "nr");
    if (strcmp(attr_s(n, "layout", ""), "panel")) return verr(g, i, err, errlen, "layout must be \"panel\"");
    if (!nr || nr->kind != ATTR_INT || nr->i <= 0 || nr->i % 4 || nr->i > 256)
      return verr(g, i, err, errlen, "a panel layout needs nr, a positive multiple of 4 up to 256");
    if (n->ty.rank != 2) return verr(g, i, err, errlen, "only a matrix is panel-packed");
  }
  if (n->op == OP_INPUT && strcmp(attr_s(n, "name", ""), "tokens") && strcmp(attr_s(n, "name", ""), "pos"))
    return verr(g, i, err, errlen, "name must be \"tokens\" or \"pos\", not \"%s\"", attr_s(n, "name", ""));
  return 0;
}

/* ---- 3. regions ---- */

/* A mod.block at i opens a region: its shape. */
static int check_block(const Graph *g, int i, int blk, char *err, size_t errlen) {
  int end = g->n[i].body_end;
  if (blk >= 0) return verr(g, i, err, errlen, "regions do not nest: mod.block inside the region of %%%d", blk);
  if (end < i + 2 || end > g->len) return verr(g, i, err, errlen, "region (%d, %d) is empty or out of range", i, end);
  if (g->n[i + 1].op != OP_BLOCK_ARG) return verr(g, i, err, errlen, "region must start with block.arg");
  if (g->n[end - 1].op != OP_YIELD) return verr(g, i, err, errlen, "region must end with yield");
  return 0;
}

/* Where node i may sit, given the region blk it is in (-1: top level). */
static int check_placement(const Graph *g, int i, int blk, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  if (n->parent != blk) {
    if (blk < 0) return verr(g, i, err, errlen, "parent is %d but the node is outside any region", n->parent);
    return verr(g, i, err, errlen, "parent is %d but the node is in the region of %%%d", n->parent, blk);
  }
  switch (n->op) {
  case OP_MOD_BLOCK: return check_block(g, i, blk, err, errlen);
  case OP_BLOCK_ARG:
    if (blk < 0) return verr(g, i, err, errlen, "block.arg outside a mod.block region");
    if (g->n[i - 1].op != OP_BLOCK_ARG && i - 1 != blk) return verr(g, i, err, errlen, "block.arg after the region's other nodes");
    return 0;
  case OP_YIELD:
    if (blk < 0) return verr(g, i, err, errlen, "yield outside a mod.block region");
    if (i != g->n[blk].body_end - 1) return verr(g, i, err, errlen, "yield must be the last node of its region");
    return 0;
  case OP_INPUT:
  case OP_OUTPUT:
    if (blk >= 0) return verr(g, i, err, errlen, "only at top level, not in the region of %%%d", blk);
    return 0;
  default: return 0;
  }
}

/* Which values node i, in region blk, may use. */
static int check_uses(const Graph *g, int i, int blk, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  for (int k = 0; k < n->nin; k++) {
    const Node *o = &g->n[n->in[k]];
    if (blk >= 0 && o->parent != blk && !(o->parent < 0 && o->op == OP_WEIGHT))
      return verr(g, i, err, errlen, "operand %d (%%%d) is outside the region of %%%d (a region uses its own values and top-level weights only)", k, n->in[k], blk);
    if (blk < 0 && o->parent >= 0)
      return verr(g, i, err, errlen, "operand %d (%%%d) is inside the region of %%%d", k, n->in[k], o->parent);
  }
  return 0;
}

static int check_regions(const Graph *g, char *err, size_t errlen) {
  int blk = -1;
  for (int i = 0; i < g->len; i++) {
    if (blk >= 0 && i >= g->n[blk].body_end) blk = -1;
    if (check_placement(g, i, blk, err, errlen) || check_uses(g, i, blk, err, errlen)) return -1;
    if (g->n[i].op == OP_MOD_BLOCK) blk = i;
  }
  return 0;
}

/* ---- 4. types ---- */

/* Are the types node i's inference reads all inferred? */
static int inputs_typed(const Graph *g, int i) {
  const Node *n = &g->n[i];
  for (int k = 0; k < n->nin; k++)
    if (g->n[n->in[k]].ty.rank < 0) return 0;
  if (n->op == OP_BLOCK_ARG) return g->n[g->n[n->parent].in[0]].ty.rank >= 0;
  return 1;
}

static void type_str(const Type *t, char *buf, size_t len) {
  FILE *f = fmemopen(buf, len, "w");
  buf[0] = 0;
  if (!f) return;
  type_print(t, f);
  fclose(f);
  buf[len - 1] = 0; /* fmemopen adds no NUL when the text fills the buffer */
}

static int check_type(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  char msg[400], have[128], want[128];
  Type t;
  if (n->ty.rank < 0 || !inputs_typed(g, i)) return 0;
  if (shape_infer_node(g, i, &t, msg, sizeof msg)) {
    if (err && errlen) snprintf(err, errlen, "verify: %s", msg);
    return -1;
  }
  if (type_equal(&t, &n->ty)) return 0;
  type_str(&n->ty, have, sizeof have);
  type_str(&t, want, sizeof want);
  return verr(g, i, err, errlen, "type is %s but its operands give %s", have, want);
}

/* ---- 5. schedule records ---- */

static int pow2_in(int64_t v, int64_t lo, int64_t hi) { return v >= lo && v <= hi && !(v & (v - 1)); }

/* A matmul record against its weight operand: why it does not fit, or NULL. */
static const char *matmul_misfit(const Graph *g, const Node *n, char *why, size_t wl) {
  const Sched *s = &n->sched;
  const Node *w = &g->n[n->in[1]];
  int64_t np = n->op == OP_MATMUL_SILU_MUL ? 2 : 1, K = w->ty.rank == 2 ? w->ty.dim[1] : -1;
  if (!pow2_in(s->vw, 4, 16)) return "vw must be 4, 8 or 16";
  if (s->regs < 8 || s->regs > 64) return "regs must be in 8..64";
  if (w->op != OP_WEIGHT || attr_i(w, "nr", 0) != s->nr)
    return snprintf(why, wl, "nr = %lld but the weight operand is packed with nr = %lld", (long long)s->nr,
                    (long long)attr_i(w, "nr", 0)), why;
  if (s->nr % s->vw || s->nr / s->vw > 16) return "nr must be a multiple of vw, at most 16 vectors";
  int64_t nv = s->nr / s->vw;
  if (s->mr < 1 || s->mr > 16) return "mr must be in 1..16";
  if (s->mr * np * nv > SCHED_MAX_CARRY) return "the register tile exceeds 40 accumulators";
  if (s->mr > 1 && sched_mm_regs(s->mr, np, nv, s->vw) > s->regs) /* one row: the least tile, whatever spills */
    return snprintf(why, wl, "register tile %lldx%lld needs %lld vector registers, regs = %lld", (long long)s->mr,
                    (long long)(np * s->nr), (long long)sched_mm_regs(s->mr, np, nv, s->vw), (long long)s->regs), why;
  if (s->mr_tail < 1 || s->mr_tail > s->mr) return "mr_tail must be in 1..mr";
  if (!pow2_in(s->ku, 1, 8)) return "ku must be 1, 2, 4 or 8";
  if (s->ku * np * nv > 32) return "ku x np x nr / vw exceeds 32 accumulators on the one-row path";
  if (s->mc < s->mr || s->mc % s->mr) return "mc must be a positive multiple of mr";
  if (n->op == OP_MATMUL_NORM_GATHER && K > 0 && s->mc * K * 4 > SCHED_PACK_BYTES)
    return snprintf(why, wl, "mc = %lld packed rows of K = %lld exceed the %d-byte stack buffer", (long long)s->mc,
                    (long long)K, SCHED_PACK_BYTES), why;
  if (s->items < 0 || s->items > 1 << 20) return "items must be in 0..2^20";
  if (s->pf != 0 && s->pf != 1) return "pf must be 0 or 1";
  if (s->amx < 0 || s->amx == 1 || s->amx > 1 << 20) return "amx must be 0 (off) or a row count in 2..2^20";
  if (s->amx && !sched_amx_layout(K, w->ty.dt == DT_BF16, s->nr, s->vw))
    return "amx needs bf16 weights packed with nr = 32, vw = 16 and K a multiple of 32";
  if (s->amx && !sched_amx_pack_fits(K))
    return snprintf(why, wl, "amx: 32 packed bf16 rows of K = %lld exceed the %d-byte stack buffer", (long long)K,
                    SCHED_PACK_BYTES), why;
  return s->par_min < 0 ? "par_min must be >= 0" : NULL;
}

static const char *attn_misfit(const Node *n) {
  const Sched *s = &n->sched;
  int64_t H = attr_i(n, "heads", 0), C = n->ty.rank == 2 ? n->ty.dim[1] : 0, hd = H > 0 ? C / H : 0;
  int64_t ohd = s->vw > 0 ? (hd + s->vw - 1) / s->vw * s->vw : 0;
  if (!pow2_in(s->vw, 4, 1024)) return "vw must be a power of two >= 4";
  if (s->regs < 8 || s->regs > 64) return "regs must be in 8..64";
  if (s->kb != 2 * s->vw) return "kb must be 2 vectors (2 x vw)";
  if (!pow2_in(s->mr, 2, s->vw < 16 ? s->vw : 16) || 2 * s->mr + 3 > s->regs)
    return "mr must be a power of two in 2..16, <= vw, its 2 x mr scores within regs";
  if (s->cv < 1 || s->mr * s->cv > s->regs || s->mr * s->cv > SCHED_MAX_CARRY)
    return "cv must be >= 1 with mr x cv accumulators within regs";
  if (s->qb < s->mr || s->qb % s->mr || s->qb > 64) return "qb must be a multiple of mr, at most 64";
  if (s->qb > s->mr && s->qb * ohd > SCHED_ATTN_ACC_ELEMS) return "qb rows of a head exceed the item's accumulator bound";
  if (s->dq < 1 || s->dq > 4) return "dq must be in 1..4";
  int64_t dvw = sched_attn_decode_vw(hd, (int)s->vw);
  if (!pow2_in(s->dkb, 2, dvw < 16 ? dvw : 16)) return "dkb must be a power of two in 2..16, <= the one-row form's vw";
  if (s->dq * (2 + (hd + dvw - 1) / dvw) > SCHED_MAX_CARRY) return "dq rows of state exceed 40 carried values";
  return s->par_min < 0 ? "par_min must be >= 0" : NULL;
}

static int check_sched(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  const Sched *s = &n->sched;
  if (s->kind == SK_NONE) return 0;
  if ((unsigned)s->kind >= SK_COUNT) return verr(g, i, err, errlen, "bad schedule kind %d", (int)s->kind);
  SchedKind want = sched_kind_for(n->op);
  if (s->kind != want)
    return want == SK_NONE ? verr(g, i, err, errlen, "takes no schedule record, has #%s", sched_kind_names[s->kind])
                           : verr(g, i, err, errlen, "takes a #%s record, not #%s", sched_kind_names[want],
                                  sched_kind_names[s->kind]);
  char why[200];
  const char *bad = s->kind == SK_MATMUL ? matmul_misfit(g, n, why, sizeof why)
                  : s->kind == SK_ATTN ? attn_misfit(n)
                  : !pow2_in(s->vw, 4, 16) ? "vw must be 4, 8 or 16" : s->par_min < 0 ? "par_min must be >= 0" : NULL;
  return bad ? verr(g, i, err, errlen, "#%s record does not fit: %s", sched_kind_names[s->kind], bad) : 0;
}

int graph_verify(const Graph *g, char *err, size_t errlen) {
  if (check_graph(g, err, errlen)) return -1;
  for (int i = 0; i < g->len; i++)
    if (check_node(g, i, err, errlen)) return -1;
  if (check_regions(g, err, errlen)) return -1;
  for (int i = 0; i < g->len; i++)
    if (check_type(g, i, err, errlen)) return -1;
  for (int i = 0; i < g->len; i++)
    if (check_sched(g, i, err, errlen)) return -1;
  return 0;
}
