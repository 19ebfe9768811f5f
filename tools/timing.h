/* timing.h: the clock and the median that `modc bench` and the bench/ programs share. */
#ifndef MODC_TIMING_H
#define MODC_TIMING_H

#include <math.h>
#include <stdlib.h>
#include <time.h>

/* seconds on the monotonic clock */
static inline double timing_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int timing_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* median of v[0..n), sorting v in place; NaN when n <= 0 */
static inline double timing_median(double *v, int n) {
  if (n <= 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, timing_cmp);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
