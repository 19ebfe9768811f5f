/* parallel.c: modc_rt_parallel_for, the one OpenMP region generated kernels run under.
 *
 * [0,n) is cut into contiguous chunks, one per thread, with boundaries on multiples of
 * RT_GRAIN where possible (so vector loops over a chunk stay whole).  Each output belongs to
 * exactly one chunk and kernels compute an output the same way whatever chunk it falls in, so
 * results are bit-identical for every thread count.  Small ranges, one thread, or a call from
 * inside a parallel region (a user's OpenMP code, or a nested helper) run serially.
 */
#include <omp.h>
#include "internal.h"

#define RT_GRAIN 16

/* Chunk t of nt over n items in units of RT_GRAIN: [*lo, *hi), possibly empty. */
static void chunk_bounds(int64_t n, int t, int nt, int64_t *lo, int64_t *hi) {
  int64_t blocks = (n + RT_GRAIN - 1) / RT_GRAIN;
  int64_t b0 = blocks * t / nt, b1 = blocks * (t + 1) / nt;
  *lo = b0 * RT_GRAIN < n ? b0 * RT_GRAIN : n;
  *hi = b1 * RT_GRAIN < n ? b1 * RT_GRAIN : n;
}

void modc_rt_parallel_for(int64_t nthreads, modc_task_fn fn, void *args, int64_t n) {
  if (n <= 0) return;
  int64_t blocks = (n + RT_GRAIN - 1) / RT_GRAIN;
  if (nthreads > blocks) nthreads = blocks;
  if (nthreads <= 1 || n < 2 * RT_GRAIN || omp_in_parallel()) {
    fn(args, 0, n);
    return;
  }
#pragma omp parallel num_threads((int)nthreads)
  {
    int64_t lo, hi;
    chunk_bounds(n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
    if (lo < hi) fn(args, lo, hi);
  }
}
