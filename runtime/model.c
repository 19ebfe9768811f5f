/* model.c: modc_open, modc_close, modc_get_info: the model context's whole life.
 *
 * modc_open picks the kernel set to run (a library compiled for several CPUs has one per CPU:
 * the one with the most ISA features this CPU has, or the one $MODC_CPU names), then checks,
 * in order, that its descriptor speaks this ABI, that the CPU has every ISA extension its
 * kernels were compiled for, and that the weights belong to this
 * library (weights.c); then it allocates everything modc_forward will ever need (the planned
 * arena, the dims buffer, the 0..T-1 positions), so a forward call never allocates, and starts
 * the model's worker threads (pool.c), which every call's kernels share; modc_close joins them.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"

void *rt_alloc(size_t size) {
  void *p = NULL;
  size = (size + RT_ALIGN - 1) / RT_ALIGN * RT_ALIGN;
  if (posix_memalign(&p, RT_ALIGN, size ? size : RT_ALIGN)) return NULL;
  memset(p, 0, size);
  return p;
}

static int check_abi(const modc_desc *d) {
  if (d->abi_version != MODC_ABI_VERSION)
    return rt_error(MODC_ERR_MISMATCH, "modc_open: library speaks ABI version %lld, this "
                    "runtime version %d; recompile the model", (long long)d->abi_version,
                    MODC_ABI_VERSION);
  if (d->vocab_size <= 0 || d->n_layers < 0 || d->max_seq_len <= 0 || d->n_shapes < 0)
    return rt_error(MODC_ERR_MISMATCH, "modc_open: library descriptor is malformed");
  return 0;
}

static int check_cpu(const modc_desc *d) {
  char missing[400];
  if (modc_rt_missing_features(d->features, missing, sizeof missing) > 0)
    return rt_error(MODC_ERR_CPU, "modc_open: this CPU lacks %s needed by this library "
                    "(built for cpu '%s'); recompile with --cpu native", missing,
                    d->cpu ? d->cpu : "?");
  return rt_cpu_prepare(d->features);
}

static void fill_info(modc_model *m) {
  const modc_desc *d = m->desc;
  m->info.vocab_size = (int32_t)d->vocab_size;
  m->info.d_model = (int32_t)d->d_model;
  m->info.n_layers = (int32_t)d->n_layers;
  m->info.max_seq_len = (int32_t)d->max_seq_len;
  m->info.n_shapes = (int32_t)d->n_shapes;
  m->info.shapes = (const int32_t(*)[2])d->shapes;
  m->info.capacity = d->capacity;
  m->info.name = d->name;
  m->info.target_triple = d->triple;
  m->info.target_cpu = d->cpu;
  m->info.forward_threshold = (int32_t)d->forward_threshold;
}

/* The forward buffers: one arena and dims for the largest graph, positions for the longest. */
static int alloc_forward(modc_model *m) {
  const modc_desc *d = m->desc;
  int64_t arena = 0, nsym = 1, maxT = 0;
  for (int64_t i = 0; i < d->n_shapes; i++) {
    if (d->forward_arena[i] > arena) arena = d->forward_arena[i];
    if (d->forward_nsym && d->forward_nsym[i] > nsym) nsym = d->forward_nsym[i];
    if (d->shapes[2 * i + 1] > maxT) maxT = d->shapes[2 * i + 1];
  }
  m->arena = rt_alloc((size_t)arena);
  m->dims = rt_alloc((size_t)nsym * sizeof *m->dims);
  m->pos = rt_alloc((size_t)maxT * sizeof *m->pos);
  if (!m->arena || !m->dims || !m->pos)
    return rt_error(MODC_ERR_NOMEM, "modc_open: out of memory (forward arena %lld bytes)",
                    (long long)arena);
  for (int64_t t = 0; t < maxT; t++) m->pos[t] = (int32_t)t;
  return 0;
}

static int pick_threads(const modc_desc *d, int n_threads) {
  if (n_threads > 0) return n_threads;
  if (d->default_threads > 0) return (int)d->default_threads;
  return omp_get_num_procs();
}

/* The workers for m->nthreads threads (none for one). */
static int start_pool(modc_model *m) {
  if (m->nthreads < 2) return 0;
  m->pool = rt_pool_create(m->nthreads, RT_POOL_SPIN_NS);
  if (!m->pool)
    return rt_error(MODC_ERR_NOMEM, "modc_open: cannot start %d worker threads; pass a "
                    "smaller n_threads", m->nthreads - 1);
  return 0;
}

/* How much of the ISA a kernel set uses: its feature string's "+name" entries. */
static int feature_count(const char *f) {
  int n = 0;
  for (; f && *f; f++) n += *f == '+';
  return n;
}

/* The kernel set $MODC_CPU names, else the runnable one with the most features, else the
 * first (whose missing features check_cpu then names). */
static int pick_set(const modc_desc **out) {
  const modc_desc_set *t = &modc__descs;
  const char *want = getenv("MODC_CPU");
  const modc_desc *best = NULL;
  *out = t->n > 0 ? t->descs[0] : &modc__desc;
  for (int64_t i = 0; i < t->n; i++) {
    const modc_desc *d = t->descs[i];
    if (check_abi(d)) return MODC_ERR_MISMATCH;
    if (want && *want ? d->cpu && !strcmp(d->cpu, want)
                      : !modc_rt_missing_features(d->features, NULL, 0) &&
                        (!best || feature_count(d->features) > feature_count(best->features)))
      best = d;
  }
  if (want && *want && !best) {
    char have[512] = "";
    for (int64_t i = 0; i < t->n; i++)
      snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", i ? ", " : "", t->descs[i]->cpu);
    return rt_error(MODC_ERR_CPU, "modc_open: MODC_CPU=%s names no kernel set of this library (it has %s)",
                    want, have);
  }
  if (best) *out = best;
  return 0;
}

RT_API int modc_open(const char *weights_path, int n_threads, modc_model **out) {
  if (!out) return rt_error(MODC_ERR_ARG, "modc_open: out is NULL");
  *out = NULL;
  const modc_desc *d;
  int rc = pick_set(&d);
  if (!rc) rc = check_abi(d);
  if (!rc) rc = check_cpu(d);
  if (rc) return rc;
  modc_model *m = calloc(1, sizeof *m);
  if (!m) return rt_error(MODC_ERR_NOMEM, "modc_open: out of memory");
  m->desc = d;
  if (pthread_mutex_init(&m->lock, NULL)) {
    free(m);
    return rt_error(MODC_ERR_NOMEM, "modc_open: cannot create the model lock");
  }
  m->nthreads = pick_threads(d, n_threads);
  rt_prof_start();
  rc = rt_weights_open(m, weights_path);
  if (!rc) rc = alloc_forward(m);
  if (!rc) rc = start_pool(m);
  if (rc) {
    modc_close(m);
    return rc;
  }
  fill_info(m);
  *out = m;
  return 0;
}

/* Sessions of m must be closed first: they keep pointers into it. */
RT_API void modc_close(modc_model *m) {
  if (!m) return;
  rt_prof_flush();
  rt_pool_destroy(m->pool);
  rt_weights_close(m);
  free(m->arena);
  free(m->dims);
  free(m->pos);
  pthread_mutex_destroy(&m->lock);
  free(m);
}

RT_API const modc_info *modc_get_info(const modc_model *m) {
  if (!m) {
    rt_error(MODC_ERR_ARG, "modc_get_info: model is NULL");
    return NULL;
  }
  return &m->info;
}
