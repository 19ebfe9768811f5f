/* route.c: the fuse-routing pass, a routed block's gather and scatter folded into its matmuls.
 * require: typed, lowered (no mod.block), fuse-epilogues run (matmul_add exists).
 * provide: typed; the patterns below fused; gathers and rmsnorms left without users dropped.
 *
 *   matmul(rmsnorm(gather(h, idx), w), W)            ->  matmul_norm_gather(h, W, idx, w)
 *       the block's first matmuls (q, k, v) read their rows through the index and normalise
 *       them while packing the A panel; the gathered and normalised copies are never stored;
 *   matmul_add(x, W, gather(h, idx))                 ->  matmul_add_gather(x, W, h, idx)
 *       the residual of the block's input read through the index in the epilogue;
 *   scatter_gate(h, idx, matmul_add(x, W, r), s)     ->  matmul_scatter_gate(x, W, r, h, idx, s)
 *       h[idx] = h[idx] + g(s[idx]) (x W^T + r - h[idx]) in the down projection's epilogue
 *       (the matmul_add folded only when the scatter is its one user); plan-memory then
 *       lets the result take h's storage, so rows that skip the block are never copied.
 *
 * Only f32 row gathers (the routed activations) fuse; the positions' gather stays, and so
 * does an rmsnorm too wide for a register tile's packed rows on the stack (sched_pack_fits).
 * A gather or rmsnorm is dropped once no node reads it; otherwise it stays and the fused
 * nodes read h directly all the same.  Semantics are unchanged: each fused op is defined as
 * the ops it replaces, and the reference interpreter gives bit-identical results before and
 * after (tests/ref).
 */
#include <stdlib.h>
#include "rewrite.h"
#include "schedule.h"

static int is_row_gather(const Graph *g, int v) {
  return g->n[v].op == OP_GATHER && g->n[v].ty.rank == 2 && g->n[v].ty.dt == DT_F32;
}

/* matmul(rmsnorm(gather(h, idx), w), W) */
static void norm_gather(const Graph *g, Rewrite *rw, int i) {
  const Node *m = &g->n[i], *nm = &g->n[m->in[0]];
  if (nm->op != OP_RMSNORM || !is_row_gather(g, nm->in[0]) || !sched_pack_fits(nm->ty.dim[1])) return;
  const Node *ga = &g->n[nm->in[0]];
  int in[4] = {ga->in[0], m->in[1], ga->in[1], nm->in[1]};
  rewrite_set(rw, i, OP_MATMUL_NORM_GATHER, 4, in, m->in[0]);
}

/* scatter_gate(h, idx, matmul_add(x, W, r), s), the matmul_add read by the scatter alone */
static void scatter(const Graph *g, const int *users, Rewrite *rw, int i) {
  const Node *s = &g->n[i];
  int y = s->in[2];
  if (g->n[y].op != OP_MATMUL_ADD || users[y] != 1) return;
  const Node *a = &g->n[y];
  int in[6] = {a->in[0], a->in[1], a->in[2], s->in[0], s->in[1], s->in[3]};
  rewrite_set(rw, i, OP_MATMUL_SCATTER_GATE, 6, in, i);
  rw[y].drop = 1;
}

/* matmul_add(x, W, gather(h, idx)), unless a scatter absorbed it */
static void add_gather(const Graph *g, Rewrite *rw, int i) {
  const Node *a = &g->n[i];
  if (rw[i].drop || !is_row_gather(g, a->in[2])) return;
  const Node *ga = &g->n[a->in[2]];
  int in[4] = {a->in[0], a->in[1], ga->in[0], ga->in[1]};
  rewrite_set(rw, i, OP_MATMUL_ADD_GATHER, 4, in, i);
}

/* Drop rmsnorms and gathers that nothing reads any more, consumers first. */
static void drop_unread(const Graph *g, Rewrite *rw) {
  int *users = rewrite_users(g, rw);
  for (int i = g->len - 1; i >= 0; i--) {
    const Node *n = &g->n[i];
    if (rw[i].drop || users[i] || (n->op != OP_RMSNORM && !is_row_gather(g, i))) continue;
    rw[i].drop = 1;
    for (int k = 0; k < n->nin; k++) users[n->in[k]]--;
  }
  free(users);
}

int pass_fuse_routing(Graph **gp, char *err, size_t errlen) {
  const Graph *g = *gp;
  if (rewrite_require_lowered(g, "fuse-routing", err, errlen)) return -1;
  Rewrite *rw = rewrite_new(g);
  int *users = rewrite_users(g, rw);
  for (int i = 0; i < g->len; i++)
    if (g->n[i].op == OP_SCATTER_GATE) scatter(g, users, rw, i);
  for (int i = 0; i < g->len; i++) {
    if (g->n[i].op == OP_MATMUL) norm_gather(g, rw, i);
    if (g->n[i].op == OP_MATMUL_ADD) add_gather(g, rw, i);
  }
  free(users);
  drop_unread(g, rw);
  return graph_rewrite(gp, rw, err, errlen);
}
