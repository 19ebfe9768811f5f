/* pool.c: the persistent worker threads of pool.h.
 *
 * Protocol (all state in rt_pool; each hot field on its own cache line):
 *   dispatch  the caller takes `busy` (try-lock), writes the job (job, ctx), sets
 *             pending = nt-1, bumps `gen` (release) and, only when some worker sleeps,
 *             broadcasts the condition variable; then runs part 0 itself;
 *   worker    waits until `gen` differs from the last one it saw (acquire); when its index
 *             is below the job's nt it runs its part and decrements `pending` (release);
 *   join      the caller spins until pending is 0 (acquire), then releases `busy`.
 * `gen` carries nt in its low bits, so a worker left out of a job learns so from `gen` alone
 * and never reads the job fields, which the next dispatch may already be rewriting; only
 * the nt-1 workers that take part are waited for (on a loaded or oversubscribed machine an
 * idle worker may not be scheduled for milliseconds).  A worker spins spin_ns after its last
 * job, then sleeps: it counts itself
 * in `sleepers` and re-reads `gen` under the mutex; the dispatcher bumps `gen` before it
 * reads `sleepers` (both sequentially consistent), so one of them always sees the other and
 * no wake-up is lost.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
#elif defined(__aarch64__)
static inline void cpu_relax(void) { __asm__ __volatile__("yield"); }
#else
static inline void cpu_relax(void) { sched_yield(); }
#endif

#define LINE 64
#define NT_BITS 16                 /* gen's low bits: the job's nt (threads <= RT_POOL_MAX) */
#define NT_MASK ((1ull << NT_BITS) - 1)
#define SPINS_PER_CLOCK 64         /* pause iterations between two clock reads (~3-10 us) */
#define JOIN_SPINS 1024            /* pause iterations before the joiner starts to yield */
#define WORKER_STACK (4 << 20)     /* kernels need ~256 KiB (modc.h); not left to ulimit -s */

typedef struct rt_worker {
  rt_pool *pool;
  int t;                            /* part index, 1..nthreads-1 */
} rt_worker;

struct rt_pool {
  _Alignas(LINE) atomic_ullong gen; /* job count << NT_BITS | nt; bumped per job and to stop */
  rt_job_fn job;                    /* the job: written before gen's bump, read after it */
  void *ctx;
  atomic_int stop;                  /* set (under mu) before the last bump of gen */
  _Alignas(LINE) atomic_int pending;   /* workers not yet done with the current job */
  _Alignas(LINE) atomic_int busy;      /* the try-lock: 1 while a call owns the pool */
  _Alignas(LINE) atomic_int sleepers;  /* workers blocked (or about to block) on cv */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int nthreads;
  int started;                      /* workers created so far */
  int64_t spin_ns;
  pthread_t *threads;               /* [nthreads-1] */
  rt_worker *workers;               /* [nthreads-1] */
};

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Block until gen != seen; returns the new gen. */
static uint64_t sleep_for_job(rt_pool *p, uint64_t seen) {
  uint64_t g;
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->sleepers, 1);
  while ((g = atomic_load(&p->gen)) == seen) pthread_cond_wait(&p->cv, &p->mu);
  atomic_fetch_sub(&p->sleepers, 1);
  pthread_mutex_unlock(&p->mu);
  return g;
}

/* Spin until gen != seen, for at most spin_ns, then sleep; returns the new gen. */
static uint64_t wait_for_job(rt_pool *p, uint64_t seen) {
  int64_t t0 = now_ns();
  for (unsigned i = 1;; i++) {
    uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
    if (g != seen) return g;
    cpu_relax();
    if (i % SPINS_PER_CLOCK == 0 && now_ns() - t0 >= p->spin_ns) return sleep_for_job(p, seen);
  }
}

static void *worker_main(void *arg) {
  rt_worker *w = arg;
  rt_pool *p = w->pool;
  uint64_t seen = 0;
  for (;;) {
    seen = wait_for_job(p, seen);
    if (atomic_load_explicit(&p->stop, memory_order_relaxed)) return NULL;
    int nt = (int)(seen & NT_MASK);
    if (w->t >= nt) continue;   /* not in this job: touch nothing of it */
    p->job(p->ctx, w->t, nt);
    atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
  }
}

/* Tell every worker to leave, join those started, free p. */
static void stop_and_free(rt_pool *p) {
  pthread_mutex_lock(&p->mu);
  atomic_store_explicit(&p->stop, 1, memory_order_relaxed);
  atomic_fetch_add(&p->gen, 1ull << NT_BITS);
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->started; i++) pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p->workers);
  free(p);
}

/* Workers get every signal blocked, so that a user's handlers run on the user's threads. */
static int start_workers(rt_pool *p) {
  pthread_attr_t attr;
  sigset_t all, old;
  if (pthread_attr_init(&attr)) return -1;
  pthread_attr_setstacksize(&attr, WORKER_STACK);
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  for (int i = 0; i < p->nthreads - 1; i++, p->started++) {
    p->workers[i] = (rt_worker){p, i + 1};
    if (pthread_create(&p->threads[i], &attr, worker_main, &p->workers[i])) break;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  return p->started == p->nthreads - 1 ? 0 : -1;
}

/* A zeroed pool, cache-line aligned (not rt_alloc: pool.c and parallel.c stand alone). */
static rt_pool *alloc_pool(void) {
  void *p = NULL;
  if (posix_memalign(&p, LINE, sizeof(rt_pool))) return NULL;
  memset(p, 0, sizeof(rt_pool));
  return p;
}

/* CPUs this process may run on. */
static int cpus_available(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

rt_pool *rt_pool_create(int nthreads, int64_t spin_ns) {
  if (nthreads < 2 || nthreads > RT_POOL_MAX) return NULL;
  rt_pool *p = alloc_pool();
  if (!p) return NULL;
  p->nthreads = nthreads;
  p->spin_ns = nthreads <= cpus_available() ? spin_ns : 0;
  p->threads = calloc((size_t)nthreads - 1, sizeof *p->threads);
  p->workers = calloc((size_t)nthreads - 1, sizeof *p->workers);
  if (!p->threads || !p->workers || pthread_mutex_init(&p->mu, NULL)) {
    free(p->threads), free(p->workers), free(p);
    return NULL;
  }
  pthread_cond_init(&p->cv, NULL);
  if (start_workers(p)) {
    stop_and_free(p);
    return NULL;
  }
  return p;
}

void rt_pool_destroy(rt_pool *p) {
  if (p) stop_and_free(p);
}

int rt_pool_threads(const rt_pool *p) { return p->nthreads; }

/* Publish the job and wake whoever sleeps. */
static void dispatch(rt_pool *p, rt_job_fn job, void *ctx, int nt) {
  p->job = job;
  p->ctx = ctx;
  atomic_store_explicit(&p->pending, nt - 1, memory_order_relaxed);
  uint64_t g = atomic_load_explicit(&p->gen, memory_order_relaxed);
  atomic_store(&p->gen, ((g >> NT_BITS) + 1) << NT_BITS | (uint64_t)nt);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
}

/* Spin until the workers are done; past JOIN_SPINS yield instead, so that a worker waiting
 * for this core (more threads than cores, or a loaded machine) gets it. */
static void join(rt_pool *p) {
  for (unsigned i = 0; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; i++)
    if (i < JOIN_SPINS) cpu_relax();
    else sched_yield();
}

int rt_pool_run(rt_pool *p, rt_job_fn job, void *ctx, int nt) {
  if (nt <= 1) {
    job(ctx, 0, 1);
    return 0;
  }
  if (atomic_exchange_explicit(&p->busy, 1, memory_order_acquire)) return RT_POOL_BUSY;
  dispatch(p, job, ctx, nt);
  job(ctx, 0, nt);
  join(p);
  atomic_store_explicit(&p->busy, 0, memory_order_release);
  return 0;
}

int rt_pool_is_worker(const rt_pool *p) {
  pthread_t self = pthread_self();
  for (int i = 0; i < p->started; i++)
    if (pthread_equal(self, p->threads[i])) return 1;
  return 0;
}

int rt_pool_sleeping(const rt_pool *p) {
  return atomic_load(&((rt_pool *)p)->sleepers);
}
