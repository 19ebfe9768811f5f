/* topk.c: modc_rt_topk, the routed block's token selection (DESIGN.md section 4).
 *
 * idx[0..k) = the k rows of r[0..n) with the largest scores, ties to the smaller row, sorted
 * ascending.  NaN counts as smaller than every number (so it is chosen last).  No allocation:
 * idx itself holds a min-heap of the k best rows seen so far (root = the worst of them), then
 * is heap-sorted by row.  O(n log k + k log k).
 */
#include <math.h>
#include "internal.h"

/* 1 if row a ranks above row b: larger score, NaN lowest, ties to the smaller row. */
static int better(const float *r, int32_t a, int32_t b) {
  float va = r[a], vb = r[b];
  int na = isnan(va), nb = isnan(vb);
  if (na != nb) return nb;
  if (!na && va != vb) return va > vb;
  return a < b;
}

/* Restore the min-heap (worst row at the root) below slot i of h[0..k). */
static void sift_worst(const float *r, int32_t *h, int64_t k, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, w = i;
    if (l < k && better(r, h[w], h[l])) w = l;
    if (l + 1 < k && better(r, h[w], h[l + 1])) w = l + 1;
    if (w == i) return;
    int32_t t = h[i]; h[i] = h[w]; h[w] = t;
    i = w;
  }
}

/* Restore the max-heap of row numbers below slot i of h[0..k). */
static void sift_row(int32_t *h, int64_t k, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, w = i;
    if (l < k && h[l] > h[w]) w = l;
    if (l + 1 < k && h[l + 1] > h[w]) w = l + 1;
    if (w == i) return;
    int32_t t = h[i]; h[i] = h[w]; h[w] = t;
    i = w;
  }
}

static void sort_rows(int32_t *h, int64_t k) {
  for (int64_t i = k / 2 - 1; i >= 0; i--) sift_row(h, k, i);
  for (int64_t end = k - 1; end > 0; end--) {
    int32_t t = h[0]; h[0] = h[end]; h[end] = t;
    sift_row(h, end, 0);
  }
}

void modc_rt_topk(const float *r, int64_t n, int64_t k, int32_t *idx) {
  if (k > n) k = n;
  if (k <= 0) return;
  for (int64_t i = 0; i < k; i++) idx[i] = (int32_t)i;
  if (k == n) return;
  for (int64_t i = k / 2 - 1; i >= 0; i--) sift_worst(r, idx, k, i);
  for (int64_t i = k; i < n; i++) {
    if (!better(r, (int32_t)i, idx[0])) continue;
    idx[0] = (int32_t)i;
    sift_worst(r, idx, k, 0);
  }
  sort_rows(idx, k);
}
