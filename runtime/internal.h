/* internal.h: what the runtime's files share and the outside never sees.
 *
 * The runtime is linked into every library modc emits, next to the generated object that
 * defines `modc__desc` (exec.h).  All state lives in the two context structs below; the one
 * global is the thread-local error message (error.c).  Every buffer a call needs is
 * allocated by modc_open or modc_session_open, so forward/prefill/decode never allocate.
 * (profile.c keeps a process-wide table too, off unless MODC_PROFILE is set.)
 * Everything declared here is hidden: only the modc_* ABI of modc.h leaves the library.
 */
#ifndef MODC_RT_INTERNAL_H
#define MODC_RT_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "exec.h"
#include "modc.h"

#define RT_API __attribute__((visibility("default")))
#define RT_HIDDEN __attribute__((visibility("hidden")))
#define RT_ALIGN 64

/* The model the generated object describes (same shared library, so hidden). */
extern const modc_desc modc__desc RT_HIDDEN;
extern const modc_desc_set modc__descs RT_HIDDEN;   /* every kernel set, modc__desc first */

struct modc_model {
  const modc_desc *desc;
  modc_info info;            /* points into desc */
  const uint8_t *weights;    /* blob: embedded, or inside the mapping */
  void *map;                 /* mmap of the weights file, NULL when embedded */
  size_t map_size;
  int nthreads;
  struct rt_pool *pool;      /* nthreads-1 workers (pool.h); NULL for one thread */
  uint8_t *arena;            /* [max forward_arena] bytes, 64-aligned, shared by forward calls */
  int64_t *dims;             /* [max(1, max forward_nsym)] */
  int32_t *pos;              /* [max seq_len over shapes] = 0..T-1 */
  pthread_mutex_t lock;      /* serialises modc_forward (arena and dims are shared) */
};

struct modc_session {
  modc_model *m;
  int64_t len;               /* tokens held */
  uint8_t *arena;            /* [session_arena] bytes, 64-aligned */
  int64_t *dims;             /* [max(1, session_nsym)] */
  float **kv_k;              /* [n_layers] -> [max_seq][n_kv_heads*head_dim] */
  float **kv_v;              /* [n_layers] -> [max_seq][n_kv_heads*head_dim] */
  int32_t **kv_pos;          /* [n_layers] -> [max_seq] */
  int64_t *kv_len;           /* [n_layers] */
  uint8_t **route;           /* [n_layers] -> [max_seq] */
  int32_t *pos;              /* [max_seq] positions of the call's tokens */
  float *scratch;            /* [vocab] logits when the caller passes none */
  void *kv_block;            /* one allocation holding every layer's k, v, pos and route */
};

/* error.c: set the thread-local message, return code (always negative). */
int rt_error(int code, const char *fmt, ...) RT_HIDDEN __attribute__((format(printf, 2, 3)));

/* model.c: 64-byte aligned, zeroed, size 0 allowed; free with free(). */
void *rt_alloc(size_t size) RT_HIDDEN;

/* weights.c: map and check the weights for desc; fills m->weights, m->map, m->map_size. */
int rt_weights_open(modc_model *m, const char *path) RT_HIDDEN;
void rt_weights_close(modc_model *m) RT_HIDDEN;

/* cpu.c: writes the "+feature"s of `features` this CPU lacks, ", "-separated, into
 * missing[n]; returns how many.  Unknown feature names are not checked (never missing);
 * on non-x86-64 builds nothing is checked. */
int modc_rt_missing_features(const char *features, char *missing, size_t n) RT_HIDDEN;
/* cpu.c: ask the OS for AMX tile state when the features need it (Linux); 0 or error. */
int rt_cpu_prepare(const char *features) RT_HIDDEN;

/* parallel.c (on pool.c's threads) / topk.c (declared in exec.h, hidden here). */
void modc_rt_parallel_for(const modc_exec *x, modc_task_fn fn, void *args, int64_t n) RT_HIDDEN;
void modc_rt_topk(const float *r, int64_t n, int64_t k, int32_t *idx) RT_HIDDEN;

/* profile.c (MODC_PROFILE): rt_prof_start at modc_open reads the variable; rt_prof_on says
 * whether calls are timed; rt_prof_add counts one call of fn (a kernel's task function, or a
 * graph with graph = 1): its wall, slowest and mean chunk ns over `threads` threads;
 * rt_prof_flush (modc_close) appends the table to the file and clears it. */
void rt_prof_start(void) RT_HIDDEN;
int rt_prof_on(void) RT_HIDDEN;
int64_t rt_prof_now(void) RT_HIDDEN;
void rt_prof_add(const void *fn, int graph, int64_t wall, int64_t max, int64_t mean, int threads) RT_HIDDEN;
void rt_prof_flush(void) RT_HIDDEN;
/* g(x), timed as a graph when profiling. */
static inline void rt_run_graph(modc_graph_fn g, modc_exec *x) {
  if (!rt_prof_on()) {
    g(x);
    return;
  }
  int64_t t0 = rt_prof_now();
  g(x);
  rt_prof_add((const void *)g, 1, rt_prof_now() - t0, 0, 0, 0);
}

/* forward.c: check a token array against the vocabulary; the error names index and value. */
int rt_check_tokens(const char *fn, const int32_t *tokens, int64_t n, int64_t vocab) RT_HIDDEN;

#endif
