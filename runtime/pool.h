/* pool.h: the model's persistent worker threads (pool.c), behind modc_rt_parallel_for.
 *
 * Opening an OpenMP region per kernel costs a fork and a join each time, about ten per layer,
 * and how OpenMP's threads wait between regions decided a decode step's time (PERFORMANCE.md,
 * "The GPU machine's 16 cores").  A pool keeps nthreads-1 pthreads alive for the model's
 * life.  After a job a worker spins (pause instruction) for spin_ns, then sleeps on a condition
 * variable, so back-to-back kernels never wake a thread and an idle library burns no CPU.
 *
 * A pool runs one job at a time: rt_pool_run takes a try-lock and returns RT_POOL_BUSY at once
 * when another call holds it (another user thread's, or a nested call from inside a job);
 * the caller then runs the work some other way (parallel.c).  Nothing here allocates after
 * rt_pool_create.  The workers do not survive fork(): a child must not run calls on a pool
 * (a model) its parent created, as with libgomp.
 */
#ifndef MODC_RT_POOL_H
#define MODC_RT_POOL_H

#include <stdint.h>
#include "internal.h"

#define RT_POOL_BUSY (-1)
/* How long an idle worker spins before it sleeps: long enough to span the gap between two
 * decode steps, short enough that an idle library stops burning cores at once. */
#define RT_POOL_SPIN_NS 2000000
#define RT_POOL_MAX 4096          /* most threads a pool takes */

typedef struct rt_pool rt_pool;
/* One thread's share of a job: part t of nt (0 <= t < nt). */
typedef void (*rt_job_fn)(void *ctx, int t, int nt);

/* Starts nthreads-1 workers (2 <= nthreads <= RT_POOL_MAX), idle ones spinning spin_ns
 * before they sleep; with more threads than the CPUs this process may use they sleep at once
 * (as libgomp throttles its spinning), or spinning workers would hold the cores the others
 * wait for.  NULL when threads or memory cannot be had (nothing is left running). */
rt_pool *rt_pool_create(int nthreads, int64_t spin_ns) RT_HIDDEN;
/* Stops and joins the workers.  Requires: no rt_pool_run in progress.  NULL is a no-op. */
void rt_pool_destroy(rt_pool *p) RT_HIDDEN;
/* nthreads given to rt_pool_create: the calling thread plus the workers. */
int rt_pool_threads(const rt_pool *p) RT_HIDDEN;
/* Runs job(ctx, t, nt) once for every t in [0, nt), t = 0 on the calling thread, the others
 * on workers 1..nt-1, and returns 0 when all have returned (their writes visible to the
 * caller).  Requires 1 <= nt <= rt_pool_threads(p).  RT_POOL_BUSY, having run nothing, when
 * the pool is serving another call. */
int rt_pool_run(rt_pool *p, rt_job_fn job, void *ctx, int nt) RT_HIDDEN;
/* 1 when the calling thread is one of p's workers. */
int rt_pool_is_worker(const rt_pool *p) RT_HIDDEN;
/* Workers asleep right now (for tests of the spin-then-sleep path). */
int rt_pool_sleeping(const rt_pool *p) RT_HIDDEN;

#endif
