/* graph.h: the model spec as graph IR, before any pass.
 *
 * build_forward gives the graph that modc_forward runs for one sequence of T tokens (top-k
 * routing); build_session the graph a session runs for one call of n <= max_seq_len new
 * tokens (causal routing, KV caches; symbol 0 = n).  Routed layers are mod.block ops whose
 * regions hold the block body; types are left for infer-shapes, except on inputs and weights.
 */
#ifndef MODC_GRAPH_H
#define MODC_GRAPH_H

#include "../ir/ir.h"
#include "../passes/passes.h"
#include "spec.h"

Graph *build_forward(const Spec *s, const WLayout *w, int T);
Graph *build_session(const Spec *s, const WLayout *w);

#endif
