/* read_bw.c: a machine's DRAM read bandwidth on N threads, measured independently of
 * `modc bench`'s calibration (tools/calibrate.c), to check that figure.
 *
 *   read_bw [--threads N] [--mib M] [--passes P]
 *
 * Where the calibration sums floats with hand-written vector code over 1/8 of each thread's
 * slice per pass, in a buffer made present with MAP_POPULATE and threads the scheduler
 * places, this probe differs in each of those: threads pinned to CPUs 0..N-1, each first
 * touching its own slice page by page (memset), every pass reading every slice whole as
 * 64-bit integers (the compiler vectorises integer sums, which reassociate exactly), the
 * pass timed from a barrier to the last thread's end.  The buffer defaults to 8x the
 * last-level cache sysfs reports, within 512 MiB..2 GiB and at most 1/4 of the memory, so
 * that no pass finds its slice in cache.  Prints "key=value" words: threads, buffer_mib,
 * best_gbs (the fastest pass), median_gbs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXT 1024
#define MAXPASS 1000
#define MIB (1024.0 * 1024.0)

typedef struct Probe {
  uint64_t *buf;
  size_t words;            /* per thread */
  int threads, passes;
  pthread_barrier_t bar;
  double t[MAXPASS][2];    /* each pass's start and end (thread 0's clock, after the barriers) */
  volatile uint64_t sink[MAXT];
  int pin_failed;
} Probe;

typedef struct Arg {
  Probe *p;
  int id;
} Arg;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* eight independent sums, so that loads stay in flight; -O3 turns each into vector adds */
static uint64_t sum_words(const uint64_t *w, size_t n) {
  uint64_t s[8] = {0};
  for (size_t i = 0; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) s[j] += w[i + j];
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static void *worker(void *v) {
  Arg *a = v;
  Probe *p = a->p;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(a->id, &set);
  if (sched_setaffinity(0, sizeof set, &set)) p->pin_failed = 1;
  uint64_t *mine = p->buf + (size_t)a->id * p->words;
  memset(mine, a->id + 1, p->words * sizeof *mine);   /* first touch: the pages are this thread's */
  for (int k = 0; k < p->passes; k++) {
    pthread_barrier_wait(&p->bar);
    if (a->id == 0) p->t[k][0] = now();
    p->sink[a->id] += sum_words(mine, p->words);
    pthread_barrier_wait(&p->bar);
    if (a->id == 0) p->t[k][1] = now();
  }
  return NULL;
}

/* bytes of the highest-level cache cpu0 reports in sysfs; 0 when none */
static double llc_bytes(void) {
  double best = 0;
  for (int i = 0; i < 16; i++) {
    char path[128], unit = 0;
    double size = 0;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fscanf(f, "%lf%c", &size, &unit) >= 1) {
      size *= unit == 'K' ? 1024 : unit == 'M' ? MIB : unit == 'G' ? 1024 * MIB : 1;
      best = size > best ? size : best;
    }
    fclose(f);
  }
  return best;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void usage(void) {
  fprintf(stderr, "usage: read_bw [--threads N] [--mib M] [--passes P]\n"
                  "  --threads N  threads pinned to CPUs 0..N-1 (default: all online)\n"
                  "  --mib M      buffer in MiB, split between the threads (default: 8x the last-level\n"
                  "               cache, within 512..2048 and at most 1/4 of the memory)\n"
                  "  --passes P   timed passes over the whole buffer (default 10, at most 1000)\n");
}

/* a whole number in [lo, hi] from argv[*i + 1], or -1 */
static long arg_long(int argc, char **argv, int *i, long lo, long hi) {
  if (*i + 1 >= argc) return -1;
  char *end = NULL;
  long v = strtol(argv[++*i], &end, 10);
  return *end || end == argv[*i] || v < lo || v > hi ? -1 : v;
}

int main(int argc, char **argv) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN), threads = ncpu, passes = 10, mib = 0;
  double mem = (double)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
  long mem_mib = (long)(mem / 4 / MIB);
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threads")) {
      if ((threads = arg_long(argc, argv, &i, 1, ncpu < MAXT ? ncpu : MAXT)) < 0)
        return fprintf(stderr, "read_bw: --threads wants 1..%ld\n", ncpu < MAXT ? ncpu : MAXT), 2;
    } else if (!strcmp(argv[i], "--mib")) {
      if ((mib = arg_long(argc, argv, &i, 1, mem_mib)) < 0)
        return fprintf(stderr, "read_bw: --mib wants 1..%ld (a quarter of the memory)\n", mem_mib), 2;
    } else if (!strcmp(argv[i], "--passes")) {
      if ((passes = arg_long(argc, argv, &i, 1, MAXPASS)) < 0)
        return fprintf(stderr, "read_bw: --passes wants 1..%d\n", MAXPASS), 2;
    } else {
      usage();
      return !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") ? 0 : 2;
    }
  }
  if (!mib) {
    double b = 8 * llc_bytes() / MIB;
    b = b < 512 ? 512 : b > 2048 ? 2048 : b;
    mib = (long)b < mem_mib ? (long)b : mem_mib;
  }
  Probe *p = calloc(1, sizeof *p);
  if (!p) return fprintf(stderr, "read_bw: out of memory\n"), 1;
  p->threads = (int)threads, p->passes = (int)passes;
  p->words = (size_t)(mib * MIB) / sizeof(uint64_t) / threads / 64 * 64;   /* 512-byte aligned slices */
  if (!p->words || posix_memalign((void **)&p->buf, 4096, p->words * threads * sizeof(uint64_t)))
    return fprintf(stderr, "read_bw: cannot allocate %ld MiB\n", mib), 1;
  pthread_barrier_init(&p->bar, NULL, (unsigned)threads);
  pthread_t tid[MAXT];
  Arg args[MAXT];
  for (int i = 1; i < threads; i++) {
    args[i] = (Arg){p, i};
    if (pthread_create(&tid[i], NULL, worker, &args[i])) return fprintf(stderr, "read_bw: cannot start a thread\n"), 1;
  }
  args[0] = (Arg){p, 0};
  worker(&args[0]);
  for (int i = 1; i < threads; i++) pthread_join(tid[i], NULL);
  if (p->pin_failed) return fprintf(stderr, "read_bw: cannot pin a thread to its CPU\n"), 1;
  double gbs[MAXPASS], bytes = (double)p->words * threads * sizeof(uint64_t);
  for (int k = 0; k < passes; k++) gbs[k] = bytes / (p->t[k][1] - p->t[k][0]) / 1e9;
  qsort(gbs, (size_t)passes, sizeof *gbs, cmp_double);
  printf("threads=%ld buffer_mib=%.0f best_gbs=%.2f median_gbs=%.2f\n", threads, bytes / MIB, gbs[passes - 1],
         gbs[passes / 2]);
  free(p->buf), free(p);
  return 0;
}
