/* infer.c: the infer-shapes pass.
 * require: types on input and weight nodes.  provide: every node typed.
 * Nodes are in topological order, so one forward sweep suffices; a mod.block's type needs
 * its region's yield, so the block is typed after its body. */
#include "passes.h"
#include "../ir/shape.h"

static int infer_one(Graph *g, int i, char *err, size_t errlen) {
  Type t;
  if (shape_infer_node(g, i, &t, err, errlen)) return -1;
  g->n[i].ty = t;
  return 0;
}

int pass_infer_shapes(Graph *g, char *err, size_t errlen) {
  for (int i = 0; i < g->len; i++) {
    Node *n = &g->n[i];
    if (n->op != OP_MOD_BLOCK) {
      if (infer_one(g, i, err, errlen)) return -1;
      continue;
    }
    /* operands of the block first (block.arg types read them), then the body, then the block */
    for (int j = i + 1; j < n->body_end; j++)
      if (infer_one(g, j, err, errlen)) return -1;
    if (infer_one(g, i, err, errlen)) return -1;
    i = n->body_end - 1;
  }
  return 0;
}
