/* parallel.c: modc_rt_parallel_for, how generated kernels spread a loop over threads.
 *
 * [0,n) is cut into contiguous chunks, one per thread, with boundaries on multiples of
 * RT_GRAIN where possible (so vector loops over a chunk stay whole).  Each output belongs to
 * exactly one chunk and kernels compute an output the same way whatever chunk it falls in, so
 * results are bit-identical for every thread count and for every path below.
 *
 * Stealing (up to RT_STEAL_MAX threads): a thread works through its own chunk front to back
 * in guided pieces, each 1/RT_PIECES of what is left of the chunk (at least one block), taken
 * with a compare-and-swap on the chunk's cursor; when its chunk is done it takes the pieces
 * left in the others' chunks the same way.  The pieces shrink towards a chunk's end, so the
 * last ones in flight when the threads run out of work are single blocks (a matmul's work
 * items), not the fixed quarter-chunks of before: on 16 Xeon cores the fixed pieces left the
 * threads' ends apart by about half a piece.  So a thread that runs slower (a core shared with
 * another vCPU or process, a busier memory channel) does less, instead of every thread
 * waiting for it at the join, while each thread still starts on its own contiguous stretch
 * (the same weight panels and x rows as a static split).  Pieces are RT_GRAIN multiples, so results are as above.
 *
 * Paths, in order:
 *   serial   x NULL (codegen's "small work"), one thread, a small range, or a call from
 *            inside a parallel region (a user's OpenMP code): fn(args, 0, n) on this thread;
 *   pool     the model's persistent threads (pool.c), when x->pool is free;
 *   busy     the pool serves another call: a nested call from a pool worker runs serially,
 *            any other (another user thread's session) opens an OpenMP region as before the
 *            pool existed.  Under ThreadSanitizer that region is serial too: libgomp is not
 *            instrumented, so TSan would report its threads' every access as a race.
 * With MODC_PROFILE set (profile.c) each call is timed, and each thread's chunk inside it.
 */
#include <omp.h>
#include <stdatomic.h>
#include <string.h>
#include "pool.h"

#define RT_GRAIN 16
#define RT_STEAL_MAX 64   /* threads up to which calls balance by stealing (cursors on the stack) */
#define RT_PIECES 4       /* a piece: 1/RT_PIECES of what is left of its chunk */

#if defined(__SANITIZE_THREAD__)
#define RT_OMP_FALLBACK 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RT_OMP_FALLBACK 0
#endif
#endif
#ifndef RT_OMP_FALLBACK
#define RT_OMP_FALLBACK 1
#endif

/* Chunk t of nt over n items in units of RT_GRAIN: [*lo, *hi), possibly empty. */
static void chunk_bounds(int64_t n, int t, int nt, int64_t *lo, int64_t *hi) {
  int64_t blocks = (n + RT_GRAIN - 1) / RT_GRAIN;
  int64_t b0 = blocks * t / nt, b1 = blocks * (t + 1) / nt;
  *lo = b0 * RT_GRAIN < n ? b0 * RT_GRAIN : n;
  *hi = b1 * RT_GRAIN < n ? b1 * RT_GRAIN : n;
}

/* A chunk being worked through: the next piece's first block, and the chunk's end (blocks). */
typedef struct Cursor {
  _Alignas(64) _Atomic int64_t next;
  int64_t end;
} Cursor;

typedef struct Split {
  modc_task_fn fn;
  void *args;
  int64_t n;
  int64_t *ns;     /* profiling: [nt] each thread's time in the call, else NULL */
  Cursor *cur;     /* stealing: [ncur] one per chunk, else NULL (static chunks) */
  int ncur;
} Split;

/* The blocks of the piece that starts at block b of a chunk ending at end: 1/RT_PIECES of
 * what is left, at least one.  A chunk's pieces depend on nothing else, so they are the same
 * whichever threads take them (test_pool checks them exactly). */
static int64_t piece_blocks(int64_t b, int64_t end) {
  int64_t p = (end - b) / RT_PIECES;
  return p > 1 ? p : 1;
}

/* Takes the next piece of chunk c and runs it; 0 when the chunk is used up. */
static int take_piece(const Split *s, Cursor *c) {
  int64_t b = atomic_load_explicit(&c->next, memory_order_relaxed), e;
  do {
    if (b >= c->end) return 0;
    e = b + piece_blocks(b, c->end);
  } while (!atomic_compare_exchange_weak_explicit(&c->next, &b, e, memory_order_relaxed, memory_order_relaxed));
  int64_t lo = b * RT_GRAIN, hi = e * RT_GRAIN < s->n ? e * RT_GRAIN : s->n;
  if (lo < hi) s->fn(s->args, lo, hi);
  return 1;
}

/* rt_job_fn: thread t's chunk of the split, then (stealing) what is left of the others'. */
static void run_chunk(void *ctx, int t, int nt) {
  const Split *s = ctx;
  int64_t lo, hi, t0 = s->ns ? rt_prof_now() : 0;
  if (s->cur) {
    for (int i = 0; i < s->ncur; i++)
      while (take_piece(s, &s->cur[(t + i) % s->ncur])) {}
  } else {
    chunk_bounds(s->n, t, nt, &lo, &hi);
    if (lo < hi) s->fn(s->args, lo, hi);
  }
  if (s->ns) s->ns[t] = rt_prof_now() - t0;
}

/* Cursors over the nt chunks of s (cur[nt]). */
static void init_cursors(Split *s, Cursor *cur, int nt) {
  int64_t blocks = (s->n + RT_GRAIN - 1) / RT_GRAIN;
  for (int t = 0; t < nt; t++) {
    atomic_init(&cur[t].next, blocks * t / nt);
    cur[t].end = blocks * (t + 1) / nt;
  }
  s->cur = cur, s->ncur = nt;
}

static void run_openmp(const Split *s, int nt) {
#pragma omp parallel num_threads(nt)
  run_chunk((void *)s, omp_get_thread_num(), omp_get_num_threads());
}

/* Threads for n items at most nthreads: 1 means run serially. */
static int pick_threads(const modc_exec *x, int64_t n) {
  int64_t nt = x ? x->nthreads : 1, blocks = (n + RT_GRAIN - 1) / RT_GRAIN;
  if (nt > blocks) nt = blocks;
  if (nt <= 1 || n < 2 * RT_GRAIN || omp_in_parallel()) return 1;
  return (int)nt;
}

/* Runs s on nt threads by the first path that takes it; returns the threads that ran chunks
 * (1: serially, s->ns untouched). */
static int run_split(const modc_exec *x, Split *s, int nt) {
  Cursor cur[nt > 1 && nt <= RT_STEAL_MAX ? nt : 1];
  if (nt > 1 && nt <= RT_STEAL_MAX) init_cursors(s, cur, nt);
  rt_pool *p = nt > 1 ? x->pool : NULL;
  if (p && nt <= rt_pool_threads(p) && rt_pool_run(p, run_chunk, s, nt) == 0) return nt;
  if (nt > 1 && RT_OMP_FALLBACK && !(p && rt_pool_is_worker(p))) {
    run_openmp(s, nt);
    return nt;
  }
  s->fn(s->args, 0, s->n);
  return 1;
}

/* run_split timed for profile.c: the call's wall, its slowest and its mean chunk. */
static void run_profiled(const modc_exec *x, Split *s, int nt) {
  int64_t ns[nt], t0 = rt_prof_now();
  memset(ns, 0, sizeof ns);
  s->ns = ns;
  int ran = run_split(x, s, nt);
  int64_t wall = rt_prof_now() - t0, max = 0, sum = 0;
  if (ran == 1) ns[0] = wall;
  for (int t = 0; t < ran; t++) max = ns[t] > max ? ns[t] : max, sum += ns[t];
  rt_prof_add((const void *)s->fn, 0, wall, max, sum / ran, ran);
}

void modc_rt_parallel_for(const modc_exec *x, modc_task_fn fn, void *args, int64_t n) {
  if (n <= 0) return;
  int nt = pick_threads(x, n);
  Split s = {fn, args, n, NULL, NULL, 0};
  if (rt_prof_on()) run_profiled(x, &s, nt);
  else run_split(x, &s, nt);
}
