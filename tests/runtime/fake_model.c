/* fake_model.c: a hand-written stand-in for the object codegen emits, for runtime tests.
 *
 * It defines `modc__desc` and the one-set table `modc__descs` (exec.h) for the tiny model of fake_model.h and graph functions
 * written in plain C, so the runtime's whole ABI can be tested without the compiler.  Built
 * into shared libraries with the runtime archive (tests/runtime.cmake) in variants:
 *   FAKE_EMBED     the weights blob is embedded (weights_embedded != NULL)
 *   FAKE_FEATURES  the LLVM feature string (default "+sse2,-amx-tile")
 *   FAKE_ABI       the descriptor's abi_version (default MODC_ABI_VERSION)
 * The graphs check what the runtime hands them and count violations in fake_errors; the
 * fake_* wrappers export the runtime's hidden helpers to the test driver.
 */
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include "exec.h"
#include "modc.h"
#include "fake_model.h"

#ifndef FAKE_FEATURES
#define FAKE_FEATURES "+sse2,-amx-tile"
#endif
#ifndef FAKE_ABI
#define FAKE_ABI MODC_ABI_VERSION
#endif

int fake_errors;               /* checks the graphs found violated */
int fake_forward_calls;        /* graph calls, to count batch rows */

static void check(int ok) { if (!ok) __sync_fetch_and_add(&fake_errors, 1); }

/* The arena is 64-aligned and writable over its planned size (ASan catches a short one). */
static int arena_ok(uint8_t *arena, int64_t size) {
  if (!arena || (uintptr_t)arena % 64) return 0;
  memset(arena, 0xab, (size_t)size);
  return 1;
}

typedef struct { modc_exec *x; int64_t T; } FwdArgs;

/* Logits of rows covering flat elements [lo, hi) of out[T][vocab]. */
static void forward_task(void *p, int64_t lo, int64_t hi) {
  FwdArgs *a = p;
  const float *w = (const float *)a->x->weights;
  for (int64_t e = lo; e < hi; e++) {
    int64_t t = e / FAKE_VOCAB, v = e % FAKE_VOCAB;
    int32_t next = (a->x->tokens[t] + 1) % FAKE_VOCAB;
    a->x->out[e] = v == next ? w[0] + (float)a->x->pos[t] : 0.0f;
  }
}

static void forward_graph(modc_exec *x, int64_t T, int64_t arena) {
  __sync_fetch_and_add(&fake_forward_calls, 1);
  check(arena_ok(x->arena, arena) && x->dims && x->nthreads >= 1 && !x->kv_k);
  for (int64_t t = 0; t < T; t++) check(x->pos[t] == t);
  FwdArgs a = {x, T};
  modc_rt_parallel_for(x, forward_task, &a, T * FAKE_VOCAB);
}

static void forward_4(modc_exec *x) { forward_graph(x, 4, 1000); }
static void forward_8(modc_exec *x) { forward_graph(x, 8, 3000); }

/* Append one row (token tok at position p) to layer l's cache. */
static void append(modc_exec *x, int l, int32_t tok, int32_t p) {
  int64_t r = x->kv_len[l]++;
  check(r < FAKE_MAX_SEQ);
  for (int j = 0; j < FAKE_KV_DIM; j++) {
    x->kv_k[l][r * FAKE_KV_DIM + j] = (float)tok;
    x->kv_v[l][r * FAKE_KV_DIM + j] = (float)p;
  }
  x->kv_pos[l][r] = p;
}

static void session_graph(modc_exec *x) {
  int64_t n = x->dims[0];
  check(arena_ok(x->arena, 512) && n >= 1 && x->out);
  for (int64_t i = 0; i < n; i++) {
    int32_t tok = x->tokens[i], p = x->pos[i];
    check(p == x->kv_len[0] && (i == 0 || p == x->pos[i - 1] + 1));
    for (int l = 0; l < FAKE_LAYERS; l++) {
      int take = l != FAKE_ROUTED_LAYER || tok % 2 == 0;
      if (l == FAKE_ROUTED_LAYER) x->route[l][p] = (uint8_t)take;
      if (take) append(x, l, tok, p);
    }
  }
  const float *w = (const float *)x->weights;
  for (int v = 0; v < FAKE_VOCAB; v++) x->out[v] = 0.0f;
  x->out[(x->tokens[n - 1] + 1) % FAKE_VOCAB] = w[0] + (float)x->kv_len[FAKE_ROUTED_LAYER];
}

#ifdef FAKE_EMBED
static const float fake_blob[FAKE_BLOB_FLOATS] __attribute__((aligned(64))) = {
    [0 ... FAKE_BLOB_FLOATS - 1] = 1.0f};
#define FAKE_EMBEDDED ((const uint8_t *)fake_blob)
#else
#define FAKE_EMBEDDED NULL
#endif

static const float fake_capacity[FAKE_LAYERS] = {1.0f, 0.5f, 1.0f};
static const int32_t fake_routed[FAKE_LAYERS] = {0, 1, 0};
static const int32_t fake_shapes[2][2] = {{1, 4}, {2, 8}};
static const modc_graph_fn fake_forward[2] = {forward_4, forward_8};
static const int64_t fake_forward_arena[2] = {1000, 3000};
static const int64_t fake_forward_nsym[2] = {1, 1};

const modc_desc modc__desc = {
  .abi_version = FAKE_ABI, .name = "fake_model", .triple = "x86_64-unknown-linux-gnu",
  .cpu = "fakecpu", .features = FAKE_FEATURES, .vocab_size = FAKE_VOCAB, .d_model = 8,
  .n_layers = FAKE_LAYERS, .n_heads = 2, .n_kv_heads = 1, .head_dim = 4,
  .max_seq_len = FAKE_MAX_SEQ, .default_threads = 3, .weights_size = FAKE_BLOB_SIZE,
  .weights_hash = FAKE_HASH, .weights_embedded = FAKE_EMBEDDED,
  .weights_file = FAKE_WEIGHTS_FILE, .capacity = fake_capacity, .routed = fake_routed,
  .n_shapes = 2, .shapes = &fake_shapes[0][0], .forward = fake_forward,
  .forward_arena = fake_forward_arena, .forward_nsym = fake_forward_nsym,
  .session = session_graph, .session_arena = 512, .session_nsym = 1,
};
static const modc_desc *const fake_descs[1] = {&modc__desc};
const modc_desc_set modc__descs = {1, fake_descs};

/* The runtime's hidden helpers, exported for the test driver. */
int modc_rt_missing_features(const char *features, char *missing, size_t n);

void fake_topk(const float *r, int64_t n, int64_t k, int32_t *idx) { modc_rt_topk(r, n, k, idx); }

int fake_missing_features(const char *features, char *missing, size_t n) {
  return modc_rt_missing_features(features, missing, n);
}

typedef struct { int *counts; int64_t *chunks; int *n_chunks; } CoverArgs;

static void cover_task(void *p, int64_t lo, int64_t hi) {
  CoverArgs *a = p;
  for (int64_t i = lo; i < hi; i++) __sync_fetch_and_add(&a->counts[i], 1);
  int c = __sync_fetch_and_add(a->n_chunks, 1);
  a->chunks[2 * c] = lo;
  a->chunks[2 * c + 1] = hi;
}

/* counts[i] += 1 for every i a chunk covers; chunks[2c], chunks[2c+1] = each chunk's range.
 * No pool: the OpenMP path (tests/runtime/test_pool.c tests the pool's). */
int fake_parallel_for(int64_t nthreads, int64_t n, int *counts, int64_t *chunks) {
  int n_chunks = 0;
  CoverArgs a = {counts, chunks, &n_chunks};
  modc_exec x = {.nthreads = nthreads};
  modc_rt_parallel_for(&x, cover_task, &a, n);
  return n_chunks;
}

/* Most chunks any parallel_for called from inside a 2-thread parallel region used (with
 * nested parallelism allowed, so only the runtime's own check keeps it serial). */
int fake_parallel_for_nested(int64_t nthreads, int64_t n) {
  int most = 0;
  int saved = omp_get_max_active_levels();
  omp_set_max_active_levels(4);
#pragma omp parallel num_threads(2)
  {
    static int64_t chunks[2][2 * 64];
    static int counts[2][4096];
    int c = fake_parallel_for(nthreads, n, counts[omp_get_thread_num() & 1],
                              chunks[omp_get_thread_num() & 1]);
#pragma omp critical
    if (c > most) most = c;
  }
  omp_set_max_active_levels(saved);
  return most;
}
