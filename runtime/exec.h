/* exec.h: the contract between generated code (codegen/) and the runtime (runtime/).
 *
 * The generated object defines one global, `modc__desc` (a modc_desc), describing the model
 * and pointing at the generated graph functions.  The runtime drives everything through it.
 * Every field is 8 bytes wide (int64 or pointer) so that codegen can build the same layout
 * as an LLVM struct of i64/ptr without padding questions; codegen/module.c mirrors the field
 * order below and must change with it.
 *
 * A graph function runs one scheduled graph: `void graph(modc_exec *x)`.
 *   forward graph for seq_len T: one sequence; tokens/pos are [T]; out is logits [T][vocab].
 *   session graph: rows = x->dims[0] new tokens at positions x->pos; appends to the KV caches;
 *                  out is the logits of the last row [vocab].
 *
 * Packed weights file (<name>.weights, written by modc compile, mmapped by modc_open):
 *   bytes 0..63: header: "MODCW001" (8), uint64 hash, uint64 blob size, uint64 blob offset (=64),
 *                rest zero; the blob follows at offset 64.  Every tensor in the blob starts at a
 *                64-byte aligned offset; weight nodes' offsets are relative to the blob.
 *   hash = FNV-1a 64 in 4 lanes over the blob's 64-bit words (passes/weights.c says how);
 *   the library records it and modc_open compares.
 */
#ifndef MODC_EXEC_H
#define MODC_EXEC_H

#include <stdint.h>

#define MODC_WEIGHTS_MAGIC "MODCW001"
#define MODC_WEIGHTS_HEADER 64

typedef struct modc_exec {
  const uint8_t *weights;   /*  0: packed weights blob */
  uint8_t *arena;           /*  1: planned arena (graph's arena_size bytes, 64-aligned) */
  const int32_t *tokens;    /*  2: [rows] token ids of this call */
  const int32_t *pos;       /*  3: [rows] positions of this call's tokens */
  float *out;               /*  4: logits: forward [T][vocab]; session [vocab] (last row) */
  int64_t *dims;            /*  5: dynamic symbols; session: dims[0] = rows of the call */
  float **kv_k;             /*  6: [n_layers] key cache of a session, [max_seq][n_kv_heads*hd] */
  float **kv_v;             /*  7: [n_layers] value cache, same shape */
  int32_t **kv_pos;         /*  8: [n_layers] positions of the cached rows, [max_seq] */
  int64_t *kv_len;          /*  9: [n_layers] cached rows per layer */
  uint8_t **route;          /* 10: [n_layers] routing trace by position, [max_seq] (routed layers) */
  int64_t nthreads;         /* 11: threads for modc_rt_parallel_for */
  void *pool;               /* 12: the model's rt_pool (runtime/pool.h), NULL: OpenMP only */
} modc_exec;

typedef void (*modc_graph_fn)(modc_exec *x);

typedef struct modc_desc {
  int64_t abi_version;            /*  0: MODC_ABI_VERSION */
  const char *name;               /*  1 */
  const char *triple;             /*  2 */
  const char *cpu;                /*  3 */
  const char *features;           /*  4: LLVM feature string the code was built with, "+avx2,+fma,..." */
  int64_t vocab_size;             /*  5 */
  int64_t d_model;                /*  6 */
  int64_t n_layers;               /*  7 */
  int64_t n_heads;                /*  8 */
  int64_t n_kv_heads;             /*  9 */
  int64_t head_dim;               /* 10 */
  int64_t max_seq_len;            /* 11 */
  int64_t default_threads;        /* 12: 0 = all cores */
  int64_t weights_size;           /* 13: blob bytes */
  uint64_t weights_hash;          /* 14: the blob's hash (4-lane FNV-1a 64) */
  const uint8_t *weights_embedded;/* 15: the blob inside the library (--embed-weights), else NULL */
  const char *weights_file;       /* 16: default file name, looked up beside the library */
  const float *capacity;          /* 17: [n_layers], 1.0 for dense layers */
  const int32_t *routed;          /* 18: [n_layers] 0/1 */
  int64_t n_shapes;               /* 19 */
  const int32_t *shapes;          /* 20: [n_shapes][2] (batch, seq_len) */
  const modc_graph_fn *forward;   /* 21: [n_shapes] graph for one sequence of that seq_len */
  const int64_t *forward_arena;   /* 22: [n_shapes] arena bytes */
  const int64_t *forward_nsym;    /* 23: [n_shapes] dims entries the graph uses */
  modc_graph_fn session;          /* 24 */
  int64_t session_arena;          /* 25 */
  int64_t session_nsym;           /* 26 */
  int64_t forward_threshold;      /* 27: 1: modc_forward routes by threshold (routing.forward) */
} modc_desc;

/* The library's kernel sets (modc compile --cpu A,B,...: one per CPU; one for a single CPU):
 * `modc__descs`, defined by the first set's object, points at every set's modc_desc (the
 * first is `modc__desc`, set i's `modc__desc_<i>`; their graph functions and embedded blobs
 * are suffixed "__s<i>" likewise).  modc_open runs the set with the most ISA features this
 * CPU has, or the one $MODC_CPU names. */
typedef struct modc_desc_set {
  int64_t n;
  const modc_desc *const *descs;  /* [n] in the order of the CPU list */
} modc_desc_set;

/* Runtime helpers that generated kernels call (defined in runtime/, linked into every library). */
typedef void (*modc_task_fn)(void *args, int64_t lo, int64_t hi);
/* Splits [0,n) into contiguous chunks, one per thread (at most x->nthreads), calls fn on
 * each, on x->pool's threads when it is free.  x NULL runs fn(args, 0, n) on the calling
 * thread (codegen passes NULL for small work).  Chunk boundaries never change a result: each
 * output element is computed by one call. */
void modc_rt_parallel_for(const modc_exec *x, modc_task_fn fn, void *args, int64_t n);
/* idx[0..k) = the k rows of r[0..n) with the largest values, ties to the smaller row, ascending. */
void modc_rt_topk(const float *r, int64_t n, int64_t k, int32_t *idx);

#endif
