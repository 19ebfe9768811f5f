/* test_runtime.c: the runtime's behaviour, tested without the compiler.
 *
 * usage: test_runtime LIB EMBED_LIB BADCPU_LIB BADABI_LIB SCRATCH_DIR
 *        test_runtime --write-weights PATH     (the fake model's weights file)
 * Each LIB is the runtime archive linked with the hand-written fake model (fake_model.c) in
 * one variant (tests/runtime.cmake).  The libraries are dlopened and their ABI resolved by
 * name, the way a binding would; the runtime's hidden helpers (top-k, parallel_for, the CPU
 * feature check) are reached through the fake's exported fake_* wrappers.
 */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "modc_load.h"
#include "fake_model.h"

static int failures;

#define CHECK(c) do { if (!(c)) { failures++; \
  fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
/* rc must be code and the thread's last error must contain text. */
#define CHECK_ERR(rc, code, text) do { int rc_ = (rc); CHECK(rc_ == (code)); \
  if (!strstr(api.abi.last_error(), text)) { failures++; fprintf(stderr, \
  "%s:%d: error '%s' lacks '%s'\n", __FILE__, __LINE__, api.abi.last_error(), text); } } while (0)

typedef struct {
  ModcLib abi;              /* the ABI, as every client resolves it (runtime/modc_load.h) */
  /* the fake model's test hooks */
  void (*topk)(const float *, int64_t, int64_t, int32_t *);
  int (*missing)(const char *, char *, size_t);
  int (*pfor)(int64_t, int64_t, int *, int64_t *);
  int (*pfor_nested)(int64_t, int64_t);
  int *errors;
} Api;

static Api api;                 /* the library under test (test code: a global is fine) */
static const char *scratch;     /* directory for weights files */

static void *sym(void *lib, const char *name) {
  void *p = dlsym(lib, name);
  if (!p) { fprintf(stderr, "missing symbol %s\n", name); exit(1); }
  return p;
}

static Api load(const char *path) {
  Api a = {0};
  char err[4200];
  if (modc_load(path, &a.abi, err, sizeof err)) { fprintf(stderr, "%s\n", err); exit(1); }
  *(void **)&a.topk = sym(a.abi.h, "fake_topk");
  *(void **)&a.missing = sym(a.abi.h, "fake_missing_features");
  *(void **)&a.pfor = sym(a.abi.h, "fake_parallel_for");
  *(void **)&a.pfor_nested = sym(a.abi.h, "fake_parallel_for_nested");
  a.errors = sym(a.abi.h, "fake_errors");
  return a;
}

/* A weights file: header (magic, hash, blob size, offset 64) then `bytes` blob bytes of value. */
static void write_weights_of(const char *path, const char *magic, uint64_t hash, uint64_t blob_size, size_t bytes,
                             float value) {
  uint8_t header[64] = {0};
  uint64_t fields[3] = {hash, blob_size, 64};
  memcpy(header, magic, 8);
  memcpy(header + 8, fields, sizeof fields);
  FILE *f = fopen(path, "wb");
  if (!f) { perror(path); exit(1); }
  fwrite(header, 1, bytes < 64 ? bytes : 64, f);
  for (size_t i = 64; i + 4 <= bytes; i += 4) fwrite(&value, 4, 1, f);
  fclose(f);
}

static void write_weights(const char *path, const char *magic, uint64_t hash, uint64_t blob_size, size_t bytes) {
  write_weights_of(path, magic, hash, blob_size, bytes, 1.0f);
}

static char *scratch_path(const char *name) {
  static char buf[4][1024];
  static int next;
  char *p = buf[next++ % 4];
  snprintf(p, sizeof buf[0], "%s/%s", scratch, name);
  return p;
}

static const char *good_weights(void) {
  char *p = scratch_path("good.weights");
  write_weights(p, "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE);
  return p;
}

static void test_exports(void) {
  const char *hidden[] = {"modc_rt_topk", "modc_rt_parallel_for", "modc_rt_missing_features",
                          "rt_error", "rt_alloc", "rt_weights_open", "modc__desc", "modc__descs"};
  for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
    CHECK(dlsym(api.abi.h, hidden[i]) == NULL);
  CHECK(strcmp(api.abi.last_error(), "") == 0);
}

static void test_open_errors(void) {
  modc_model *m = (modc_model *)1;
  CHECK_ERR(api.abi.open(good_weights(), 1, NULL), MODC_ERR_ARG, "NULL");
  CHECK_ERR(api.abi.open(scratch_path("absent.weights"), 1, &m), MODC_ERR_IO, "absent.weights");
  CHECK(m == NULL);
  char *p = scratch_path("other.weights");
  write_weights(p, "MODCW001", FAKE_HASH ^ 1, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE);
  CHECK_ERR(api.abi.open(p, 1, &m), MODC_ERR_MISMATCH, "belongs to another model");
  CHECK(strstr(api.abi.last_error(), "0123456789abcdee") && strstr(api.abi.last_error(), "other.weights"));
  write_weights(p, "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE + 64, 64 + FAKE_BLOB_SIZE + 64);
  CHECK_ERR(api.abi.open(p, 1, &m), MODC_ERR_MISMATCH, "belongs to another model");
  write_weights(p, "GGUFxxxx", FAKE_HASH, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE);
  CHECK_ERR(api.abi.open(p, 1, &m), MODC_ERR_MISMATCH, "not a modc weights file");
  p = scratch_path("short.weights");
  write_weights(p, "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE - 4);
  CHECK_ERR(api.abi.open(p, 1, &m), MODC_ERR_IO, "short.weights' is truncated");
  write_weights(p, "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE, 40);
  CHECK_ERR(api.abi.open(p, 1, &m), MODC_ERR_IO, "truncated");
  CHECK_ERR(api.abi.open(scratch, 1, &m), MODC_ERR_IO, "not a regular file");
  CHECK(m == NULL);
}

/* path NULL: FAKE_WEIGHTS_FILE in the directory of the library itself. */
static void test_open_beside(const char *lib_path) {
  char beside[1024];
  const char *slash = strrchr(lib_path, '/');
  snprintf(beside, sizeof beside, "%.*s/%s", slash ? (int)(slash - lib_path) : 1,
           slash ? lib_path : ".", FAKE_WEIGHTS_FILE);
  unlink(beside);
  modc_model *m = NULL;
  CHECK_ERR(api.abi.open(NULL, 1, &m), MODC_ERR_IO, beside);
  write_weights(beside, "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE);
  CHECK(api.abi.open(NULL, 1, &m) == 0 && m);
  api.abi.close(m);
  unlink(beside);
}

static void test_info(modc_model *m) {
  const modc_info *i = api.abi.info(m);
  CHECK(i && i->vocab_size == FAKE_VOCAB && i->n_layers == FAKE_LAYERS && i->d_model == 8);
  CHECK(i->max_seq_len == FAKE_MAX_SEQ && i->n_shapes == 2);
  CHECK(i->shapes[0][0] == 1 && i->shapes[0][1] == 4);
  CHECK(i->shapes[1][0] == 2 && i->shapes[1][1] == 8);
  CHECK(i->capacity[1] == 0.5f && i->capacity[0] == 1.0f);
  CHECK(!strcmp(i->name, "fake_model") && !strcmp(i->target_cpu, "fakecpu"));
  CHECK(!strcmp(i->target_triple, "x86_64-unknown-linux-gnu"));
  CHECK_ERR(api.abi.info(NULL) == NULL ? MODC_ERR_ARG : 0, MODC_ERR_ARG, "NULL");
}

/* logits [T][vocab] of the fake forward for tokens. */
static int forward_ok(const float *logits, const int32_t *tokens, int T) {
  for (int t = 0; t < T; t++)
    for (int v = 0; v < FAKE_VOCAB; v++) {
      float want = v == (tokens[t] + 1) % FAKE_VOCAB ? 1.0f + t : 0.0f;
      if (logits[t * FAKE_VOCAB + v] != want) return 0;
    }
  return 1;
}

/* MODC_WEIGHTS_LOAD: "copy" holds the blob in the process's own memory, so the file may
 * change underneath (the fake's logits read w[0]); a mapped file is live; a bad value is an
 * error that opens nothing. */
static void test_weights_load(void) {
  static float logits[4 * FAKE_VOCAB];
  int32_t tok[4] = {0, 5, 255, 7};
  const char *p = scratch_path("load.weights");
  for (int copy = 0; copy < 2; copy++) {
    modc_model *m = NULL;
    write_weights(p, "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE);
    setenv("MODC_WEIGHTS_LOAD", copy ? "copy" : "map", 1);
    CHECK(api.abi.open(p, 2, &m) == 0 && m);
    if (!m) continue;
    CHECK(api.abi.forward(m, 1, 4, tok, logits) == 0 && forward_ok(logits, tok, 4));
    write_weights_of(p, "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE, 2.0f); /* rewritten in place */
    CHECK(api.abi.forward(m, 1, 4, tok, logits) == 0);
    /* forward_ok wants 1 + t at row t's next token: a live mapping now reads 2 + t */
    CHECK(copy ? forward_ok(logits, tok, 4) : logits[(tok[1] + 1) % FAKE_VOCAB + FAKE_VOCAB] == 3.0f);
    api.abi.close(m);
  }
  modc_model *m = (modc_model *)1;
  setenv("MODC_WEIGHTS_LOAD", "mmap", 1);
  CHECK_ERR(api.abi.open(p, 1, &m), MODC_ERR_ARG, "MODC_WEIGHTS_LOAD is 'mmap'; expected map or copy");
  CHECK(m == NULL);
  unsetenv("MODC_WEIGHTS_LOAD");
}

static void test_forward(modc_model *m) {
  static float logits[2 * 8 * FAKE_VOCAB], again[2 * 8 * FAKE_VOCAB];
  int32_t tok[16] = {0, 5, 255, 7, 1, 2, 3, 4, 10, 20, 30, 40, 50, 60, 70, 255};
  CHECK(api.abi.forward(m, 1, 4, tok, logits) == 0 && forward_ok(logits, tok, 4));
  CHECK(api.abi.forward(m, 2, 8, tok, logits) == 0);
  CHECK(forward_ok(logits, tok, 8) && forward_ok(logits + 8 * FAKE_VOCAB, tok + 8, 8));
  CHECK_ERR(api.abi.forward(m, 1, 8, tok, logits), MODC_ERR_ARG, "(1, 4), (2, 8)");
  CHECK(strstr(api.abi.last_error(), "batch 1, seq_len 8"));
  CHECK_ERR(api.abi.forward(m, 0, 4, tok, logits), MODC_ERR_ARG, "not compiled");
  CHECK_ERR(api.abi.forward(NULL, 1, 4, tok, logits), MODC_ERR_ARG, "model is NULL");
  CHECK_ERR(api.abi.forward(m, 1, 4, NULL, logits), MODC_ERR_ARG, "tokens is NULL");
  CHECK_ERR(api.abi.forward(m, 1, 4, tok, NULL), MODC_ERR_ARG, "logits is NULL");
  int32_t bad[16];
  memcpy(bad, tok, sizeof bad);
  bad[11] = -1;
  memset(again, 0x7f, sizeof again);
  CHECK_ERR(api.abi.forward(m, 2, 8, bad, again), MODC_ERR_ARG, "token -1 at index 11");
  CHECK(again[0] == again[1] && again[5 * FAKE_VOCAB] == again[0]);   /* untouched */
  bad[11] = FAKE_VOCAB;
  CHECK_ERR(api.abi.forward(m, 2, 8, bad, again), MODC_ERR_ARG, "token 256 at index 11");
  /* the thread count never changes a result */
  for (int nt = 1; nt <= 5; nt++) {
    modc_model *m2 = NULL;
    CHECK(api.abi.open(good_weights(), nt, &m2) == 0);
    CHECK(api.abi.forward(m2, 2, 8, tok, again) == 0 && !memcmp(logits, again, sizeof logits));
    api.abi.close(m2);
  }
}

/* Last-row logits of the fake session: [(last+1) % vocab] = 1 + cached rows of layer 1. */
static int session_logits_ok(const float *l, int32_t last, int routed_rows) {
  for (int v = 0; v < FAKE_VOCAB; v++)
    if (l[v] != (v == (last + 1) % FAKE_VOCAB ? 1.0f + routed_rows : 0.0f)) return 0;
  return 1;
}

static void test_session_parity(modc_model *m) {
  modc_session *a = NULL, *b = NULL;
  float la[FAKE_VOCAB], lb[FAKE_VOCAB];
  int32_t tok[5] = {97, 98, 99, 100, 7};
  CHECK(api.abi.session_open(m, &a) == 0 && api.abi.session_open(m, &b) == 0);
  CHECK(api.abi.prefill(a, tok, 5, la) == 0 && session_logits_ok(la, 7, 2));
  for (int i = 0; i < 5; i++) CHECK(api.abi.decode(b, tok[i], lb) == 0);
  CHECK(!memcmp(la, lb, sizeof la));
  uint8_t ra[8], rb[8];
  CHECK(api.abi.routing(a, FAKE_ROUTED_LAYER, ra, 8) == 5 && api.abi.routing(b, 1, rb, 8) == 5);
  CHECK(!memcmp(ra, rb, 5) && ra[0] == 0 && ra[1] == 1 && ra[2] == 0 && ra[3] == 1 && ra[4] == 0);
  CHECK(api.abi.routing(a, 1, ra, 2) == 2 && api.abi.routing(a, 1, ra, 0) == 0);
  CHECK_ERR(api.abi.routing(a, 0, ra, 8), MODC_ERR_ARG, "layer 0 is dense");
  CHECK_ERR(api.abi.routing(a, FAKE_LAYERS, ra, 8), MODC_ERR_ARG, "out of range");
  CHECK_ERR(api.abi.routing(a, -1, ra, 8), MODC_ERR_ARG, "out of range");
  CHECK_ERR(api.abi.routing(a, 1, NULL, 8), MODC_ERR_ARG, "taken is NULL");
  CHECK_ERR(api.abi.routing(NULL, 1, ra, 8), MODC_ERR_ARG, "session is NULL");
  api.abi.session_close(a);
  api.abi.session_close(b);
}

static void test_session_limits(modc_model *m) {
  modc_session *s = NULL;
  float l[FAKE_VOCAB], sentinel[FAKE_VOCAB];
  int32_t tok[FAKE_MAX_SEQ + 1];
  uint8_t r[FAKE_MAX_SEQ];
  for (int i = 0; i <= FAKE_MAX_SEQ; i++) tok[i] = 2 * i;   /* all even: all take layer 1 */
  CHECK_ERR(api.abi.session_open(m, NULL), MODC_ERR_ARG, "out is NULL");
  CHECK(api.abi.session_open(m, &s) == 0);
  CHECK(api.abi.prefill(s, tok, 10, NULL) == 0);
  memset(sentinel, 0x55, sizeof sentinel);
  memcpy(l, sentinel, sizeof l);
  CHECK_ERR(api.abi.prefill(s, tok, 7, l), MODC_ERR_FULL, "max_seq_len 16 (the session holds 10)");
  CHECK_ERR(api.abi.prefill(s, tok, 0, l), MODC_ERR_ARG, "at least one token");
  CHECK_ERR(api.abi.prefill(s, NULL, 1, l), MODC_ERR_ARG, "tokens is NULL");
  CHECK_ERR(api.abi.decode(s, -5, l), MODC_ERR_ARG, "token -5 at index 0");
  CHECK_ERR(api.abi.decode(s, FAKE_VOCAB, l), MODC_ERR_ARG, "token 256");
  int32_t bad[3] = {1, 2, 999};
  CHECK_ERR(api.abi.prefill(s, bad, 3, l), MODC_ERR_ARG, "token 999 at index 2");
  CHECK(!memcmp(l, sentinel, sizeof l) && api.abi.routing(s, 1, r, FAKE_MAX_SEQ) == 10);
  CHECK(api.abi.prefill(s, tok + 10, 6, l) == 0 && session_logits_ok(l, tok[15], 16));
  CHECK_ERR(api.abi.decode(s, 1, l), MODC_ERR_FULL, "holds 16");
  CHECK(api.abi.routing(s, 1, r, FAKE_MAX_SEQ) == 16 && r[15] == 1);
  CHECK(api.abi.reset(s) == 0 && api.abi.routing(s, 1, r, FAKE_MAX_SEQ) == 0);
  CHECK(api.abi.decode(s, 3, l) == 0 && session_logits_ok(l, 3, 0));
  CHECK(api.abi.routing(s, 1, r, FAKE_MAX_SEQ) == 1 && r[0] == 0);
  CHECK(api.abi.prefill(s, tok, 15, l) == 0 && session_logits_ok(l, tok[14], 15));
  CHECK_ERR(api.abi.reset(NULL), MODC_ERR_ARG, "NULL");
  api.abi.session_close(s);
  api.abi.session_close(NULL);
}

static void test_variants(const char *embed_lib, const char *badcpu_lib, const char *badabi_lib) {
  Api keep = api;
  modc_model *m = NULL;
  float logits[4 * FAKE_VOCAB];
  int32_t tok[4] = {1, 2, 3, 4};
  api = load(embed_lib);
  CHECK(api.abi.open(NULL, 2, &m) == 0 && api.abi.forward(m, 1, 4, tok, logits) == 0);
  CHECK(forward_ok(logits, tok, 4));
  api.abi.close(m);
  CHECK(api.abi.open(good_weights(), 2, &m) == 0);   /* an explicit path wins over the blob */
  api.abi.close(m);
  api = load(badcpu_lib);
  char missing[128];
  if (api.missing("+amx-tile", missing, sizeof missing) == 1) {
    CHECK_ERR(api.abi.open(good_weights(), 1, &m), MODC_ERR_CPU,
              "modc_open: this CPU lacks amx-tile needed by this library (built for cpu "
              "'fakecpu'); recompile with --cpu native");
  } else {
    fprintf(stderr, "note: this CPU has AMX; skipping the MODC_ERR_CPU open test\n");
  }
  api = load(badabi_lib);
  CHECK_ERR(api.abi.open(good_weights(), 1, &m), MODC_ERR_MISMATCH, "ABI version 99");
  api = keep;
}

static void test_cpu_features(void) {
  char buf[256];
  __builtin_cpu_init();
#define XCHECK(f) CHECK((api.missing("+" f, buf, sizeof buf) == 0) == !!__builtin_cpu_supports(f))
  XCHECK("sse4.2"); XCHECK("avx"); XCHECK("avx2"); XCHECK("fma"); XCHECK("bmi2");
  XCHECK("avx512f"); XCHECK("avx512bw"); XCHECK("avx512dq"); XCHECK("avx512vl");
  XCHECK("avx512cd"); XCHECK("avx512vnni"); XCHECK("avx512bf16"); XCHECK("avx512vbmi2");
  XCHECK("avx512bitalg"); XCHECK("avx512vp2intersect"); XCHECK("avx512fp16");
  XCHECK("amx-tile"); XCHECK("amx-int8"); XCHECK("gfni"); XCHECK("vpclmulqdq");
#undef XCHECK
  if (__builtin_cpu_supports("avx2")) CHECK(api.missing("+avx2,+sse4.2", buf, sizeof buf) == 0);
  CHECK(api.missing("", buf, sizeof buf) == 0 && buf[0] == 0);
  CHECK(api.missing(NULL, buf, sizeof buf) == 0);
  CHECK(api.missing("-amx-tile,-avx512fp16,+64bit,+fast-gather,,+", buf, sizeof buf) == 0);
  int has_amx = api.missing("+amx-tile", buf, sizeof buf) == 0;
  if (!has_amx) {
    CHECK(!strcmp(buf, "amx-tile"));
    CHECK(api.missing("+sse2,+amx-tile,+amx-int8,+cx16", buf, sizeof buf) == 2);
    CHECK(!strcmp(buf, "amx-tile, amx-int8"));
    CHECK(api.missing("+amx-tile,+amx-int8", buf, 5) == 2 && strlen(buf) == 4);
  }
}

static void check_topk(const float *r, int n, int k, const int32_t *want) {
  int32_t idx[64];
  api.topk(r, n, k, idx);
  int ok = 1;
  for (int i = 0; i < k; i++) ok &= idx[i] == want[i];
  if (!ok) { failures++; fprintf(stderr, "topk n=%d k=%d wrong\n", n, k); }
}

/* Reference: selection by repeated scans with the same order (NaN lowest, ties to smaller). */
static void topk_reference(const float *r, int n, int k, int32_t *idx) {
  char used[512] = {0};
  for (int j = 0; j < k; j++) {
    int best = -1;
    for (int i = 0; i < n; i++) {
      if (used[i]) continue;
      if (best < 0 || (isnan(r[best]) && !isnan(r[i])) ||
          (!isnan(r[i]) && !isnan(r[best]) && r[i] > r[best])) best = i;
    }
    used[best] = 1;
  }
  for (int i = 0, j = 0; i < n; i++) if (used[i]) idx[j++] = i;
}

static void test_topk(void) {
  float a[] = {1, 3, 3, 2};
  check_topk(a, 4, 2, (int32_t[]){1, 2});
  check_topk(a, 4, 1, (int32_t[]){1});
  check_topk(a, 4, 4, (int32_t[]){0, 1, 2, 3});
  check_topk(a, 4, 3, (int32_t[]){1, 2, 3});
  float ties[] = {5, 5, 5, 5, 5};
  check_topk(ties, 5, 2, (int32_t[]){0, 1});
  float b[] = {0, 2, 9, 9};
  check_topk(b, 4, 1, (int32_t[]){2});
  float c[] = {NAN, 1, NAN, 0, -INFINITY};
  check_topk(c, 5, 2, (int32_t[]){1, 3});
  check_topk(c, 5, 3, (int32_t[]){1, 3, 4});
  check_topk(c, 5, 4, (int32_t[]){0, 1, 3, 4});
  float d[] = {-0.0f, 0.0f, NAN};
  check_topk(d, 3, 1, (int32_t[]){0});
  srand(7);
  static float r[500];
  int32_t got[500], want[500];
  for (int trial = 0; trial < 300; trial++) {
    int n = 1 + rand() % 500, k = 1 + rand() % n;
    for (int i = 0; i < n; i++) r[i] = rand() % 9 == 0 ? NAN : (float)(rand() % 7) - 3.0f;
    api.topk(r, n, k, got);
    topk_reference(r, n, k, want);
    if (memcmp(got, want, k * sizeof got[0])) {
      failures++;
      fprintf(stderr, "topk random n=%d k=%d\n", n, k);
      break;
    }
  }
}

/* The pieces parallel.c cuts n items into on nt threads: one serial chunk (one thread, fewer
 * than two grains), else min(nt, blocks) chunks of 16-item blocks, each cut into guided pieces
 * of 1/4 of what is left (at least one block). */
static int expected_pieces(int nt, int64_t n) {
  int64_t blocks = (n + 15) / 16;
  if (n <= 0) return 0;
  if (nt > blocks) nt = (int)blocks;
  if (nt <= 1 || n < 32) return 1;
  int c = 0;
  for (int t = 0; t < nt; t++)
    for (int64_t left = blocks * (t + 1) / nt - blocks * t / nt; left > 0; c++) left -= left / 4 > 1 ? left / 4 : 1;
  return c;
}

static void test_parallel_for(void) {
  static int counts[5000];
  static int64_t chunks[2 * 256];   /* 75 pieces at most below (5 threads, 4097 items) */
  const int64_t sizes[] = {0, 1, 15, 16, 31, 32, 33, 47, 100, 1000, 4097};
  for (int nt = 1; nt <= 5; nt++)
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int64_t n = sizes[s];
      memset(counts, 0, sizeof counts);
      int c = api.pfor(nt, n, counts, chunks);
      int ok = c == expected_pieces(nt, n);
      for (int64_t i = 0; i < n; i++) ok &= counts[i] == 1;
      for (int j = 0; j < c; j++)
        ok &= chunks[2 * j] % 16 == 0 && chunks[2 * j] < chunks[2 * j + 1];
      if ((nt == 1 || n < 32) && n > 0) ok &= c == 1 && chunks[0] == 0 && chunks[1] == n;
      if (nt > 1 && n >= 64) ok &= c >= 2;
      if (!ok) {
        failures++;
        fprintf(stderr, "parallel_for nthreads=%d n=%lld\n", nt, (long long)n);
      }
    }
  CHECK(api.pfor_nested(4, 1000) == 1);   /* inside a parallel region: one serial chunk */
}

/* Two threads fail differently, interleaved by a barrier; each sees its own message. */
static pthread_barrier_t barrier;
static modc_model *shared_model;

static void *error_thread(void *arg) {
  int id = (int)(intptr_t)arg, ok = strcmp(api.abi.last_error(), "") == 0;
  int32_t tok[4] = {1, 2, 3, 4};
  float logits[4 * FAKE_VOCAB];
  if (id == 0) api.abi.forward(shared_model, 3, 3, tok, logits);
  pthread_barrier_wait(&barrier);
  if (id == 1) ok &= strcmp(api.abi.last_error(), "") == 0;   /* thread 0's error is not ours */
  if (id == 1) api.abi.open(NULL, 1, NULL);
  pthread_barrier_wait(&barrier);
  const char *want = id == 0 ? "modc_forward: shape" : "modc_open: out is NULL";
  ok &= strstr(api.abi.last_error(), want) != NULL;
  return (void *)(intptr_t)ok;
}

/* Each thread runs its own session while sharing the model (and its forward lock). */
static void *session_thread(void *arg) {
  int ok = 1;
  int32_t tok[8] = {10, 11, 12, 13, 14, 15, 16, 17};
  float l[8 * FAKE_VOCAB];
  for (int iter = 0; iter < 200; iter++) {
    modc_session *s = NULL;
    ok &= api.abi.session_open(shared_model, &s) == 0;
    ok &= api.abi.prefill(s, tok, 3, l) == 0 && session_logits_ok(l, 12, 2);
    ok &= api.abi.decode(s, 13, l) == 0 && session_logits_ok(l, 13, 2);
    ok &= api.abi.forward(shared_model, 1, 4, tok, l) == 0 && forward_ok(l, tok, 4);
    api.abi.session_close(s);
  }
  (void)arg;
  return (void *)(intptr_t)ok;
}

static void run_threads(void *(*fn)(void *)) {
  pthread_t t[2];
  void *ok[2];
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, fn, (void *)(intptr_t)i);
  for (int i = 0; i < 2; i++) pthread_join(t[i], &ok[i]);
  CHECK(ok[0] && ok[1]);
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--write-weights")) {   /* for the examples' tests */
    write_weights(argv[2], "MODCW001", FAKE_HASH, FAKE_BLOB_SIZE, 64 + FAKE_BLOB_SIZE);
    return 0;
  }
  if (argc != 6) {
    fprintf(stderr, "usage: %s LIB EMBED_LIB BADCPU_LIB BADABI_LIB SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  scratch = argv[5];
  api = load(argv[1]);
  test_exports();
  test_cpu_features();
  test_topk();
  test_parallel_for();
  test_open_errors();
  test_open_beside(argv[1]);
  test_weights_load();
  modc_model *m = NULL;
  CHECK(api.abi.open(good_weights(), 3, &m) == 0 && m);
  if (!m) { fprintf(stderr, "open: %s\n", api.abi.last_error()); return 1; }
  test_info(m);
  test_forward(m);
  test_session_parity(m);
  test_session_limits(m);
  shared_model = m;
  pthread_barrier_init(&barrier, NULL, 2);
  run_threads(error_thread);
  run_threads(session_thread);
  api.abi.close(m);
  CHECK(*api.errors == 0);
  test_variants(argv[2], argv[3], argv[4]);
  if (failures) fprintf(stderr, "test_runtime: %d failures\n", failures);
  else printf("test_runtime: all passed\n");
  return failures != 0;
}
