/* interp.h: the reference interpreter of the IR.
 *
 * Plain C, double accumulation, no cleverness: the ground truth that tests compare
 * compiled code against.  It runs graphs before lowering (mod.block with its region,
 * top-k routing in forward graphs, causal routing in session graphs) and after (topk,
 * select, gather, scatter_gate), reading weights from the packed blob by each weight
 * node's offset and dtype.
 */
#ifndef MODC_INTERP_H
#define MODC_INTERP_H

#include <stddef.h>
#include <stdint.h>
#include "ir.h"

/* A session's state: per-layer KV caches (double) and routing traces. */
typedef struct InterpSession InterpSession;
InterpSession *interp_session_new(int n_layers, int max_seq, int kv_dim);
void interp_session_free(InterpSession *s);
/* taken flags by position, [max_seq], for layer; NULL if out of range */
const uint8_t *interp_routing(const InterpSession *s, int layer);
/* the decision score p (router or predictor) by position, [max_seq], for layer; NULL if out
 * of range.  tune --routing draws its threshold grid from these. */
const double *interp_scores(const InterpSession *s, int layer);

typedef struct InterpStats {
  double min_margin;        /* smallest routing margin seen: top-k: r[k-th] - r[(k+1)-th]
                               (the gap at the cut); causal: |p|.  +inf if no routing. */
  int routed_rows[256];     /* forward: rows chosen per layer (k); session: rows taken in
                               the last call per layer */
} InterpStats;

/* Run g.  rows: value of symbol 0 for session graphs (tokens in this call); for forward
 * graphs it must equal the graph's sequence length.  out: forward [T][vocab], session
 * [vocab] (the last row).  s: required for session graphs, ignored otherwise.
 * stats may be NULL.  Returns 0, or -1 with err filled. */
int interp_run(const Graph *g, const uint8_t *weights, const int32_t *tokens,
               const int32_t *pos, int64_t rows, InterpSession *s, double *out,
               InterpStats *stats, char *err, size_t errlen);

#endif
