/* calibrate.c: the two ceilings `modc bench` compares against (DESIGN 9), measured on the
 * machine it runs on at the thread count it runs with, instead of one old machine's figures.
 *
 *   f32 FMA peak  every thread runs independent FMA chains held in registers: 16 zmm chains
 *                 with AVX-512, 12 ymm chains with AVX2+FMA (enough to cover the FMA latency
 *                 times the pipes of current cores), a portable 128-bit kernel elsewhere.  The
 *                 kernel is chosen at run time (__builtin_cpu_supports) and each is compiled
 *                 for its ISA with __attribute__((target)), so modc itself stays built for
 *                 the baseline.  All threads run at once, each pinned to its own CPU
 *                 (run_pass), each running slices of FMA chains until the pass's common
 *                 deadline; a pass's peak is the sum of the threads' own rates, as
 *                 bench/fma_pairs measures it; the best pass.  (Equal work per thread, timed
 *                 from the first start to the last end, measures the slowest CPU times the
 *                 threads: on 16 Xeon vCPUs that ran 79-159 GFLOP/s each at once, 0.62-0.70
 *                 of the sum.)
 *   DRAM read     a vectorised sum (8 accumulators), each thread over its own slice of a
 *                 buffer of 4x the L3 that sysfs reports, at least 256 MiB and at most 1 GiB
 *                 and 1/8 of the memory (VMs report the host's whole L3, 480 MiB on one of
 *                 ours: then the buffer is only ~2x that and bench says it was capped).  A
 *                 pass reads the next 1/8 of every slice, so what it reads was last read 8
 *                 passes (the whole buffer) ago; the best pass of two sweeps.
 * Passes are short (~8 ms) and many: other work on the cores takes whole scheduler slices,
 * so on a shared machine the best short pass still finds the cores to itself, where the best
 * of a few long passes measured half the peak.  Both figures together take 0.5-0.9 s on a
 * 2-core VM, most of it making the buffer's pages present.
 *
 * The result is kept in a small text file per CPU model and thread count ($XDG_CACHE_HOME/modc
 * or ~/.cache/modc) and read back on later runs; a file that does not parse is ignored with a
 * warning and measured again.  Other work on the cores lowers both figures, so the load
 * average is kept with them and shown (modc bench says to --recalibrate when they were
 * measured on a busy machine; re-measuring by itself would make which figures a run uses
 * depend on the load of the moment).
 *
 * Threads are plain pthreads, not OpenMP, so that calibrating leaves the OpenMP runtime of
 * the library being benched untouched (its pool, its wait policy).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CALIB_X86 1
#endif
#include "calibrate.h"
#include "timing.h"

enum { ISA_PORTABLE, ISA_AVX2, ISA_AVX512 };
static const char *const isa_name[] = {"portable", "avx2+fma", "avx512f"};

#define FMA_PASSES 20     /* the first one a warm-up (the cores settle at their AVX clock) */
#define FMA_PASS_S 0.008  /* seconds per FMA pass */
#define FMA_SLICES 16     /* an FMA pass's slices per thread (each checks the deadline after) */
#define BW_CHUNKS 8       /* a bandwidth pass reads 1/BW_CHUNKS of every thread's slice */
#define BW_PASSES (2 * BW_CHUNKS)
#define MIB (1024.0 * 1024.0)

/* ------------------------------------------------------------------ kernels */

/* Each kernel returns a value derived from every accumulator so none can be dropped.
 * acc = acc * m + c converges to c / (1 - m): no overflow, no denormals. */
#define FMA_M 0.999999f
#define FMA_C 1e-7f

typedef float v4f __attribute__((vector_size(16)));

/* portable: 12 chains of 4-wide vectors (a multiply and an add where FMA is absent) */
static float fma_portable(long iters) {
  v4f a[12], m = {FMA_M, FMA_M, FMA_M, FMA_M}, c = {FMA_C, FMA_C, FMA_C, FMA_C};
  for (int j = 0; j < 12; j++) a[j] = (v4f){0, 0, 0, 0} + (float)j;
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; j++) a[j] = a[j] * m + c;
  }
  float s = 0;
  for (int j = 0; j < 12; j++) s += a[j][0] + a[j][3];
  return s;
}

static float sum_portable(const float *p, size_t n) {
  v4f s[8] = {{0}};
  for (size_t i = 0; i + 32 <= n; i += 32) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) s[j] += *(const v4f *)(p + i + 4 * j);
  }
  float r = 0;
  for (int j = 0; j < 8; j++) r += s[j][0] + s[j][1] + s[j][2] + s[j][3];
  return r;
}

#ifdef CALIB_X86
__attribute__((target("avx2,fma"))) static float fma_avx2(long iters) {
  __m256 a[12], m = _mm256_set1_ps(FMA_M), c = _mm256_set1_ps(FMA_C);
  for (int j = 0; j < 12; j++) a[j] = _mm256_set1_ps((float)j);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; j++) a[j] = _mm256_fmadd_ps(a[j], m, c);
  }
  __m256 s = a[0];
  for (int j = 1; j < 12; j++) s = _mm256_add_ps(s, a[j]);
  return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) static float fma_avx512(long iters) {
  __m512 a[16], m = _mm512_set1_ps(FMA_M), c = _mm512_set1_ps(FMA_C);
  for (int j = 0; j < 16; j++) a[j] = _mm512_set1_ps((float)j);
  for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) a[j] = _mm512_fmadd_ps(a[j], m, c);
  }
  __m512 s = a[0];
  for (int j = 1; j < 16; j++) s = _mm512_add_ps(s, a[j]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2"))) static float sum_avx2(const float *p, size_t n) {
  __m256 s[8];
  for (int j = 0; j < 8; j++) s[j] = _mm256_setzero_ps();
  for (size_t i = 0; i + 64 <= n; i += 64) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) s[j] = _mm256_add_ps(s[j], _mm256_load_ps(p + i + 8 * j));
  }
  for (int j = 1; j < 8; j++) s[0] = _mm256_add_ps(s[0], s[j]);
  return _mm256_cvtss_f32(s[0]);
}

__attribute__((target("avx512f"))) static float sum_avx512(const float *p, size_t n) {
  __m512 s[8];
  for (int j = 0; j < 8; j++) s[j] = _mm512_setzero_ps();
  for (size_t i = 0; i + 128 <= n; i += 128) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) s[j] = _mm512_add_ps(s[j], _mm512_load_ps(p + i + 16 * j));
  }
  for (int j = 1; j < 8; j++) s[0] = _mm512_add_ps(s[0], s[j]);
  return _mm512_reduce_add_ps(s[0]);
}
#endif

/* the widest kernel this CPU runs */
static int host_isa(void) {
#ifdef CALIB_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
  return ISA_PORTABLE;
}

static float run_fma(int isa, long iters) {
#ifdef CALIB_X86
  if (isa == ISA_AVX512) return fma_avx512(iters);
  if (isa == ISA_AVX2) return fma_avx2(iters);
#endif
  return fma_portable(iters);
}

static float run_sum(int isa, const float *p, size_t n) {
#ifdef CALIB_X86
  if (isa == ISA_AVX512) return sum_avx512(p, n);
  if (isa == ISA_AVX2) return sum_avx2(p, n);
#endif
  return sum_portable(p, n);
}

/* FLOPs of one iteration of run_fma: chains x lanes x 2 */
static double fma_iter_flops(int isa) {
  return isa == ISA_AVX512 ? 16 * 16 * 2 : isa == ISA_AVX2 ? 12 * 8 * 2 : 12 * 4 * 2;
}

/* ------------------------------------------------------------------ threads */

/* One parallel pass: every thread waits for the start flag, runs job(w, i), and notes when
 * it started and finished; the pass lasts from the first start to the last finish. */
typedef struct Work {
  int n, ran, isa;    /* threads asked for, threads that ran the last pass */
  void (*job)(struct Work *, int);
  int go;             /* the start flag (atomic) */
  double *t0, *t1;    /* [n] */
  long iters;         /* FMA: iterations per slice */
  double deadline;    /* FMA: when a pass's threads stop starting slices */
  long *done;         /* FMA: [n] iterations each thread ran in the last pass */
  float *buf;         /* bandwidth: the buffer, n slices of `slice` floats */
  size_t slice, chunk;   /* a pass reads floats [pass * chunk, + chunk) of every slice */
  int pass;
  volatile float *sink;  /* [n]: what each thread computed, so that nothing is optimised away */
} Work;

typedef struct Arg { Work *w; int i; } Arg;

static void *worker(void *p) {
  Arg *a = p;
  while (!__atomic_load_n(&a->w->go, __ATOMIC_ACQUIRE)) sched_yield();
  a->w->t0[a->i] = timing_now();
  a->w->job(a->w, a->i);
  a->w->t1[a->i] = timing_now();
  return NULL;
}

/* The CPUs this process may run on, in order (at most max); 0 when unknown. */
static int allowed_cpus(int *cpu, int max) {
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set)) return 0;
  for (int c = 0; c < CPU_SETSIZE && n < max; c++)
    if (CPU_ISSET(c, &set)) cpu[n++] = c;
  return n;
}

/* one pass on w->n threads, thread i pinned to the i-th allowed CPU (round robin when there are
 * more threads than CPUs), the caller waiting (w->ran fewer if some could not be started; the
 * caller runs the pass itself if none could); returns its seconds.  Unpinned, a pass's freshly
 * made threads shared CPUs for part of its 8 ms: on 16 Xeon vCPUs the peak came out at 1441-2715
 * GFLOP/s within a minute, against 2479-2734 for bench/fma_pairs, whose threads are pinned. */
static double run_pass(Work *w) {
  pthread_t *th = malloc(w->n * sizeof *th);
  Arg *args = malloc(w->n * sizeof *args);
  int cpu[CPU_SETSIZE], ncpu = allowed_cpus(cpu, CPU_SETSIZE);
  __atomic_store_n(&w->go, 0, __ATOMIC_RELEASE);
  w->ran = 0;
  w->deadline = 0;
  for (int i = 0; i < w->n; i++) args[i] = (Arg){w, i};
  while (w->ran < w->n) {
    pthread_attr_t attr;
    cpu_set_t one;
    pthread_attr_init(&attr);
    if (ncpu > 0) {
      CPU_ZERO(&one);
      CPU_SET(cpu[w->ran % ncpu], &one);
      pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    }
    int err = pthread_create(&th[w->ran], &attr, worker, &args[w->ran]);
    pthread_attr_destroy(&attr);
    if (err && ncpu > 0) err = pthread_create(&th[w->ran], NULL, worker, &args[w->ran]); /* unpinned, then */
    if (err) break;
    w->ran++;
  }
  w->deadline = timing_now() + FMA_PASS_S;
  __atomic_store_n(&w->go, 1, __ATOMIC_RELEASE);
  if (w->ran == 0) worker(&args[0]), w->ran = 1;
  else
    for (int i = 0; i < w->ran; i++) pthread_join(th[i], NULL);
  double a = w->t0[0], b = w->t1[0];
  for (int i = 1; i < w->ran; i++) a = w->t0[i] < a ? w->t0[i] : a, b = w->t1[i] > b ? w->t1[i] : b;
  free(th), free(args);
  return b - a;
}

/* ------------------------------------------------------------------ FMA peak */

/* FMA slices until the pass's deadline (at least one); done[i] counts their iterations */
static void fma_job(Work *w, int i) {
  long n = 0;
  float s = 0;
  do {
    s += run_fma(w->isa, w->iters);
    n += w->iters;
  } while (timing_now() < w->deadline);
  w->sink[i] += s;
  w->done[i] = n;
}

/* iterations one thread runs in about FMA_PASS_S seconds */
static long fma_iters(int isa) {
  long n = 10000;
  for (;;) {
    double t0 = timing_now();
    volatile float s = run_fma(isa, n);
    double t = timing_now() - t0;
    (void)s;
    if (t > 1e-3 || n > (1L << 40)) return (long)(n * (FMA_PASS_S / (t > 0 ? t : 1e-6)));
    n *= 4;
  }
}

double calib_peak(int threads, char *isa, int isa_size) {
  Work w = {.n = threads, .isa = host_isa(), .job = fma_job};
  w.t0 = calloc(threads, sizeof *w.t0), w.t1 = calloc(threads, sizeof *w.t1), w.sink = calloc(threads, sizeof *w.sink);
  w.done = calloc(threads, sizeof *w.done);
  w.iters = fma_iters(w.isa) / FMA_SLICES + 1;
  double best = 0;   /* GFLOP/s */
  for (int p = 0; p < FMA_PASSES; p++) {
    double t = run_pass(&w), g = 0;
    for (int i = 0; i < w.ran; i++) {
      double ti = w.t1[i] - w.t0[i];
      g += fma_iter_flops(w.isa) * w.done[i] / (ti > 0 ? ti : t) / 1e9;
    }
    best = g > best && p ? g : best;
  }
  free(w.t0), free(w.t1), free((void *)w.sink), free(w.done);
  if (isa) snprintf(isa, isa_size, "%s", isa_name[w.isa]);
  return best;
}

/* ------------------------------------------------------------------ DRAM bandwidth */

/* bytes of the highest-level cache cpu0 reports in sysfs; 0 when none */
static double llc_bytes(void) {
  double best = 0;
  int best_level = 0;
  for (int i = 0; i < 16; i++) {
    char path[128], unit = 0;
    int level = 0;
    double size = 0;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    int ok = fscanf(f, "%d", &level) == 1;
    fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    if (!ok || !(f = fopen(path, "r"))) continue;
    ok = fscanf(f, "%lf%c", &size, &unit) >= 1;
    fclose(f);
    size *= unit == 'K' ? 1024 : unit == 'M' ? MIB : unit == 'G' ? 1024 * MIB : 1;
    if (ok && (level > best_level || (level == best_level && size > best))) best = size, best_level = level;
  }
  return best;
}

/* 4x the last-level cache, within [256 MiB, 1 GiB] and at most 1/8 of the memory */
static size_t buffer_bytes(void) {
  double b = 4 * llc_bytes(), mem = (double)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
  b = b < 256 * MIB ? 256 * MIB : b > 1024 * MIB ? 1024 * MIB : b;
  if (mem > 0 && b > mem / 8) b = mem / 8;
  return (size_t)b & ~(size_t)0xfffff;   /* whole MiB: every slice stays 64-byte aligned */
}

/* more than one NUMA node: then each thread must first-touch its own slice */
static int numa_machine(void) { return access("/sys/devices/system/node/node1", F_OK) == 0; }

/* first touch by the thread that reads the slice, so it lies on that thread's NUMA node */
static void touch_job(Work *w, int i) { memset(w->buf + (size_t)i * w->slice, 0, w->slice * sizeof(float)); }


static void sum_job(Work *w, int i) {
  w->sink[i] += run_sum(w->isa, w->buf + (size_t)i * w->slice + (size_t)(w->pass % BW_CHUNKS) * w->chunk, w->chunk);
}

/* The buffer's pages are made present before timing.  On one NUMA node MAP_POPULATE does it
 * in one call (0.4 s for 1 GiB on a VM where faulting it page by page took 0.6-3 s, and
 * MADV_HUGEPAGE's compaction longer still); on several, each thread touches its slice. */
double calib_bandwidth(int threads, double *buffer_mib, double *llc_mib) {
  size_t bytes = buffer_bytes();
  int numa = numa_machine();
  Work w = {.n = threads, .isa = host_isa(), .job = touch_job};
  w.t0 = calloc(threads, sizeof *w.t0), w.t1 = calloc(threads, sizeof *w.t1), w.sink = calloc(threads, sizeof *w.sink);
  w.chunk = bytes / sizeof(float) / threads / BW_CHUNKS / 128 * 128;
  w.slice = w.chunk * BW_CHUNKS;
  w.buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (numa ? 0 : MAP_POPULATE), -1, 0);
  if (w.buf == MAP_FAILED) return free(w.t0), free(w.t1), free((void *)w.sink), NAN;
  if (numa) run_pass(&w);
  w.job = sum_job;
  double best = 0;   /* GB/s */
  for (w.pass = 0; w.pass < BW_PASSES; w.pass++) {
    double t = run_pass(&w), g = (double)w.chunk * w.ran * sizeof(float) / t / 1e9;
    best = g > best ? g : best;
  }
  munmap(w.buf, bytes);
  free(w.t0), free(w.t1), free((void *)w.sink);
  if (buffer_mib) *buffer_mib = bytes / MIB;
  if (llc_mib) *llc_mib = llc_bytes() / MIB;
  return best;
}

/* ------------------------------------------------------------------ the cache */

/* the CPU's model name from /proc/cpuinfo ("model name", else "Processor"/"cpu model") */
static void cpu_name(char *out, size_t n) {
  static const char *keys[] = {"model name", "Processor", "cpu model", "uarch"};
  char line[512];
  snprintf(out, n, "unknown CPU");
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return;
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    for (size_t k = 0; colon && k < sizeof keys / sizeof keys[0] && !found; k++)
      if (!strncmp(line, keys[k], strlen(keys[k]))) found = 1;
    if (!found) continue;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    v[strcspn(v, "\n")] = 0;
    snprintf(out, n, "%s", *v ? v : "unknown CPU");
  }
  fclose(f);
}

/* $XDG_CACHE_HOME/modc, else ~/.cache/modc; "" when neither is set */
static void cache_dir(char *out, size_t n) {
  const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
  if (x && x[0] == '/') snprintf(out, n, "%s/modc", x);
  else if (h && h[0]) snprintf(out, n, "%s/.cache/modc", h);
  else out[0] = 0;
}

/* DIR/calibration-<cpu, letters and digits>-t<threads>.txt, with -c<cpus> before .txt when
 * this process may run on fewer CPUs than are online (taskset, a cpuset): a run confined to
 * one CPU measured half the 2-thread peak, and must not hand it to unconfined runs. */
static void cache_file(Calib *c) {
  char dir[900], key[130];
  size_t k = 0;
  cache_dir(dir, sizeof dir);
  for (const char *p = c->cpu; *p && k + 1 < sizeof key; p++) {
    int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
    if (ok) key[k++] = *p;
    else if (k && key[k - 1] != '_') key[k++] = '_';
  }
  key[k] = 0;
  int cpu[CPU_SETSIZE], allowed = allowed_cpus(cpu, CPU_SETSIZE);
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  char mask[32] = "";
  if (allowed > 0 && allowed < online) snprintf(mask, sizeof mask, "-c%d", allowed);
  if (dir[0]) snprintf(c->file, sizeof c->file, "%s/calibration-%s-t%d%s.txt", dir, key, c->threads, mask);
  else c->file[0] = 0;
}

static int positive(double v) { return isfinite(v) && v > 0; }

/* one "key=value" line of the cache file into c; 1 when the key is known */
static int cache_line(char *line, Calib *c, char *cpu, int *threads) {
  char *eq = strchr(line, '=');
  if (!eq) return 0;
  *eq++ = 0;
  eq[strcspn(eq, "\n")] = 0;
  if (!strcmp(line, "cpu")) snprintf(cpu, 128, "%s", eq);
  else if (!strcmp(line, "threads")) *threads = atoi(eq);
  else if (!strcmp(line, "peak_gflops")) c->peak_gflops = strtod(eq, NULL);
  else if (!strcmp(line, "dram_gbs")) c->dram_gbs = strtod(eq, NULL);
  else if (!strcmp(line, "buffer_mib")) c->buffer_mib = strtod(eq, NULL);
  else if (!strcmp(line, "llc_mib")) c->llc_mib = strtod(eq, NULL);
  else if (!strcmp(line, "load_average")) c->load = strtod(eq, NULL);
  else if (!strcmp(line, "isa")) snprintf(c->isa, sizeof c->isa, "%s", eq);
  else return 0;
  return 1;
}

/* 1: c filled from the file; 0: no file; -1: a file that does not parse (c->note says why) */
static int read_cache(Calib *c) {
  FILE *f = fopen(c->file, "r");
  if (!f) return 0;
  char line[512], cpu[128] = "";
  int threads = 0, lines = 0;
  c->peak_gflops = c->dram_gbs = NAN;
  while (fgets(line, sizeof line, f))
    if (line[0] != '#') lines += cache_line(line, c, cpu, &threads);
  fclose(f);
  if (!positive(c->peak_gflops) || !positive(c->dram_gbs) || !c->isa[0])
    snprintf(c->note, sizeof c->note, "no valid peak_gflops, dram_gbs and isa (%d known lines)", lines);
  else if (strcmp(cpu, c->cpu) || threads != c->threads)
    snprintf(c->note, sizeof c->note, "it describes '%s' at %d threads, not this CPU at %d", cpu, threads, c->threads);
  else return 1;
  return -1;
}

/* mkdir -p of the folder holding path; 0 on success */
static int make_parents(const char *path) {
  char d[1024];
  snprintf(d, sizeof d, "%s", path);
  for (char *p = d + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(d, 0755) && errno != EEXIST) return -1;
    *p = '/';
  }
  return 0;
}

/* writes the cache file through a temporary one and rename, so no reader sees half */
static void write_cache(Calib *c) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", c->file, (long)getpid());
  FILE *f = make_parents(c->file) ? NULL : fopen(tmp, "w");
  if (!f) {
    snprintf(c->note, sizeof c->note, "not cached: cannot write %s: %s", c->file, strerror(errno));
    return;
  }
  time_t now = time(NULL);
  char date[64];
  strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
  fprintf(f, "# modc bench's machine figures (tools/calibrate.c), measured %s in %.2f s;\n"
             "# delete this file or run modc bench --recalibrate to measure again\n", date, c->seconds);
  fprintf(f, "cpu=%s\nthreads=%d\nisa=%s\npeak_gflops=%.6g\ndram_gbs=%.6g\nbuffer_mib=%.0f\nllc_mib=%.0f\n"
          "load_average=%.2f\n", c->cpu, c->threads, c->isa, c->peak_gflops, c->dram_gbs, c->buffer_mib, c->llc_mib,
          c->load);
  int bad = ferror(f);
  if (fclose(f) || bad || rename(tmp, c->file)) {
    snprintf(c->note, sizeof c->note, "not cached: writing %s failed: %s", c->file, strerror(errno));
    remove(tmp);
  }
}

/* ------------------------------------------------------------------ entry */

/* the 1-minute load average, 0 when unknown */
static double load_average(void) {
  double a = 0;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f && fscanf(f, "%lf", &a) != 1) a = 0;
  if (f) fclose(f);
  return a;
}

/* other work on the cores: the threshold of modc bench's own warning */
int calib_busy(double load) { return load > 0.5 * sysconf(_SC_NPROCESSORS_ONLN); }

static void measure(Calib *c) {
  double t0 = timing_now();
  c->load = load_average();
  c->peak_gflops = calib_peak(c->threads, c->isa, sizeof c->isa);
  c->dram_gbs = calib_bandwidth(c->threads, &c->buffer_mib, &c->llc_mib);
  c->seconds = timing_now() - t0;
  c->cached = 0;
  if (!positive(c->dram_gbs)) c->dram_gbs = 1, snprintf(c->note, sizeof c->note, "no memory for the bandwidth buffer");
}

/* 1 when the cache file holds valid figures of this CPU and thread count (then in c) */
static int use_cache(Calib *c) {
  int r = read_cache(c);
  if (r < 0) fprintf(stderr, "modc: warning: bench: ignoring the calibration cache %s: %s; measuring again\n",
                     c->file, c->note);
  if (r > 0) return c->cached = 1;
  snprintf(c->why, sizeof c->why, r ? "the cache file did not parse" : "no cache file yet");
  c->note[0] = 0, c->isa[0] = 0, c->buffer_mib = c->llc_mib = 0;
  return 0;
}

void calibrate(int threads, int recalibrate, Calib *c) {
  memset(c, 0, sizeof *c);
  c->threads = threads;
  cpu_name(c->cpu, sizeof c->cpu);
  cache_file(c);
  if (!c->file[0]) {
    snprintf(c->why, sizeof c->why, "no cache folder");
    snprintf(c->note, sizeof c->note, "not cached: neither XDG_CACHE_HOME nor HOME is set");
  } else if (recalibrate) snprintf(c->why, sizeof c->why, "--recalibrate");
  else if (use_cache(c)) return;
  measure(c);
  if (c->file[0] && !c->note[0]) write_cache(c);
}
