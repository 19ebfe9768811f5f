/* passes.h: the pass pipeline from the frontend's graph to a scheduled graph.
 *
 * Each pass states its contract (require / provide).  passes_run runs the pipeline, prints
 * the IR after each pass with print_after_all, and runs the verifier between passes when
 * verify is set (always in debug builds, and in every test).
 *
 *   infer-shapes  require: types on input and weight nodes      provide: every node typed
 *   lower-mod     require: typed                                provide: no mod.block; forward
 *                 graphs get router/topk/gather/body/scatter_gate, session graphs the
 *                 causal form (predictor/select/gather/body/scatter_gate)
 *   fuse-epilogues require: typed, lowered                      provide: typed; add(a, matmul) ->
 *                 matmul_add, silu_mul(matmul, matmul) of one x -> matmul_silu_mul, each
 *                 matmul folded only into its sole user (passes/fuse.c)
 *   fuse-routing  require: typed, lowered, fuse-epilogues run     provide: typed; a routed block's
 *                 gather + rmsnorm read inside its first matmuls (matmul_norm_gather), its
 *                 input residual read through the index (matmul_add_gather), its scaled
 *                 scatter in the down projection's epilogue (matmul_scatter_gate) (passes/route.c)
 *   plan-memory   require: typed, lowered                       provide: storage and offset on
 *                 every value, arena_size (one arena, offsets from liveness; a scatter's
 *                 result takes the storage of the h it updates when h dies there)
 *   schedule      require: typed, lowered, matmul weights panel-packed   provide: a schedule
 *                 record (ir/sched.h) on every kernel node, from PassOptions.target's
 *                 description by the heuristics of passes/schedule.c; records already in
 *                 the IR are kept; then PassOptions.tuning's records replace the heuristic's
                 on every node of their kernel key (passes/kkey.h), each verified
 */
#ifndef MODC_PASSES_H
#define MODC_PASSES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../ir/ir.h"
#include "../frontend/spec.h"
#include "../frontend/safetensors.h"
#include "target.h"

int pass_infer_shapes(Graph *g, char *err, size_t errlen);
/* lowering rebuilds the graph; *g is replaced (the old one freed) */
int pass_lower_mod(Graph **g, char *err, size_t errlen);
int pass_fuse_epilogues(Graph **g, char *err, size_t errlen); /* replaces *g */
int pass_fuse_routing(Graph **g, char *err, size_t errlen);   /* replaces *g */
int pass_plan_memory(Graph *g, char *err, size_t errlen);

typedef struct PassOptions {
  int print_after_all;      /* print the IR to `print` after every pass */
  FILE *print;
  int verify;               /* run the verifier after every pass */
  const char *stop_after;   /* NULL, or a pass name: stop the pipeline after it */
  int no_fuse;              /* skip the fusion passes (modc compile --no-fuse) */
  const TargetDesc *target; /* what the schedule pass schedules for; NULL: target_default */
  const struct Tuning *tuning; /* tuning records the schedule pass applies (tuning.h); NULL: none */
} PassOptions;

/* Names: "infer-shapes", "lower-mod", "fuse-epilogues", "fuse-routing", "plan-memory",
 * "schedule". */
int passes_run(Graph **g, const PassOptions *opt, char *err, size_t errlen);
/* Run one named pass (modc-opt --pass NAME); opt may be NULL (default target). */
int pass_run_named(Graph **g, const char *name, const PassOptions *opt, char *err, size_t errlen);

/* Weight layout: the packed blob (runtime/exec.h).  One entry per spec tensor, in
 * st_expected_tensors order, each 64-byte aligned.  Matrices are stored in the spec's
 * weights_dtype, vectors (norms, biases) in f32.  Matrices that matmuls read are packed in
 * panels of nr columns (schedule.h); the embedding table stays row-major (nr = 0), and with
 * tie_embeddings a second entry of the same name holds its panel copy for the head. */
typedef struct WEntry {
  char name[160];
  DType dt;
  int rank;
  int nr;                   /* panel width, 0: row-major */
  int64_t shape[2];
  int64_t offset, bytes;
} WEntry;
typedef struct WLayout {
  int n;
  WEntry *e;
  int64_t size;             /* blob bytes */
} WLayout;
int wlayout_build(const Spec *s, const TargetDesc *t, WLayout *out); /* t NULL: target_default */
void wlayout_free(WLayout *l);
const WEntry *wlayout_find(const WLayout *l, const char *name);       /* first entry of the name */
const WEntry *wlayout_find_panel(const WLayout *l, const char *name); /* its panel-packed entry */
/* Convert the safetensors tensors into the blob and write the packed weights file
 * (header + blob); returns the blob's FNV-1a 64 hash in *hash. */
int wlayout_write(const WLayout *l, const StFile *st, const char *path, uint64_t *hash,
                  char *err, size_t errlen);
/* The same hash from the same conversion, writing nothing: a compile learns the hash its code
 * embeds first, then writes the file beside code generation (tools/modc.c). */
int wlayout_hash(const WLayout *l, const StFile *st, uint64_t *hash, char *err, size_t errlen);
uint64_t modc_fnv1a64(const void *data, size_t n);

#endif
