/* profile.c: MODC_PROFILE, where a library's time goes, kernel by kernel.
 *
 * Off unless MODC_PROFILE=PATH is in the environment when a model is opened.  Then every
 * kernel call through modc_rt_parallel_for is timed, and summed per task function:
 *   wall   the call, from the dispatch to the join;
 *   max    the slowest thread's chunk (the call's critical path without dispatch and join);
 *   mean   the mean chunk over the threads that ran one (the work, perfectly balanced);
 * so dispatch and join cost wall - max, and imbalance max - mean.  Each graph call (forward,
 * session) is timed whole, so time between kernels is the graphs' wall less the kernels'.
 * modc_close appends the table to PATH and clears it, one line per function:
 *   kernel 0xOFFSET calls wall_ns max_ns mean_ns threads LIBRARY_PATH
 *   graph 0xOFFSET calls wall_ns 0 0 0 LIBRARY_PATH
 * (OFFSET from the library's load address, which `modc bench --profile` names from the
 * library's symbol table; threads is summed over calls).
 * The table is process-wide, the runtime's one global state beside the error message: models
 * open at the same time share it, and a close writes what all of them ran.  Updates are
 * atomic adds, so concurrent calls are counted, never corrupted.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"

#define PROF_SLOTS 4096   /* functions a process may profile; more are dropped (counted) */

typedef struct ProfSlot {
  _Atomic uintptr_t fn;   /* 0: free */
  atomic_int graph;
  atomic_llong calls, wall, max, mean, threads;
} ProfSlot;

static ProfSlot slots[PROF_SLOTS];
static atomic_int prof_on;
static atomic_llong dropped;
static char prof_path[4096];
static pthread_mutex_t prof_mu = PTHREAD_MUTEX_INITIALIZER;

int rt_prof_on(void) { return atomic_load_explicit(&prof_on, memory_order_relaxed); }

int64_t rt_prof_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rt_prof_start(void) {
  const char *p = getenv("MODC_PROFILE");
  if (!p || !*p) return;
  pthread_mutex_lock(&prof_mu);
  snprintf(prof_path, sizeof prof_path, "%s", p);
  atomic_store(&prof_on, 1);
  pthread_mutex_unlock(&prof_mu);
}

/* The slot of fn, claimed when new; NULL when the table is full. */
static ProfSlot *slot_of(uintptr_t fn) {
  size_t h = (size_t)((fn >> 4) * 0x9E3779B97F4A7C15ull) % PROF_SLOTS;
  for (size_t i = 0; i < PROF_SLOTS; i++) {
    ProfSlot *s = &slots[(h + i) % PROF_SLOTS];
    uintptr_t cur = atomic_load(&s->fn), zero = 0;
    if (cur == fn) return s;
    if (cur == 0 && (atomic_compare_exchange_strong(&s->fn, &zero, fn) || zero == fn)) return s;
  }
  return NULL;
}

void rt_prof_add(const void *fn, int graph, int64_t wall, int64_t max, int64_t mean, int threads) {
  ProfSlot *s = slot_of((uintptr_t)fn);
  if (!s) {
    atomic_fetch_add(&dropped, 1);
    return;
  }
  atomic_store_explicit(&s->graph, graph, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->calls, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->wall, wall, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->max, max, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->mean, mean, memory_order_relaxed);
  atomic_fetch_add_explicit(&s->threads, threads, memory_order_relaxed);
}

/* One slot's line, its counters cleared. */
static void write_slot(FILE *f, ProfSlot *s) {
  uintptr_t fn = atomic_exchange(&s->fn, 0);
  long long calls = atomic_exchange(&s->calls, 0), wall = atomic_exchange(&s->wall, 0),
            max = atomic_exchange(&s->max, 0), mean = atomic_exchange(&s->mean, 0),
            threads = atomic_exchange(&s->threads, 0);
  Dl_info di = {0};
  if (!fn || !calls) return;
  if (!dladdr((void *)fn, &di) || !di.dli_fbase) di.dli_fbase = NULL, di.dli_fname = "?";
  fprintf(f, "%s 0x%llx %lld %lld %lld %lld %lld %s\n", atomic_load(&s->graph) ? "graph" : "kernel",
          (unsigned long long)(fn - (uintptr_t)di.dli_fbase), calls, wall, max, mean, threads, di.dli_fname);
}

void rt_prof_flush(void) {
  if (!rt_prof_on()) return;
  pthread_mutex_lock(&prof_mu);
  FILE *f = fopen(prof_path, "a");
  for (size_t i = 0; i < PROF_SLOTS; i++)
    if (atomic_load(&slots[i].fn)) {
      if (f) write_slot(f, &slots[i]);
      else atomic_store(&slots[i].fn, 0);
    }
  long long d = atomic_exchange(&dropped, 0);
  if (f && d) fprintf(f, "dropped %lld\n", d);
  if (f) fclose(f);
  pthread_mutex_unlock(&prof_mu);
}
