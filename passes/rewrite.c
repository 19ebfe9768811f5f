/* rewrite.c: the graph rebuild shared by the fusion passes (rewrite.h). */
#include <stdlib.h>
#include <string.h>
#include "rewrite.h"

int rewrite_require_lowered(const Graph *g, const char *pass, char *err, size_t errlen) {
  for (int i = 0; i < g->len; i++)
    if (g->n[i].op == OP_MOD_BLOCK) {
      snprintf(err, errlen, "%s: %%%d is a mod.block; run lower-mod first", pass, i);
      return -1;
    }
  return 0;
}

Rewrite *rewrite_new(const Graph *g) {
  Rewrite *rw = calloc(g->len > 0 ? (size_t)g->len : 1, sizeof *rw);
  for (int i = 0; i < g->len; i++) rw[i].op = OP_COUNT, rw[i].attrs_from = -1;
  return rw;
}

void rewrite_set(Rewrite *rw, int i, Op op, int nin, const int *in, int attrs_from) {
  rw[i].op = op, rw[i].nin = nin, rw[i].attrs_from = attrs_from;
  memcpy(rw[i].in, in, (size_t)nin * sizeof *in);
}

/* the operands node i reads once rewritten */
static const int *operands(const Graph *g, const Rewrite *rw, int i, int *nin) {
  if (rw[i].op == OP_COUNT) return *nin = g->n[i].nin, g->n[i].in;
  return *nin = rw[i].nin, rw[i].in;
}

int *rewrite_users(const Graph *g, const Rewrite *rw) {
  int *users = calloc(g->len > 0 ? (size_t)g->len : 1, sizeof *users);
  for (int i = 0; i < g->len; i++) {
    if (rw[i].drop) continue;
    int nin;
    const int *in = operands(g, rw, i, &nin);
    for (int k = 0; k < nin; k++) users[in[k]]++;
  }
  return users;
}

int graph_rewrite(Graph **gp, Rewrite *rw, char *err, size_t errlen) {
  const Graph *g = *gp;
  int *map = malloc((g->len > 0 ? (size_t)g->len : 1) * sizeof *map);
  Graph *d = graph_new(g->name, g->mode);
  d->nsym = g->nsym;
  memcpy(d->symbound, g->symbound, sizeof g->symbound);
  for (int i = 0; i < g->len; i++) {
    if (rw[i].drop) continue;
    int nin, in[IR_MAXIN];
    const int *src = operands(g, rw, i, &nin);
    for (int k = 0; k < nin; k++) in[k] = map[src[k]];
    int j = graph_add(d, rw[i].op == OP_COUNT ? g->n[i].op : rw[i].op, nin, in);
    int from = rw[i].op == OP_COUNT ? i : rw[i].attrs_from;
    if (from >= 0) {
      d->n[j].nattr = g->n[from].nattr;
      memcpy(d->n[j].attr, g->n[from].attr, sizeof g->n[from].attr);
    }
    d->n[j].ty = g->n[i].ty;
    map[i] = j;
  }
  free(map);
  free(rw);
  if (pass_infer_shapes(d, err, errlen)) {
    graph_free(d);
    return -1;
  }
  graph_free(*gp);
  *gp = d;
  return 0;
}
