/* rewrite.h: rebuild a graph with some nodes replaced by fused ones and others dropped, the
 * shared tail of the fusion passes (fuse.c, route.c).
 *
 * Every node of the source gets a Rewrite: keep (op = OP_COUNT), replace (op, operands in
 * source numbering, attributes copied from one source node), or drop (drop = 1, for nodes
 * absorbed by a fused consumer).  A replacement takes its node's place in the order, so its
 * operands must be defined before it and must not be dropped.  The result is typed afresh
 * (infer-shapes); *gp is replaced on success and untouched on failure.
 */
#ifndef MODC_REWRITE_H
#define MODC_REWRITE_H

#include "passes.h"

typedef struct Rewrite {
  Op op;                    /* OP_COUNT: copy the source node unchanged */
  int nin, in[IR_MAXIN];    /* the replacement's operands, source numbering */
  int attrs_from;           /* source node whose attributes the replacement takes, or -1 */
  int drop;                 /* absorbed by another node: not emitted */
} Rewrite;

/* 0, or -1 with "PASS: %N is a mod.block; run lower-mod first" in err */
int rewrite_require_lowered(const Graph *g, const char *pass, char *err, size_t errlen);
/* all nodes kept */
Rewrite *rewrite_new(const Graph *g);
/* node i becomes op(in[0..nin)) with the attributes of node attrs_from */
void rewrite_set(Rewrite *rw, int i, Op op, int nin, const int *in, int attrs_from);
/* operand slots that read each node once rewritten (dropped nodes read nothing) */
int *rewrite_users(const Graph *g, const Rewrite *rw);
int graph_rewrite(Graph **gp, Rewrite *rw, char *err, size_t errlen); /* frees rw */

#endif
