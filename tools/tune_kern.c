/* tune_kern.c: one kernel alone on random data, built and timed (tune_kern.h). */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "passes/schedule.h"
#include "runtime/pool.h"
#include "tools/cli.h"
#include "tools/timing.h"
#include "tools/tune_kern.h"
#include "tools/tune_space.h"

/* ---- deterministic data ---- */

static uint64_t xs_next(uint64_t *s) {
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return *s;
}

static float xs_float(uint64_t *s) { /* [-1, 1) */
  return (float)((double)(xs_next(s) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* the value of dim d in this call (a symbol's from dims) */
static int64_t dim_val(const TuneCall *c, int64_t d) { return DIM_IS_SYM(d) ? c->dims[DIM_SYMNO(d)] : d; }

static int64_t numel(const TuneCall *c, const Type *t) {
  int64_t e = 1;
  for (int i = 0; i < t->rank; i++) e *= dim_val(c, t->dim[i]);
  return e;
}

/* elements a value of node s stores: a panel-packed weight pads its columns to panels */
static int64_t stored_elems(const TuneCall *c, const Node *s) {
  int64_t nr = attr_i(s, "nr", 0);
  if (s->op == OP_WEIGHT && !strcmp(attr_s(s, "layout", ""), "panel") && nr > 0 && s->ty.rank == 2)
    return sched_panel_elems(s->ty.dim[0], s->ty.dim[1], (int)nr, s->ty.dt);
  return numel(c, &s->ty);
}

/* n values of dt at p: floats in [-1, 1) (bf16: their top halves), or indices ascending
 * over [0, range) (row indices and positions alike; kernels clamp indices anyway) */
static void fill(void *p, DType dt, int64_t n, int64_t range, uint64_t *rng) {
  for (int64_t i = 0; i < n; i++) {
    if (dt == DT_I32) {
      ((int32_t *)p)[i] = (int32_t)(n > 0 ? i * range / n : 0);
    } else if (dt == DT_BF16 || dt == DT_F16) {
      float f = xs_float(rng);
      uint32_t u;
      memcpy(&u, &f, 4);
      ((uint16_t *)p)[i] = (uint16_t)(u >> 16);
    } else {
      ((float *)p)[i] = xs_float(rng);
    }
  }
}

/* ---- the call's graph ---- */

/* bytes at a fresh 64-aligned offset of the blob; returns the offset or -1 */
static int64_t blob_take(TuneCall *c, int64_t bytes) {
  int64_t off = c->blen, need = off + (bytes + 63) / 64 * 64;
  uint8_t *b = realloc(c->blob, (size_t)(need > 0 ? need : 64));
  if (!b) return -1;
  c->blob = b, c->blen = need;
  return off;
}

/* rows an index operand ranges over: the most rows of the result or of an activation operand
 * (a weight's first dim is no row count).  fill() spreads an index of n entries evenly over
 * them, so the indices are distinct, as top-k's and select's are: duplicates would make a
 * scatter's rows race, and the tuner take that for a wrong record. */
static int64_t index_range(const TuneCall *c, const Graph *g, const Node *nd) {
  int64_t r = nd->ty.rank ? dim_val(c, nd->ty.dim[0]) : 1;
  for (int j = 0; j < nd->nin; j++) {
    const Node *o = &g->n[nd->in[j]];
    if (o->st != ST_WEIGHTS && o->ty.rank && dim_val(c, o->ty.dim[0]) > r) r = dim_val(c, o->ty.dim[0]);
  }
  return r;
}

static int pos_operand(TuneCall *c, const Node *s, int64_t kv_len) {
  int i = graph_add(c->tmpl, OP_INPUT, 0, NULL);
  Node *p = &c->tmpl->n[i];
  p->ty = s->ty;
  attr_set_s(p, "name", "pos");
  p->st = ST_POS;
  int64_t n = numel(c, &s->ty);
  c->pos = malloc((size_t)(n > 0 ? n : 1) * 4);
  for (int64_t r = 0; c->pos && r < n; r++) c->pos[r] = (int32_t)((c->decode ? kv_len : 0) + r);
  return c->pos ? i : -1;
}

/* A copy of operand s as data in the blob (or, in place, in the output buffer). */
static int data_operand(TuneCall *c, const Node *s, int inplace, int64_t range, uint64_t *rng) {
  int64_t elems = stored_elems(c, s), bytes = elems * dtype_size(s->ty.dt);
  int64_t off = blob_take(c, bytes);
  if (off < 0) return -1;
  fill(c->blob + off, s->ty.dt, elems, range, rng);
  int i = graph_add(c->tmpl, OP_WEIGHT, 0, NULL);
  Node *w = &c->tmpl->n[i];
  w->ty = s->ty;
  if (s->op == OP_WEIGHT) memcpy(w->attr, s->attr, sizeof w->attr), w->nattr = s->nattr;
  attr_set_s(w, "name", s->op == OP_WEIGHT ? attr_s(s, "name", "w") : "x");
  if (inplace) { /* the result's own buffer holds it (plan-memory's in-place scatter) */
    w->st = ST_OUT, w->offset = 0;
    attr_set_i(w, "offset", 0);
    c->out0 = malloc((size_t)bytes);
    if (!c->out0) return -1;
    memcpy(c->out0, c->blob + off, (size_t)bytes);
    return i;
  }
  w->st = ST_WEIGHTS, w->offset = off;
  attr_set_i(w, "offset", off);
  return i;
}

/* The call's KV cache: one layer's, in slot 0 (tcall_make gives the template node layer 0: the
 * code does not depend on which layer's cache it reads, only the key names the layer). */
static int kv_cache(TuneCall *c, const Graph *g, const Node *nd, int64_t kv_len, uint64_t *rng) {
  c->kv_layer = 0;
  const Type *kt = &g->n[nd->in[1]].ty;
  c->kv_w = numel(c, kt) / (kt->rank ? dim_val(c, kt->dim[0]) : 1);
  c->kv_len0 = kv_len;
  c->kv_cap = kv_len + (nd->ty.rank ? dim_val(c, nd->ty.dim[0]) : 1) + 1;
  c->kv_k = malloc((size_t)(c->kv_cap * c->kv_w) * 4);
  c->kv_v = malloc((size_t)(c->kv_cap * c->kv_w) * 4);
  c->kv_pos = malloc((size_t)c->kv_cap * 4);
  if (!c->kv_k || !c->kv_v || !c->kv_pos) return -1;
  fill(c->kv_k, DT_F32, c->kv_cap * c->kv_w, 0, rng);
  fill(c->kv_v, DT_F32, c->kv_cap * c->kv_w, 0, rng);
  for (int64_t r = 0; r < c->kv_cap; r++) c->kv_pos[r] = (int32_t)r;
  return 0;
}

/* copies of the blob until they hold twice the cache (TuneCall.copies) */
static int blob_copies(TuneCall *c, int64_t cache) {
  int64_t want = c->blen > 0 ? (2 * cache + c->blen - 1) / c->blen : 1;
  c->ncopies = (int)(want < 1 ? 1 : want > TUNE_MAX_COPIES ? TUNE_MAX_COPIES : want);
  c->copies = calloc((size_t)c->ncopies, sizeof *c->copies);
  if (!c->copies) return -1;
  c->copies[0] = c->blob;
  for (int k = 1; k < c->ncopies; k++) {
    if (posix_memalign((void **)&c->copies[k], 64, (size_t)(c->blen > 0 ? c->blen : 64))) return c->ncopies = k, -1;
    memcpy(c->copies[k], c->blob, (size_t)c->blen);
  }
  return 0;
}

int tcall_make(TuneCall *c, const Graph *g, int i, int decode, int64_t kv_len, int64_t cache, char *err, size_t n) {
  const Node *nd = &g->n[i];
  uint64_t rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull;
  int map[IR_MAXIN];
  memset(c, 0, sizeof *c);
  c->decode = decode, c->kv_layer = -1;
  c->tmpl = graph_new("tmpl", g->mode);
  for (int s = 0; s < g->nsym; s++) {
    graph_add_sym(c->tmpl, g->symbound[s]);
    c->dims[s] = decode ? 1 : g->symbound[s];
  }
  int64_t range = index_range(c, g, nd);
  for (int j = 0; j < nd->nin; j++) {
    const Node *s = &g->n[nd->in[j]];
    map[j] = -1;
    for (int q = 0; q < j; q++)
      if (nd->in[q] == nd->in[j]) map[j] = map[q];
    if (map[j] >= 0) continue;
    int inplace = nd->st == ST_ARENA && s->st == ST_ARENA && s->offset == nd->offset && !c->out0;
    map[j] = s->st == ST_POS ? pos_operand(c, s, kv_len) : data_operand(c, s, inplace, range, &rng);
    if (map[j] < 0) {
      snprintf(err, n, "out of memory for the operands of %s", op_names[nd->op]);
      return -1;
    }
  }
  c->node = graph_add(c->tmpl, nd->op, nd->nin, map);
  Node *r = &c->tmpl->n[c->node];
  r->ty = nd->ty, r->sched = nd->sched, r->st = ST_OUT, r->offset = 0;
  memcpy(r->attr, nd->attr, sizeof r->attr), r->nattr = nd->nattr;
  c->nout = numel(c, &nd->ty);
  c->path = decode || (nd->ty.rank && dim_val(c, nd->ty.dim[0]) == 1) ? TUNE_ONE : TUNE_MANY;
  if (nd->op == OP_KV_ATTENTION) attr_set_i(r, "layer", 0);
  if (nd->op == OP_KV_ATTENTION && kv_cache(c, g, nd, kv_len, &rng)) {
    snprintf(err, n, "out of memory for a KV cache");
    return -1;
  }
  if (graph_verify(c->tmpl, err, n)) return -1;
  if (blob_copies(c, cache)) {
    snprintf(err, n, "out of memory for copies of the operands");
    return -1;
  }
  return 0;
}

void tcall_free(TuneCall *c) {
  graph_free(c->tmpl);
  for (int k = 1; k < c->ncopies; k++) free(c->copies[k]);
  free(c->copies);
  free(c->blob), free(c->pos), free(c->out0), free(c->ref);
  free(c->kv_k), free(c->kv_v), free(c->kv_pos);
  memset(c, 0, sizeof *c);
}

int tjob_valid(const TuneCall *c, const Sched *rec) {
  Graph *g = graph_clone(c->tmpl);
  char why[512];
  g->n[c->node].sched = *rec;
  int ok = !graph_verify(g, why, sizeof why);
  graph_free(g);
  return ok;
}

/* ---- building ---- */

/* The child's work: part's graphs into an object, linked; its error into errpath. */
/* A part's graphs into an object, linked; its error into errpath.  0 or 1. */
static int build_part(Graph **gs, int n, const CgTarget *t, const char *obj, const char *so, const char *errpath) {
  char err[4096];
  int rc = cg_emit(NULL, gs, n, t, EMIT_OBJ, obj, err, sizeof err);
  if (!rc) rc = cg_link_kernels(obj, so, err, sizeof err);
  unlink(obj);
  if (rc) {
    FILE *f = fopen(errpath, "w");
    if (f) fputs(err, f), fclose(f);
  }
  return rc ? 1 : 0;
}

/* Sanitizer builds build the parts one after another in this process: their allocators are
 * not fork-safe (measured: GCC 12's ASan child deadlocked on its allocator's lock, held at
 * the fork by another of the tuner's threads). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TUNE_FORK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TUNE_FORK 0
#endif
#endif
#ifndef TUNE_FORK
#define TUNE_FORK 1
#endif

/* the error a child left, into err */
static void part_error(const char *errpath, int st, char *err, size_t errlen) {
  FILE *f = fopen(errpath, "r");
  size_t got = f ? fread(err, 1, errlen - 1, f) : 0;
  err[got] = 0;
  if (f) fclose(f);
  if (!got && WIFSIGNALED(st))
    snprintf(err, errlen, "building a kernel library: the compiler process died of signal %d", WTERMSIG(st));
  else if (!got) snprintf(err, errlen, "building a kernel library failed (wait status %d)", st);
  unlink(errpath);
}

/* The children of the build in progress (0: none), for tune_kill_builds. */
static volatile pid_t building[TUNE_MAX_PARTS];

void tune_kill_builds(void) {
  for (int p = 0; p < TUNE_MAX_PARTS; p++)
    if (building[p] > 0) cli_stop_child_in_handler(building[p]), building[p] = 0;
}

/* Fork one child per part; wait for all; 0 if every one built its library.  The children
 * only run LLVM and the C compiler driver on the graphs and _exit: they never touch the
 * parent's pool (idle while a round builds) or its files. */
static int build_parts(Graph **gs, int n, int parts, const CgTarget *t, const char *dir, const char *stem, char *err,
                       size_t errlen) {
  pid_t pid[TUNE_MAX_PARTS];
  char path[3][1200];
  int rc = 0;
  fflush(NULL);
  for (int p = 0; p < parts; p++) {
    int lo = (int)((int64_t)n * p / parts), hi = (int)((int64_t)n * (p + 1) / parts);
    snprintf(path[0], sizeof path[0], "%s/%s.%d.o", dir, stem, p);
    snprintf(path[1], sizeof path[1], "%s/%s.%d.so", dir, stem, p);
    snprintf(path[2], sizeof path[2], "%s/%s.%d.err", dir, stem, p);
    if (!TUNE_FORK) { /* in process: the same files, an exit status of our own */
      pid[p] = 0;
      if (build_part(gs + lo, hi - lo, t, path[0], path[1], path[2]) && !rc)
        rc = -1, part_error(path[2], 1 << 8, err, errlen);
      continue;
    }
    pid[p] = fork();
    if (pid[p] == 0) { /* the child, its own group's leader: the parent cleans up after signals */
      setpgid(0, 0);
      signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGHUP, SIG_DFL);
      _exit(build_part(gs + lo, hi - lo, t, path[0], path[1], path[2]));
    }
    if (pid[p] > 0) setpgid(pid[p], pid[p]); /* whichever of the two runs first */
    building[p] = pid[p];
    if (pid[p] < 0) rc = -1, snprintf(err, errlen, "fork: %s", strerror(errno));
  }
  for (int p = 0; p < parts; p++) {
    int st = 0;
    if (pid[p] <= 0) continue;
    pid_t w;
    while ((w = waitpid(pid[p], &st, 0)) < 0 && errno == EINTR) {}
    if (w < 0) st = -1; /* not waited for: not known to have built */
    building[p] = 0;
    snprintf(path[2], sizeof path[2], "%s/%s.%d.err", dir, stem, p);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && !rc) rc = -1, part_error(path[2], st, err, errlen);
    unlink(path[2]);
  }
  return rc;
}

int tune_build(TuneJob *jobs, int n, const CgTarget *t, const char *dir, const char *stem, int parts,
               TuneLibs *libs, char *err, size_t errlen) {
  Graph **gs = calloc((size_t)n + 1, sizeof *gs);
  memset(libs, 0, sizeof *libs);
  if (!gs) return snprintf(err, errlen, "out of memory"), -1;
  for (int i = 0; i < n; i++) {
    jobs[i].g = gs[i] = graph_clone(jobs[i].call->tmpl);
    snprintf(gs[i]->name, sizeof gs[i]->name, "c%d", i);
    gs[i]->n[jobs[i].call->node].sched = jobs[i].rec;
  }
  if (parts > n) parts = n;
  if (parts > TUNE_MAX_PARTS) parts = TUNE_MAX_PARTS;
  if (parts < 1) parts = 1;
  int rc = build_parts(gs, n, parts, t, dir, stem, err, errlen);
  free(gs);
  for (int p = 0; p < parts; p++) {
    char so[1200];
    snprintf(so, sizeof so, "%s/%s.%d.so", dir, stem, p);
    if (!rc && !(libs->dl[libs->n++] = dlopen(so, RTLD_NOW | RTLD_LOCAL)))
      snprintf(err, errlen, "loading %s: %s", so, dlerror()), rc = -1, libs->n--;
    unlink(so); /* the mapping stays */
  }
  for (int i = 0; !rc && i < n; i++) {
    char sym[96];
    int p = 0; /* the part of job i: the last p whose first job is at most i */
    while (p + 1 < parts && (int)((int64_t)n * (p + 1) / parts) <= i) p++;
    void *dl = libs->dl[p];
    snprintf(sym, sizeof sym, "modc__graph_%s", jobs[i].g->name);
    *(void **)&jobs[i].fn = dlsym(dl, sym);
    if (!jobs[i].fn) snprintf(err, errlen, "%s/%s.%d.so: no symbol %s", dir, stem, p, sym), rc = -1;
  }
  return rc;
}

void tune_unload(TuneLibs *libs, TuneJob *jobs, int n) {
  for (int i = 0; i < n; i++) {
    graph_free(jobs[i].g);
    jobs[i].g = NULL, jobs[i].fn = NULL;
  }
  for (int p = 0; p < libs->n; p++)
    if (libs->dl[p]) dlclose(libs->dl[p]);
  memset(libs, 0, sizeof *libs);
}

/* ---- running ---- */

int trunner_init(TuneRunner *r, int threads) {
  memset(r, 0, sizeof *r);
  r->threads = threads > 0 ? threads : 1;
  const char *f = getenv("MODC_TUNE_FAULT");
  r->fault = f && *f && strcmp(f, "0");
  if (r->threads > 1 && !(r->pool = rt_pool_create(r->threads, RT_POOL_SPIN_NS))) return -1;
  return 0;
}

void trunner_free(TuneRunner *r) {
  rt_pool_destroy(r->pool);
  free(r->out);
  memset(r, 0, sizeof *r);
}

/* One call of j's function on its data, from the call's initial state; poison: the output
 * buffer filled with NaN first, so that an output the kernel leaves unwritten cannot pass
 * for the previous run's. */
static double run_once(TuneRunner *r, TuneJob *j, int poison) {
  TuneCall *c = j->call;
  if (c->nout + 64 > r->outcap) {
    free(r->out);
    r->outcap = c->nout + 64;
    r->out = malloc((size_t)r->outcap * 4);
    if (!r->out) abort();
  }
  int64_t dims[IR_MAXSYM], kv_len[1] = {c->kv_len0}; /* one cache, layer 0 (kv_cache) */
  float *kk[1] = {c->kv_k}, *kvv[1] = {c->kv_v};
  int32_t *kp[1] = {c->kv_pos};
  memcpy(dims, c->dims, sizeof dims);
  if (poison) memset(r->out, 0xFF, (size_t)r->outcap * 4);
  if (c->out0) memcpy(r->out, c->out0, (size_t)c->nout * 4);
  /* no arena: every operand is in the blob or the output buffer */
  const uint8_t *blob = c->ncopies > 1 ? c->copies[c->next++ % c->ncopies] : c->blob;
  modc_exec x = {blob, NULL, NULL, c->pos, r->out, dims, kk, kvv, kp, kv_len, NULL, r->threads, r->pool};
  double t0 = timing_now();
  j->fn(&x);
  return (timing_now() - t0) * 1e3;
}

void tjob_time_rot(TuneRunner *r, TuneJob **jobs, int n, int min_reps, int max_reps, double min_ms, double *ms) {
  static double t[TUNE_MAX_ROT][128];
  double sum = 0;
  int reps = 0;
  if (n > TUNE_MAX_ROT) n = TUNE_MAX_ROT;
  if (max_reps > 128) max_reps = 128;
  for (int i = 0; i < n; i++) run_once(r, jobs[i], 0);
  while (reps < max_reps && (reps < min_reps || sum < min_ms * n)) {
    for (int i = 0; i < n; i++) {
      int q = (i + reps) % n;
      jobs[q]->call->next = reps; /* in one repetition every record reads the same copy: the
                                     copies' places in memory (huge pages or not) differ */
      sum += t[q][reps] = run_once(r, jobs[q], 0);
    }
    reps++;
  }
  for (int i = 0; i < n; i++) ms[i] = timing_median(t[i], reps);
}

double tjob_time(TuneRunner *r, TuneJob *j, int min_reps, int max_reps, double min_ms) {
  double ms;
  tjob_time_rot(r, &j, 1, min_reps, max_reps, min_ms, &ms);
  return ms;
}

void tjob_time_pair(TuneRunner *r, TuneJob *a, TuneJob *b, int min_reps, int max_reps, double min_ms, double *ma,
                    double *mb) {
  TuneJob *jobs[2] = {a, b};
  double ms[2];
  tjob_time_rot(r, jobs, 2, min_reps, max_reps, min_ms, ms);
  *ma = ms[0], *mb = ms[1];
}

int tjob_check(TuneRunner *r, TuneJob *j, double *ms, char *why, size_t n) {
  TuneCall *c = j->call;
  double t = run_once(r, j, 1);
  if (ms) *ms = t;
  if (c->ref && r->fault && c->nout > 0 && !tune_same(&j->rec, &c->tmpl->n[c->node].sched))
    r->out[c->nout / 2] += 1.0f; /* the test hook: every candidate computes a wrong output */
  if (!c->ref) {
    c->ref = malloc((size_t)(c->nout ? c->nout : 1) * 4);
    if (!c->ref) abort();
    memcpy(c->ref, r->out, (size_t)c->nout * 4);
    return 1;
  }
  double maxref = 0, maxdiff = 0;
  int64_t at = -1;
  for (int64_t i = 0; i < c->nout; i++) {
    double a = r->out[i], b = c->ref[i];
    if (isnan(a) != isnan(b) || (isinf(b) && a != b)) {
      if (why) snprintf(why, n, "element %lld is %g where the heuristic record's is %g", (long long)i, a, b);
      return 0;
    }
    if (!isfinite(b)) continue;
    if (fabs(b) > maxref) maxref = fabs(b);
    if (fabs(a - b) > maxdiff) maxdiff = fabs(a - b), at = i;
  }
  int ok = maxdiff <= 1e-5 * (maxref > 0 ? maxref : 1);
  if (!ok && why)
    snprintf(why, n, "element %lld is %g where the heuristic record's is %g (max |diff| %.3g, max |ref| %.3g)",
             (long long)at, r->out[at], c->ref[at], maxdiff, maxref);
  return ok;
}
