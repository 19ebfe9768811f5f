/* spec.h: the model spec (DESIGN.md section 3) as the rest of the compiler sees it.
 *
 * spec_load parses the YAML file with libyaml, applies "-D key.path=value" overrides,
 * checks every key, type and range, and fills a Spec.  Every problem is reported as
 * "file:line:col: error: message" (overrides as "<command line>: error: ...") into err;
 * nothing is defaulted silently except the keys DESIGN marks optional.
 */
#ifndef MODC_SPEC_H
#define MODC_SPEC_H

#include <stddef.h>
#include <stdio.h>   /* FILE, for spec_print_summary */
#include "../ir/dtype.h"

#define SPEC_MAX_LAYERS 256
#define SPEC_MAX_SHAPES 16

typedef enum { GATE_RAW, GATE_SIGMOID } GateKind;
typedef enum { PRED_ROUTER, PRED_MLP } PredKind;
/* how modc_forward routes: each window's top capacity x T tokens (the paper's rule), or each
 * token by the session rule p > threshold (a model trained with a cut that does not move) */
typedef enum { FWD_TOPK, FWD_THRESHOLD } FwdRule;

typedef struct Spec {
  char path[1024];          /* the spec file as given */
  char name[64];            /* [a-z][a-z0-9_]* */
  char weights_path[1024];  /* resolved relative to the spec's directory */
  /* model */
  int vocab_size, d_model, n_layers, n_heads, n_kv_heads, d_ff, max_seq_len;
  double norm_eps, rope_theta;
  int tie_embeddings;       /* 0/1 */
  /* routing */
  int routed[SPEC_MAX_LAYERS];      /* 1 if layer l is a routed (MoD) layer */
  double capacity[SPEC_MAX_LAYERS]; /* per layer; 1.0 for dense layers */
  double threshold[SPEC_MAX_LAYERS];/* causal routing: take the block iff p > threshold; 0 default */
  int made_dense[SPEC_MAX_LAYERS];  /* 1: listed in routing.layers with per_layer.L.dense: true;
                                       runs dense (routed[l] = 0), its router and predictor
                                       weights are in the file but ignored */
  GateKind gate;
  int router_bias;          /* 0/1 */
  PredKind predictor;
  int predictor_hidden;
  FwdRule forward;          /* routing.forward: topk (default) | threshold */
  /* compile */
  int n_shapes;
  int shapes[SPEC_MAX_SHAPES][2];   /* (batch, seq_len) */
  char target[128];         /* "host" or an LLVM triple */
  char cpu[256];            /* "native", an LLVM CPU name, or a comma-separated list of them
                             * (modc compile: one kernel set per CPU in one library) */
  DType weights_dtype;      /* DT_F32 or DT_BF16 */
  int threads;              /* 0 = all cores */
} Spec;

/* Returns 0 on success; -1 with err filled.  overrides: "key.path=value" strings. */
int spec_load(const char *path, const char *const *overrides, int n_overrides,
              Spec *out, char *err, size_t errlen);

/* k for a routed layer at sequence length T: min(T, max(1, ceil(c*T - 1e-9))) in double. */
int spec_capacity_k(double capacity, int T);

/* head dim = d_model / n_heads */
int spec_head_dim(const Spec *s);

/* Write s as a spec file that spec_load reads back into the same Spec (spec_write.c).
 * weights: the weights: value to write (NULL: s->weights_path); comment: a first "# ..." line
 * or NULL.  Returns 0, or -1 on a write error. */
int spec_write(const Spec *s, const char *weights, const char *comment, FILE *f);

/* Human-readable summary (modc check): layers, routing, parameter and FLOP counts. */
void spec_print_summary(const Spec *s, FILE *out);

#endif
