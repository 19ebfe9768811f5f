/* test_calibrate.c: tools/calibrate.c without modc bench around it.  The figures must be
 * positive and finite (never "at least X": timings are not asserted); calibrate() writes its
 * cache file, reads it back the second time, measures again on --recalibrate, and ignores a
 * corrupted or foreign file (warning, re-measuring, rewriting it).
 *   test_calibrate WORKDIR   (used as XDG_CACHE_HOME) */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tools/calibrate.h"

static int fails;
#define ASSERT(what, cond) \
  do { if (cond) printf("ok   %s\n", what); else printf("FAIL %s (%s:%d)\n", what, __FILE__, __LINE__), fails++; } while (0)

static int good(double v) { return isfinite(v) && v > 0; }

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f) fputs(text, f), fclose(f);
}

/* the figures the measurements alone return, at 1 and 2 threads */
static void test_measurements(void) {
  char isa[16] = "";
  double buf = 0, llc = -1;
  ASSERT("peak at 1 thread is positive and finite", good(calib_peak(1, isa, sizeof isa)));
  ASSERT("the FMA kernel is named", isa[0] != 0);
  ASSERT("peak at 2 threads is positive and finite", good(calib_peak(2, NULL, 0)));
  ASSERT("bandwidth at 2 threads is positive and finite", good(calib_bandwidth(2, &buf, &llc)));
  ASSERT("the buffer is 256 MiB to 1 GiB", buf >= 256 && buf <= 1024);
  ASSERT("the last-level cache size is known or 0", llc >= 0);
}

static void test_cache(void) {
  Calib a, b, c, d;
  calibrate(2, 0, &a);
  ASSERT("first calibration measures", !a.cached && good(a.peak_gflops) && good(a.dram_gbs));
  ASSERT("it names its cache file under XDG_CACHE_HOME/modc", strstr(a.file, "/modc/calibration-") != NULL);
  ASSERT("the cache file is written", access(a.file, R_OK) == 0 && !a.note[0]);
  calibrate(2, 0, &b);
  ASSERT("second calibration reads the cache", b.cached && !strcmp(a.file, b.file));
  ASSERT("the cached figures are the measured ones",
         fabs(b.peak_gflops / a.peak_gflops - 1) < 1e-5 && fabs(b.dram_gbs / a.dram_gbs - 1) < 1e-5 && !strcmp(a.isa, b.isa));
  calibrate(2, 1, &c);
  ASSERT("recalibrate measures again", !c.cached && good(c.peak_gflops));
  calibrate(1, 0, &d);
  ASSERT("another thread count has its own file", !d.cached && strcmp(d.file, a.file));
  write_file(a.file, "cpu=x\nthreads=2\npeak_gflops=abc\ndram_gbs=-3\n");
  calibrate(2, 0, &b);
  ASSERT("a corrupted cache file is not trusted", !b.cached && good(b.peak_gflops) && good(b.dram_gbs));
  calibrate(2, 0, &b);
  ASSERT("and is rewritten with valid figures", b.cached);
  char foreign[600];
  snprintf(foreign, sizeof foreign, "cpu=Some Other CPU\nthreads=2\nisa=avx2+fma\npeak_gflops=1e6\ndram_gbs=1e6\n");
  write_file(a.file, foreign);
  calibrate(2, 0, &b);
  ASSERT("a file describing another CPU is not trusted", !b.cached && b.peak_gflops != 1e6);
}

/* A process confined to fewer CPUs than are online (taskset) keeps its figures apart. */
static void test_confined(void) {
  cpu_set_t all, one;
  if (sysconf(_SC_NPROCESSORS_ONLN) < 2 || sched_getaffinity(0, sizeof all, &all) || CPU_COUNT(&all) < 2) {
    printf("NOT RUN: the confined-cache check needs 2 CPUs allowed to this process\n");
    return;
  }
  Calib a, b;
  calibrate(2, 0, &a);
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) { CPU_SET(c, &one); break; }
  ASSERT("the test confines itself to one CPU", sched_setaffinity(0, sizeof one, &one) == 0);
  calibrate(2, 0, &b);
  sched_setaffinity(0, sizeof all, &all);
  ASSERT("a run confined to one CPU has its own cache file", strcmp(a.file, b.file) && strstr(b.file, "-t2-c1.txt"));
  ASSERT("and does not read the unconfined one", !b.cached);
  calibrate(2, 0, &b);
  ASSERT("unconfined again, the first file is read", b.cached && !strcmp(a.file, b.file));
}

static void test_unwritable(const char *work) {
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/not-a-dir", work);
  write_file(dir, "a file where the cache folder would go\n");
  setenv("XDG_CACHE_HOME", dir, 1);
  Calib c;
  calibrate(2, 0, &c);
  ASSERT("an unwritable cache folder still gives figures", !c.cached && good(c.peak_gflops) && good(c.dram_gbs));
  ASSERT("and says it did not cache them", strstr(c.note, "not cached") != NULL);
}

int main(int argc, char **argv) {
  if (argc < 2) return fprintf(stderr, "usage: test_calibrate WORKDIR\n"), 2;
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", argv[1], argv[1]);   /* no cache left from a run before */
  if (system(cmd)) return fprintf(stderr, "test_calibrate: cannot make '%s'\n", argv[1]), 1;
  setenv("XDG_CACHE_HOME", argv[1], 1);
  test_measurements();
  test_cache();
  test_confined();
  test_unwritable(argv[1]);
  printf("test_calibrate: %s\n", fails ? "FAILED" : "all passed");
  return fails != 0;
}
