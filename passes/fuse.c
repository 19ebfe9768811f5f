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
#include "rewrite.h"

/* operand k of node i, when it is a matmul read only by i: its index, else -1 */
static int sole_matmul(const Graph *g, const int *users, int i, int k) {
  int m = g->n[i].in[k];
  return g->n[m].op == OP_MATMUL && users[m] == 1 ? m : -1;
}

/* Node i's fused form, if any, into rw (the matmuls it absorbs dropped). */
static void plan_node(const Graph *g, const int *users, Rewrite *rw, int i) {
  const Node *n = &g->n[i];
  if (n->op == OP_ADD) {
    for (int k = 0; k < 2; k++) {
      int m = sole_matmul(g, users, i, k);
      if (m < 0 || rw[m].drop) continue;
      int in[3] = {g->n[m].in[0], g->n[m].in[1], n->in[1 - k]};
      rewrite_set(rw, i, OP_MATMUL_ADD, 3, in, -1);
      rw[m].drop = 1;
      return;
    }
  }
  if (n->op == OP_SILU_MUL) {
    int gi = sole_matmul(g, users, i, 0), u = sole_matmul(g, users, i, 1);
    if (gi < 0 || u < 0 || gi == u) return;
    const Node *mg = &g->n[gi], *mu = &g->n[u];
    if (mg->in[0] != mu->in[0] || !type_equal(&g->n[mg->in[1]].ty, &g->n[mu->in[1]].ty)) return;
    int in[3] = {mg->in[0], mg->in[1], mu->in[1]};
    rewrite_set(rw, i, OP_MATMUL_SILU_MUL, 3, in, -1);
    rw[gi].drop = rw[u].drop = 1;
  }
}

int pass_fuse_epilogues(Graph **gp, char *err, size_t errlen) {
  const Graph *g = *gp;
  if (rewrite_require_lowered(g, "fuse-epilogues", err, errlen)) return -1;
  Rewrite *rw = rewrite_new(g);
  int *users = rewrite_users(g, rw);
  for (int i = 0; i < g->len; i++) plan_node(g, users, rw, i);
  free(users);
  return graph_rewrite(gp, rw, err, errlen);
}
