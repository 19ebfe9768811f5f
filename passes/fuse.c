/* fuse.c: the fuse-epilogues pass, elementwise work folded into the matmul that feeds it.
 * require: typed, lowered (no mod.block).  provide: typed; the patterns below fused.
 *
 *   add(a, matmul(x, W))  or  add(matmul(x, W), a)   ->  matmul_add(x, W, a)
 *       the residual added while the matmul's tile is still in registers (IEEE addition
 *       commutes, so either operand order gives the same bits as the unfused pair);
 *   silu_mul(matmul(z, Wg), matmul(z, Wu))           ->  matmul_silu_mul(z, Wg, Wu)
 *       gate and up computed in one pass over z, silu(g) * u applied in registers.
 *
 * A matmul is folded only when the fused node is its one user, so no value that another
 * node reads disappears; the fused node takes the consumer's place in the order, where all
 * its operands are already defined.  Semantics are unchanged: the reference interpreter
 * gives bit-identical results on the graph before and after (tests/ref).
 */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

typedef struct Fuse {
  const Graph *src;
  int *users;               /* src node -> number of operand slots that read it */
  int *fused_into;          /* src matmul -> the consumer that absorbs it, or -1 */
} Fuse;

/* operand k of node i, when it is a matmul read only by i: its index, else -1 */
static int sole_matmul(const Fuse *f, int i, int k) {
  int m = f->src->n[i].in[k];
  return f->src->n[m].op == OP_MATMUL && f->users[m] == 1 ? m : -1;
}

/* The fused op node i becomes (and its operands, in src numbering), or OP_COUNT. */
static Op plan_node(Fuse *f, int i, int in[3]) {
  const Node *n = &f->src->n[i];
  if (n->op == OP_ADD) {
    for (int k = 0; k < 2; k++) {
      int m = sole_matmul(f, i, k);
      if (m < 0) continue;
      const Node *mm = &f->src->n[m];
      in[0] = mm->in[0], in[1] = mm->in[1], in[2] = n->in[1 - k];
      f->fused_into[m] = i;
      return OP_MATMUL_ADD;
    }
  }
  if (n->op == OP_SILU_MUL) {
    int g = sole_matmul(f, i, 0), u = sole_matmul(f, i, 1);
    if (g < 0 || u < 0 || g == u) return OP_COUNT;
    const Node *mg = &f->src->n[g], *mu = &f->src->n[u];
    if (mg->in[0] != mu->in[0] || !type_equal(&f->src->n[mg->in[1]].ty, &f->src->n[mu->in[1]].ty))
      return OP_COUNT;
    in[0] = mg->in[0], in[1] = mg->in[1], in[2] = mu->in[1];
    f->fused_into[g] = f->fused_into[u] = i;
    return OP_MATMUL_SILU_MUL;
  }
  return OP_COUNT;
}

static void count_users(Fuse *f) {
  for (int i = 0; i < f->src->len; i++)
    for (int k = 0; k < f->src->n[i].nin; k++) f->users[f->src->n[i].in[k]]++;
}

int pass_fuse_epilogues(Graph **gp, char *err, size_t errlen) {
  const Graph *g = *gp;
  for (int i = 0; i < g->len; i++)
    if (g->n[i].op == OP_MOD_BLOCK) {
      snprintf(err, errlen, "fuse-epilogues: %%%d is a mod.block; run lower-mod first", i);
      return -1;
    }
  size_t len = g->len > 0 ? (size_t)g->len : 1;
  Fuse f = {g, calloc(len, sizeof(int)), malloc(len * sizeof(int))};
  int *map = malloc(len * sizeof(int)), *plan = malloc(len * sizeof(int)), (*ops)[3] = malloc(len * sizeof *ops);
  for (int i = 0; i < g->len; i++) f.fused_into[i] = -1;
  count_users(&f);
  for (int i = 0; i < g->len; i++) plan[i] = plan_node(&f, i, ops[i]);
  Graph *d = graph_new(g->name, g->mode);
  d->nsym = g->nsym;
  memcpy(d->symbound, g->symbound, sizeof g->symbound);
  for (int i = 0; i < g->len; i++) {
    const Node *s = &g->n[i];
    if (f.fused_into[i] >= 0) continue;     /* emitted as part of its consumer */
    int in[IR_MAXIN], fused = plan[i] != OP_COUNT;
    int nin = fused ? 3 : s->nin;
    for (int k = 0; k < nin; k++) in[k] = map[fused ? ops[i][k] : s->in[k]];
    int j = graph_add(d, fused ? (Op)plan[i] : s->op, nin, in);
    if (!fused) {
      d->n[j].nattr = s->nattr;
      memcpy(d->n[j].attr, s->attr, sizeof s->attr);
    }
    d->n[j].ty = s->ty;
    map[i] = j;
  }
  free(f.users), free(f.fused_into), free(map), free(plan), free(ops);
  if (pass_infer_shapes(d, err, errlen)) {
    graph_free(d);
    return -1;
  }
  graph_free(*gp);
  *gp = d;
  return 0;
}
