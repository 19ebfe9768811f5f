/* test_pool.c: the runtime's persistent thread pool (runtime/pool.c) and
 * modc_rt_parallel_for on it (runtime/parallel.c), linked straight from the runtime archive.
 *
 * What must hold: every index of [0, n) is covered by exactly one call, in exactly the pieces
 * of parallel.c (chunk t of nt in multiples of 16, each cut into pieces of max(1, blocks / nt
 * / 4) blocks from its start; threads steal pieces, never change their bounds) so that logits
 * stay bit-identical; part 0 runs on the caller and the others on distinct workers; thousands of
 * dispatches in a row; a call that finds the pool busy (a nested call from inside a task, or
 * several user threads at once on one pool) still covers everything and never deadlocks;
 * workers that slept past their spin window wake for the next job; pools are created and
 * destroyed over and over.  Counts are plain ints written by the tasks, so that under
 * ThreadSanitizer (scripts/test.sh) a missing happens-before shows up as a race.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pool.h"

#define GRAIN 16
#define MAXN 5000
#define MAXCHUNKS 256
#define PIECES 4   /* parallel.c RT_PIECES */
#define STEAL_MAX 64   /* parallel.c RT_STEAL_MAX */

static int failures;   /* test code: a global is fine */
#define CHECK(c) do { if (!(c)) { failures++; fprintf(stderr, "%s:%d: CHECK(%s)\n", \
                                                      __FILE__, __LINE__, #c); } } while (0)

/* One call's record: counts[i] per index and the chunks the task was called on. */
typedef struct Cover {
  int counts[MAXN];
  int64_t chunks[MAXCHUNKS][2];
  int n_chunks;
  pthread_mutex_t mu;
} Cover;

static void cover_task(void *p, int64_t lo, int64_t hi) {
  Cover *c = p;
  for (int64_t i = lo; i < hi; i++) c->counts[i]++;
  pthread_mutex_lock(&c->mu);
  if (c->n_chunks < MAXCHUNKS) c->chunks[c->n_chunks][0] = lo, c->chunks[c->n_chunks][1] = hi;
  c->n_chunks++;
  pthread_mutex_unlock(&c->mu);
}

static void cover_reset(Cover *c) {
  memset(c->counts, 0, sizeof c->counts);
  c->n_chunks = 0;
}

static int cmp_chunk(const void *a, const void *b) {
  int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
  return (x > y) - (x < y);
}

/* The calls parallel.c must make: nt = min(nthreads, blocks) chunks, one when serial, each
 * cut (up to STEAL_MAX threads) into guided pieces: 1/PIECES of what is left of the chunk,
 * at least one block. */
static int expected_chunks(int64_t n, int64_t nthreads, int64_t out[][2]) {
  int64_t blocks = (n + GRAIN - 1) / GRAIN, nt = nthreads < blocks ? nthreads : blocks, k = 0;
  if (n <= 0) return 0;
  if (nt <= 1 || n < 2 * GRAIN) nt = 1;
  int guided = nt > 1 && nt <= STEAL_MAX;
  for (int64_t t = 0; t < nt; t++)
    for (int64_t b = blocks * t / nt, end = blocks * (t + 1) / nt, e; b < end; b = e) {
      int64_t piece = guided ? (end - b) / PIECES : end - b;
      e = b + (piece > 1 ? piece : 1);
      int64_t lo = b * GRAIN < n ? b * GRAIN : n, hi = e * GRAIN < n ? e * GRAIN : n;
      if (lo < hi && k < MAXCHUNKS) out[k][0] = lo, out[k][1] = hi, k++;
    }
  return (int)k;
}

/* c after one modc_rt_parallel_for over n with nthreads: exact cover, exact chunks. */
static int cover_ok(Cover *c, int64_t n, int64_t nthreads) {
  int64_t want[MAXCHUNKS][2];
  int k = expected_chunks(n, nthreads, want), ok = c->n_chunks == k;
  for (int64_t i = 0; i < n; i++) ok &= c->counts[i] == 1;
  if (!ok) return 0;
  qsort(c->chunks, (size_t)k, sizeof c->chunks[0], cmp_chunk);
  return memcmp(c->chunks, want, (size_t)k * sizeof want[0]) == 0;
}

static int run_cover(Cover *c, modc_exec *x, int64_t n) {
  cover_reset(c);
  modc_rt_parallel_for(x, cover_task, c, n);
  return cover_ok(c, n, x ? x->nthreads : 1);
}

static Cover cov;

/* Sizes below, at and above the grain and the thread count, on pools of 2..8 threads,
 * with the exec asking for every thread count up to the pool's. */
static void test_cover(void) {
  const int64_t sizes[] = {0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 100,
                           127, 128, 129, 1000, 4097, MAXN};
  for (int th = 2; th <= 8; th++) {
    rt_pool *p = rt_pool_create(th, RT_POOL_SPIN_NS);
    CHECK(p && rt_pool_threads(p) == th);
    for (int nt = 1; nt <= th; nt++)
      for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        modc_exec x = {.nthreads = nt, .pool = p};
        if (!run_cover(&cov, &x, sizes[s])) {
          failures++;
          fprintf(stderr, "cover: pool %d nthreads %d n %lld\n", th, nt, (long long)sizes[s]);
        }
      }
    rt_pool_destroy(p);
  }
  CHECK(run_cover(&cov, NULL, 1000));   /* NULL exec: one serial chunk */
}

/* Many dispatches in a row on one pool, n cycling through small and large. */
static void test_many(int rounds) {
  rt_pool *p = rt_pool_create(4, RT_POOL_SPIN_NS);
  modc_exec x = {.nthreads = 4, .pool = p};
  int bad = 0;
  for (int r = 0; r < rounds; r++) bad += !run_cover(&cov, &x, (r * 37) % 700);
  CHECK(bad == 0);
  rt_pool_destroy(p);
}

typedef struct Parts {
  pthread_t who[16];
  int ran[16], nt_seen[16];
} Parts;

static void parts_job(void *ctx, int t, int nt) {
  Parts *q = ctx;
  q->who[t] = pthread_self();
  q->ran[t]++;
  q->nt_seen[t] = nt;
}

/* rt_pool_run itself: part 0 on the caller, each other part once on its own worker. */
static void test_parts(void) {
  rt_pool *p = rt_pool_create(5, RT_POOL_SPIN_NS);
  for (int nt = 1; nt <= 5; nt++) {
    Parts q = {0};
    CHECK(rt_pool_run(p, parts_job, &q, nt) == 0);
    CHECK(pthread_equal(q.who[0], pthread_self()) && !rt_pool_is_worker(p));
    for (int t = 0; t < 5; t++) CHECK(q.ran[t] == (t < nt) && (t >= nt || q.nt_seen[t] == nt));
    for (int t = 1; t < nt; t++) {
      CHECK(!pthread_equal(q.who[t], pthread_self()));
      for (int u = 1; u < t; u++) CHECK(!pthread_equal(q.who[t], q.who[u]));
    }
  }
  rt_pool_destroy(p);
  CHECK(rt_pool_create(1, RT_POOL_SPIN_NS) == NULL);
}

/* A task that runs a whole parallel_for of its own, on the same exec (the pool is busy). */
typedef struct Nested {
  modc_exec *x;
  rt_pool *p;
  Cover inner[8];
  int busy_seen[8];
  int on_worker[8];
} Nested;

static void nested_task(void *ctx, int64_t lo, int64_t hi) {
  Nested *q = ctx;
  int k = (int)(lo / GRAIN);   /* outer n = 8 * GRAIN: chunk k starts at k * GRAIN */
  Parts unused = {0};
  q->busy_seen[k] = rt_pool_run(q->p, parts_job, &unused, 2) == RT_POOL_BUSY;
  q->on_worker[k] = rt_pool_is_worker(q->p);
  cover_reset(&q->inner[k]);
  modc_rt_parallel_for(q->x, cover_task, &q->inner[k], 1000 + k);
  (void)hi;
}

static Nested nest;

/* Stealing: the caller sleeps in the first piece of its chunk; the workers, done with theirs,
 * take the rest of it.  n = 4 threads x 8 blocks, pieces of 2 blocks. */
typedef struct Slow {
  pthread_t caller;
  int by_worker[64];   /* per block: 1 when a worker ran it */
} Slow;

static void slow_task(void *ctx, int64_t lo, int64_t hi) {
  Slow *q = ctx;
  int worker = !pthread_equal(pthread_self(), q->caller);
  if (lo == 0 && !worker) nanosleep(&(struct timespec){0, 200000000}, NULL);
  for (int64_t b = lo / GRAIN; b < hi / GRAIN; b++) q->by_worker[b] = worker;
}

static Slow slow;

static void test_steal(void) {
  rt_pool *p = rt_pool_create(4, RT_POOL_SPIN_NS);
  modc_exec x = {.nthreads = 4, .pool = p};
  int stolen = 0, tries = 0;
  for (; tries < 3 && !stolen; tries++) {   /* a machine too loaded to run a worker in 200 ms retries */
    memset(&slow, 0, sizeof slow);
    slow.caller = pthread_self();
    modc_rt_parallel_for(&x, slow_task, &slow, 32 * GRAIN);
    for (int b = 2; b < 8; b++) stolen += slow.by_worker[b];
  }
  CHECK(stolen > 0);
  printf("ok steal: %d of the 6 blocks behind the slow caller's piece ran on workers (try %d)\n", stolen, tries);
  rt_pool_destroy(p);
}

static void test_nested(void) {
  rt_pool *p = rt_pool_create(4, RT_POOL_SPIN_NS);
  modc_exec x = {.nthreads = 4, .pool = p};
  for (int r = 0; r < 20; r++) {
    memset(nest.busy_seen, 0, sizeof nest.busy_seen);
    nest.x = &x, nest.p = p;
    modc_rt_parallel_for(&x, nested_task, &nest, 4 * GRAIN);   /* 4 chunks of one block */
    for (int k = 0; k < 4; k++) {
      CHECK(nest.busy_seen[k]);
      /* chunk k runs on any of the threads (they steal each other's pieces); the caller's
       * own nested call may open an OpenMP region (or run serially), a worker's always runs
       * serially: one chunk */
      Cover *c = &nest.inner[k];
      int ok = 1;
      for (int i = 0; i < 1000 + k; i++) ok &= c->counts[i] == 1;
      CHECK(ok && (!nest.on_worker[k] || c->n_chunks == 1));
    }
  }
  CHECK(run_cover(&cov, &x, 1000));   /* the pool is free again */
  rt_pool_destroy(p);
}

/* Several user threads on one pool at once: whoever finds it busy falls back. */
typedef struct User {
  modc_exec *x;
  int rounds, bad;
  Cover c;
  pthread_barrier_t *start;
} User;

/* Covered exactly once, in parallel.c's chunks or, where the fallback ran serially (a busy
 * pool under ThreadSanitizer), in one. */
static int cover_any(Cover *c, modc_exec *x, int64_t n) {
  cover_reset(c);
  modc_rt_parallel_for(x, cover_task, c, n);
  if (c->n_chunks == 1 && c->chunks[0][0] == 0 && c->chunks[0][1] == n) return cover_ok(c, n, 1);
  return cover_ok(c, n, x->nthreads);
}

static void *user_main(void *arg) {
  User *u = arg;
  pthread_barrier_wait(u->start);
  for (int r = 0; r < u->rounds; r++) u->bad += !cover_any(&u->c, u->x, 64 + (r * 53) % 900);
  return NULL;
}

static User users[4];

static void test_concurrent(int rounds) {
  rt_pool *p = rt_pool_create(3, RT_POOL_SPIN_NS);
  modc_exec x = {.nthreads = 3, .pool = p};
  pthread_barrier_t start;
  pthread_t t[4];
  pthread_barrier_init(&start, NULL, 4);
  for (int i = 0; i < 4; i++) {
    users[i] = (User){.x = &x, .rounds = rounds, .start = &start};
    pthread_mutex_init(&users[i].c.mu, NULL);
    pthread_create(&t[i], NULL, user_main, &users[i]);
  }
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) CHECK(users[i].bad == 0);
  pthread_barrier_destroy(&start);
  rt_pool_destroy(p);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

/* Wait (up to 10 s) until all n workers of p sleep. */
static int all_asleep(rt_pool *p, int n) {
  for (int i = 0; i < 10000; i++) {
    if (rt_pool_sleeping(p) == n) return 1;
    sleep_ms(1);
  }
  return 0;
}

/* Past the spin window the workers sleep; the next dispatch wakes them all. */
static void test_sleep(void) {
  rt_pool *p = rt_pool_create(4, 1000000);   /* 1 ms spin window */
  modc_exec x = {.nthreads = 4, .pool = p};
  CHECK(all_asleep(p, 3));                  /* never dispatched: asleep after 1 ms */
  for (int r = 0; r < 5; r++) {
    Parts q = {0};
    CHECK(rt_pool_run(p, parts_job, &q, 4) == 0 && q.ran[1] && q.ran[2] && q.ran[3]);
    CHECK(run_cover(&cov, &x, 2000));
    CHECK(all_asleep(p, 3));
  }
  rt_pool_destroy(p);
  p = rt_pool_create(2, 0);                 /* no spinning: sleep after every job */
  x = (modc_exec){.nthreads = 2, .pool = p};
  int bad = 0;
  for (int r = 0; r < 200; r++) bad += !run_cover(&cov, &x, 100 + r);
  CHECK(bad == 0);
  rt_pool_destroy(p);
}

/* Pools created and destroyed over and over: at once, after one job, while asleep. */
static void test_lifecycle(int rounds) {
  for (int r = 0; r < rounds; r++) {
    int th = 2 + r % 5;
    rt_pool *p = rt_pool_create(th, r % 3 ? RT_POOL_SPIN_NS : 0);
    CHECK(p != NULL);
    if (!p) continue;
    modc_exec x = {.nthreads = th, .pool = p};
    if (r % 2) CHECK(run_cover(&cov, &x, 500));
    if (r % 7 == 0) sleep_ms(3);
    rt_pool_destroy(p);
  }
  rt_pool_destroy(NULL);
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "--quick");   /* the ThreadSanitizer run */
  pthread_mutex_init(&cov.mu, NULL);
  for (int k = 0; k < 8; k++) pthread_mutex_init(&nest.inner[k].mu, NULL);
  test_cover();
  test_many(quick ? 2000 : 20000);
  test_parts();
  test_nested();
  test_steal();
  test_concurrent(quick ? 300 : 2000);
  test_sleep();
  test_lifecycle(quick ? 50 : 200);
  if (failures) fprintf(stderr, "test_pool: %d failures\n", failures);
  else printf("test_pool: all passed\n");
  return failures != 0;
}
