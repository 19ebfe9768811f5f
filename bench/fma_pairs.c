/* fma_pairs.c: how a machine's f32 FMA throughput grows with threads, and which CPUs share a
 * core's FMA units.
 *
 *   fma_pairs [--ms M] [--cpus N]
 *
 * Runs a loop of independent vector FMAs (AVX-512, AVX2 or scalar, as compiled), each thread
 * pinned to one CPU, for M ms (default 200):
 *   1. CPU 0 alone: the one-thread rate;
 *   2. CPU 0 with each other CPU j: a pair whose threads both run near half the alone rate
 *      shares one core (SMT siblings), which a virtual machine's topology may not show;
 *   3. CPUs 0..k-1 together for k = 2, 4, 8, ..., N: the total rate and its ratio to the alone
 *      rate, the most that any compute-bound program can scale by on k threads.
 * Lines are "key=value" words so scripts can read them.  An independent check of `modc bench`'s
 * calibrated peak, and the reason a forward's speed-up from 1 to N threads is bounded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vec;
#define VLEN 16
#define ISA "avx512"
static inline vec vset(float v) { return _mm512_set1_ps(v); }
static inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
static inline float vsum(vec a) { return _mm512_reduce_add_ps(a); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vec;
#define VLEN 8
#define ISA "avx2"
static inline vec vset(float v) { return _mm256_set1_ps(v); }
static inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
static inline float vsum(vec a) {
  float f[8];
  _mm256_storeu_ps(f, a);
  return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
#else
typedef float vec;
#define VLEN 1
#define ISA "scalar"
static inline vec vset(float v) { return v; }
static inline vec vfma(vec a, vec b, vec c) { return a * b + c; }
static inline float vsum(vec a) { return a; }
#endif

#define ACC 12             /* independent chains (fma_block): 4-cycle latency on 2 FMA ports */
#define INNER 4096         /* FMA rounds between two clock reads */
#define MAXT 1024

typedef struct Thread {
  int cpu;
  double ms;
  pthread_barrier_t *start;
  double gflops;           /* out */
  float sink;              /* out: keeps the loop */
} Thread;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* INNER rounds of ACC independent FMA chains, held in registers (named, not an array, so the
 * compiler keeps them there); returns their sum. */
static float fma_block(vec m, vec a, float seed) {
  vec c0 = vset(seed), c1 = vset(seed + 1), c2 = vset(seed + 2), c3 = vset(seed + 3), c4 = vset(seed + 4),
      c5 = vset(seed + 5), c6 = vset(seed + 6), c7 = vset(seed + 7), c8 = vset(seed + 8), c9 = vset(seed + 9),
      c10 = vset(seed + 10), c11 = vset(seed + 11);
  for (int i = 0; i < INNER; i++) {
    c0 = vfma(c0, m, a), c1 = vfma(c1, m, a), c2 = vfma(c2, m, a), c3 = vfma(c3, m, a);
    c4 = vfma(c4, m, a), c5 = vfma(c5, m, a), c6 = vfma(c6, m, a), c7 = vfma(c7, m, a);
    c8 = vfma(c8, m, a), c9 = vfma(c9, m, a), c10 = vfma(c10, m, a), c11 = vfma(c11, m, a);
  }
  return vsum(c0) + vsum(c1) + vsum(c2) + vsum(c3) + vsum(c4) + vsum(c5) + vsum(c6) + vsum(c7) + vsum(c8) +
         vsum(c9) + vsum(c10) + vsum(c11);
}

static void *run_thread(void *arg) {
  Thread *t = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(t->cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof set, &set)) t->gflops = -1;
  vec m = vset(0.999999f), a = vset(1e-7f);
  float s = 0;
  pthread_barrier_wait(t->start);
  double t0 = now_s(), t1 = t0;
  long blocks = 0;
  while ((t1 = now_s()) - t0 < t->ms * 1e-3) {
    s += fma_block(m, a, s * 1e-30f);
    blocks++;
  }
  t->sink = s;
  if (t->gflops == 0) t->gflops = 2.0 * VLEN * ACC * (double)INNER * blocks / (t1 - t0) * 1e-9;
  return NULL;
}

/* Runs one thread per cpus[i] at once; fills g[i] with each one's GFLOP/s. */
static int run_set(const int *cpus, int n, double ms, double *g) {
  Thread th[MAXT];
  pthread_t id[MAXT];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)n);
  for (int i = 0; i < n; i++) {
    th[i] = (Thread){.cpu = cpus[i], .ms = ms, .start = &start};
    if (pthread_create(&id[i], NULL, run_thread, &th[i])) {
      fprintf(stderr, "fma_pairs: cannot start thread %d\n", i);
      exit(1);
    }
  }
  int bad = 0;
  for (int i = 0; i < n; i++) {
    pthread_join(id[i], NULL);
    g[i] = th[i].gflops;
    bad |= g[i] < 0;
  }
  pthread_barrier_destroy(&start);
  return bad ? -1 : 0;
}

static void usage(void) {
  fprintf(stderr, "usage: fma_pairs [--ms M] [--cpus N]\n"
                  "  --ms M    milliseconds per measurement (default 200)\n"
                  "  --cpus N  CPUs 0..N-1 to use (default: all online)\n");
}

int main(int argc, char **argv) {
  double ms = 200;
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  for (int i = 1; i < argc; i++) {
    char *end = NULL;
    if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
      ms = strtod(argv[++i], &end);
      if (*end || !(ms >= 1 && ms <= 60000)) { fprintf(stderr, "fma_pairs: --ms wants 1..60000\n"); return 2; }
    } else if (!strcmp(argv[i], "--cpus") && i + 1 < argc) {
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 1 || n > ncpu) { fprintf(stderr, "fma_pairs: --cpus wants 1..%ld\n", ncpu); return 2; }
      ncpu = n;
    } else {
      usage();
      return !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ? 0 : 2;
    }
  }
  if (ncpu > MAXT) ncpu = MAXT;
  int cpus[MAXT];
  double g[MAXT];
  for (int i = 0; i < ncpu; i++) cpus[i] = i;

  if (run_set(cpus, 1, ms, g)) { fprintf(stderr, "fma_pairs: cannot pin to CPU 0\n"); return 1; }
  double alone = g[0];
  printf("isa=%s cpus=%ld alone_gflops=%.1f\n", ISA, ncpu, alone);
  for (int j = 1; j < ncpu; j++) {
    int pair[2] = {0, j};
    if (run_set(pair, 2, ms, g)) { fprintf(stderr, "fma_pairs: cannot pin to CPU %d\n", j); return 1; }
    printf("pair=0,%d gflops=%.1f,%.1f ratio=%.2f,%.2f%s\n", j, g[0], g[1], g[0] / alone, g[1] / alone,
           g[0] + g[1] < 1.4 * alone ? " shared_core" : "");
  }
  for (int k = 2; k <= ncpu; k = k * 2 > ncpu && k < ncpu ? (int)ncpu : k * 2) {
    run_set(cpus, k, ms, g);
    double sum = 0, lo = g[0], hi = g[0];
    for (int i = 0; i < k; i++) {
      sum += g[i];
      lo = g[i] < lo ? g[i] : lo;
      hi = g[i] > hi ? g[i] : hi;
    }
    printf("threads=%d total_gflops=%.1f scaling=%.2f per_thread_min=%.1f per_thread_max=%.1f\n", k, sum,
           sum / alone, lo, hi);
  }
  return 0;
}
