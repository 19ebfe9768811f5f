/* tuning.c: tuning records in memory (tuning.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tuning.h"

const TuneRecord *tuning_find(const Tuning *t, const char *key) {
  int lo = 0, hi = t ? t->n : 0;
  while (lo < hi) {
    int mid = (lo + hi) / 2, c = strcmp(t->r[mid].key, key);
    if (!c) return &t->r[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

int tuning_add(Tuning *t, const char *key, const Sched *s, double ms, double default_ms) {
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 16;
    TuneRecord *r = realloc(t->r, (size_t)cap * sizeof *r);
    if (!r) return -1;
    t->r = r, t->cap = cap;
  }
  TuneRecord *r = &t->r[t->n++];
  memset(r, 0, sizeof *r);
  snprintf(r->key, sizeof r->key, "%s", key);
  r->sched = *s, r->ms = ms, r->default_ms = default_ms;
  return 0;
}

/* by key, then by ms, default_ms and the record itself (qsort is not stable: order by content) */
static int cmp_rec(const void *a, const void *b) {
  const TuneRecord *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  if (c) return c;
  if (x->ms != y->ms) return x->ms < y->ms ? -1 : 1;
  if (x->default_ms != y->default_ms) return x->default_ms < y->default_ms ? -1 : 1;
  char sx[512], sy[512];
  sched_format(&x->sched, sx, sizeof sx);
  sched_format(&y->sched, sy, sizeof sy);
  return strcmp(sx, sy);
}

void tuning_sort(Tuning *t) {
  if (t->n < 2) return;
  qsort(t->r, (size_t)t->n, sizeof *t->r, cmp_rec);
  int w = 1;
  for (int i = 1; i < t->n; i++)
    if (strcmp(t->r[i].key, t->r[w - 1].key)) t->r[w++] = t->r[i];
  t->n = w;
}

void tuning_free(Tuning *t) {
  free(t->r);
  free(t->hits);
  memset(t, 0, sizeof *t);
}
