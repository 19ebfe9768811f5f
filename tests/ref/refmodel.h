/* refmodel.h: an independent reference implementation of DESIGN.md section 4.
 *
 * Computes a MoD model straight from a Spec and its safetensors file (any of F32/BF16/F16,
 * read through st_get_f32), in double precision, without the IR, the passes or the packed
 * blob.  It is what the interpreter and the compiled code are checked against.
 *
 *   ref_forward: top-k routing over one sequence of T tokens (modc_forward);
 *   ref_causal:  causal routing over a whole sequence of n tokens in one pass, which is what
 *                a session's prefill plus decode steps must give (every row's logits).
 *
 * round_bf16: round every matrix (rank-2 tensor) to bf16 (nearest even) before use; vectors
 * (norms, biases) stay as read.  That is what the packed blob holds for weights_dtype bf16
 * (passes.h: matrices in weights_dtype, vectors in f32).  The plain entry points take it
 * from spec->weights_dtype.
 * All functions return 0, or -1 with a message on stderr (missing or mis-sized tensor,
 * token out of range).
 */
#ifndef MODC_REFMODEL_H
#define MODC_REFMODEL_H

#include <stdint.h>
#include "frontend/safetensors.h"
#include "frontend/spec.h"

typedef struct RefStats {
  double min_margin;   /* smallest routing margin: top-k: r[k-th] - r[(k+1)-th] (descending,
                          none when k == T); causal: |p|.  +inf when nothing was routed */
  double score_scale;  /* largest |r| (top-k) or |p| (causal) seen: what margins compare to */
  int routed_rows[SPEC_MAX_LAYERS]; /* rows that took each routed layer's block; 0 if dense */
} RefStats;

/* logits [T][vocab] */
int ref_forward(const Spec *s, const StFile *st, int T, const int32_t *tokens, double *logits,
                RefStats *stats);
/* logits [n][vocab] (all rows); taken [n_layers][n]: 1 where token t took layer l's block
 * (always 0 for dense layers); taken and stats may be NULL */
int ref_causal(const Spec *s, const StFile *st, int n, const int32_t *tokens, double *logits,
               uint8_t *taken, RefStats *stats);

/* The same with the bf16 rounding given explicitly. */
int ref_forward_x(const Spec *s, const StFile *st, int round_bf16, int T, const int32_t *tokens,
                  double *logits, RefStats *stats);
int ref_causal_x(const Spec *s, const StFile *st, int round_bf16, int n, const int32_t *tokens,
                 double *logits, uint8_t *taken, RefStats *stats);

#endif
