/* test_abi_errors.c: every misuse of the library ABI (DESIGN.md section 6), and every bad
 * input to `modc compile`, on a real compiled model.
 *
 * usage: test_abi_errors MODC RANDWEIGHTS SPEC WORK_DIR
 * It copies SPEC (tests/cli/small.yaml: 3 layers, layer 1 routed, vocab 256, max_seq_len 64,
 * shapes (1,16) and (2,8)) into WORK_DIR, writes random weights, compiles it twice with the
 * real `modc compile` (f32 into a/, bf16 into other/), dlopens a/libsmall.so and checks:
 *   - each bad call returns its negative code and leaves a message naming the problem;
 *   - a bad call changes nothing: output buffers keep their bytes, a session's next valid
 *     decode gives bit-identical logits to a fresh session that never saw the bad call;
 *   - modc_open refuses a missing, truncated, foreign, corrupted or non-regular weights file;
 *   - `modc compile` on each kind of bad input exits non-zero with an error message and
 *     leaves the output directory as it found it (no .weights, .so, .o or .h, and no new
 *     directory), also when it fails after it started writing.
 * Sessions run on one thread so that "the same logits" can mean the same bits.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "reliability/modclib.h"

static int failures, checks;

#define CHECK(c) do { checks++; if (!(c)) { failures++; \
  fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); } } while (0)
/* rc must be code and the thread's last error must contain text. */
#define CHECK_ERR(rc, code, text) do { int rc_ = (rc); checks++; if (rc_ != (code)) { \
  failures++; fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s)\n", __FILE__, __LINE__, \
  #rc, rc_, (code), api.last_error()); } else if (!strstr(api.last_error(), text)) { \
  failures++; fprintf(stderr, "%s:%d: error '%s' lacks '%s'\n", __FILE__, __LINE__, \
  api.last_error(), text); } } while (0)


static ModcLib api;                /* the library under test (test code: globals are fine) */
static const char *work;        /* WORK_DIR */
static char modc[1024], randw[1024];

enum { V = 256, MAXSEQ = 64, ROUTED = 1, NLAYERS = 3 };

/* ---- small helpers ---- */

static const char *path_of(const char *fmt, ...) {
  static char buf[8][1024];
  static int next;
  char *p = buf[next++ % 8];
  int o = snprintf(p, sizeof buf[0], "%s/", work);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p + o, sizeof buf[0] - o, fmt, ap);
  va_end(ap);
  return p;
}

/* Runs argv (NULL-terminated) with stdout and stderr into log; returns the exit status. */
static int run(const char *log, char *const *argv) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(126);
    dup2(fd, 1), dup2(fd, 2), close(fd);
    execv(argv[0], argv);
    _exit(127);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int file_has(const char *path, const char *text) {
  char buf[8192];
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return strstr(buf, text) != NULL;
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n || fclose(f)) {
    fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
}

/* The whole file, malloc'd; *n its size. */
static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)len + 1);
  *n = fread(buf, 1, (size_t)len, f);
  buf[*n] = 0;
  fclose(f);
  return buf;
}

/* A copy of src cut to keep bytes (keep < 0: all), with byte `flip` xor'ed (if >= 0). */
static void copy_cut(const char *src, const char *dst, long keep, long flip) {
  size_t n;
  char *buf = read_file(src, &n);
  if (!buf) {
    fprintf(stderr, "cannot read %s\n", src);
    exit(1);
  }
  if (flip >= 0 && (size_t)flip < n) buf[flip] ^= 0x5a;
  write_file(dst, buf, keep >= 0 && (size_t)keep < n ? (size_t)keep : n);
  free(buf);
}

/* "name/ name ..." of dir's entries, sorted; "(none)" when dir does not exist. */
static void listing(const char *dir, char *buf, size_t n) {
  struct dirent **e;
  int k = scandir(dir, &e, NULL, alphasort);
  size_t o = 0;
  buf[0] = 0;
  if (k < 0) {
    snprintf(buf, n, "(none)");
    return;
  }
  for (int i = 0; i < k; i++) {
    if (strcmp(e[i]->d_name, ".") && strcmp(e[i]->d_name, ".."))
      o += snprintf(buf + o, o < n ? n - o : 0, "%s%s ", e[i]->d_name,
                    e[i]->d_type == DT_DIR ? "/" : "");
    free(e[i]);
  }
  free(e);
}

static void load(const char *path) {
  if (modclib_load(path, &api)) exit(1);
}

/* ---- the model compiled twice ---- */

static void setup(const char *spec) {
  char *rm[] = {"/bin/rm", "-rf", (char *)work, NULL};
  run("/dev/null", rm);
  if (mkdir(work, 0777)) {
    fprintf(stderr, "cannot create %s: %s\n", work, strerror(errno));
    exit(1);
  }
  copy_cut(spec, path_of("small.yaml"), -1, -1);
  const char *log = path_of("setup.log");
  char *rw[] = {randw, (char *)path_of("small.yaml"), "--seed", "3", NULL};
  char *ca[] = {modc, "compile", (char *)path_of("small.yaml"), "-o",
                (char *)path_of("a/libsmall.so"), "-q", NULL};
  char *cb[] = {modc, "compile", (char *)path_of("small.yaml"), "-D",
                "compile.weights_dtype=bf16", "-o", (char *)path_of("other/libsmall.so"), "-q",
                NULL};
  if (run(log, rw) || run(log, ca) || run(log, cb)) {
    fprintf(stderr, "setup failed; see %s\n", log);
    exit(1);
  }
}

/* ---- modc_open ---- */

static void test_open(void) {
  modc_model *m = (modc_model *)&m;
  char w[1024];
  snprintf(w, sizeof w, "%s", path_of("a/small.weights"));
  CHECK_ERR(api.open(NULL, 1, NULL), MODC_ERR_ARG, "out is NULL");
  CHECK_ERR(api.open(path_of("missing.weights"), 1, &m), MODC_ERR_IO, "missing.weights");
  CHECK(m == NULL);
  CHECK_ERR(api.open(path_of("a"), 1, &m), MODC_ERR_IO, "not a regular file");
  copy_cut(w, path_of("empty.weights"), 0, -1);
  CHECK_ERR(api.open(path_of("empty.weights"), 1, &m), MODC_ERR_IO, "truncated");
  copy_cut(w, path_of("short.weights"), 10, -1);
  CHECK_ERR(api.open(path_of("short.weights"), 1, &m), MODC_ERR_IO, "header");
  copy_cut(w, path_of("header_only.weights"), 64, -1);
  CHECK_ERR(api.open(path_of("header_only.weights"), 1, &m), MODC_ERR_IO, "truncated");
  struct stat st;
  CHECK(stat(w, &st) == 0);
  copy_cut(w, path_of("trunc.weights"), (long)st.st_size - 1, -1);
  CHECK_ERR(api.open(path_of("trunc.weights"), 1, &m), MODC_ERR_IO, "truncated");
  copy_cut(w, path_of("half.weights"), (long)st.st_size / 2, -1);
  CHECK_ERR(api.open(path_of("half.weights"), 1, &m), MODC_ERR_IO, "truncated");
  CHECK(m == NULL);
  CHECK_ERR(api.open(path_of("other/small.weights"), 1, &m), MODC_ERR_MISMATCH,
            "belongs to another model");
  copy_cut(w, path_of("magic.weights"), -1, 0);
  CHECK_ERR(api.open(path_of("magic.weights"), 1, &m), MODC_ERR_MISMATCH,
            "not a modc weights file");
  copy_cut(w, path_of("hash.weights"), -1, 8);
  CHECK_ERR(api.open(path_of("hash.weights"), 1, &m), MODC_ERR_MISMATCH, "another model");
  copy_cut(path_of("small.safetensors"), path_of("st.weights"), -1, -1);
  CHECK_ERR(api.open(path_of("st.weights"), 1, &m), MODC_ERR_MISMATCH, "not a modc weights");
  CHECK(m == NULL);
  /* the good file still opens, by path and beside the library */
  CHECK(api.open(w, 1, &m) == 0 && m);
  api.close(m);
  CHECK(api.open(NULL, 1, &m) == 0 && m);
  api.close(m);
  api.close(NULL);
}

/* ---- modc_forward ---- */

static void fill_tokens(int32_t *t, int n, int seed) {
  for (int i = 0; i < n; i++) t[i] = (int32_t)((i * 37 + seed * 11 + 5) % V);
}

/* Is the buffer still all 0xA5? */
static int untouched(const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != 0xA5) return 0;
  return 1;
}

static void test_forward(modc_model *m) {
  int32_t tok[2 * 16];
  static float ref[2 * 16 * V], out[2 * 16 * V];
  const size_t n1 = (size_t)16 * V * sizeof(float);
  fill_tokens(tok, 32, 1);
  CHECK(api.forward(m, 1, 16, tok, ref) == 0);
  memset(out, 0xA5, sizeof out);
  CHECK_ERR(api.forward(NULL, 1, 16, tok, out), MODC_ERR_ARG, "model is NULL");
  CHECK_ERR(api.forward(m, 1, 16, NULL, out), MODC_ERR_ARG, "tokens is NULL");
  CHECK_ERR(api.forward(m, 1, 16, tok, NULL), MODC_ERR_ARG, "logits is NULL");
  CHECK_ERR(api.forward(m, 1, 8, tok, out), MODC_ERR_ARG,
            "shape (batch 1, seq_len 8) was not compiled; this library has (1, 16), (2, 8)");
  CHECK_ERR(api.forward(m, 2, 16, tok, out), MODC_ERR_ARG, "(1, 16), (2, 8)");
  CHECK_ERR(api.forward(m, 0, 16, tok, out), MODC_ERR_ARG, "not compiled");
  CHECK_ERR(api.forward(m, -1, 16, tok, out), MODC_ERR_ARG, "not compiled");
  CHECK_ERR(api.forward(m, 1, -16, tok, out), MODC_ERR_ARG, "not compiled");
  CHECK_ERR(api.forward(m, 1, 0, tok, out), MODC_ERR_ARG, "not compiled");
  int32_t bad[16];
  memcpy(bad, tok, sizeof bad);
  bad[5] = -1;
  CHECK_ERR(api.forward(m, 1, 16, bad, out), MODC_ERR_ARG, "token -1 at index 5");
  bad[5] = V;
  CHECK_ERR(api.forward(m, 1, 16, bad, out), MODC_ERR_ARG, "token 256 at index 5");
  bad[5] = tok[5];
  bad[15] = -2147483647 - 1;
  CHECK_ERR(api.forward(m, 1, 16, bad, out), MODC_ERR_ARG, "at index 15");
  int32_t bad2[16];
  memcpy(bad2, tok, sizeof bad2);
  bad2[11] = V;   /* batch 2: the second row's index 3 is index 11 of the whole array */
  CHECK_ERR(api.forward(m, 2, 8, bad2, out), MODC_ERR_ARG, "token 256 at index 11");
  CHECK(untouched(out, sizeof out));
  /* nothing changed: the same call gives the same bits */
  CHECK(api.forward(m, 1, 16, tok, out) == 0 && !memcmp(out, ref, n1));
  CHECK(api.forward(m, 2, 8, tok, out) == 0);
}

/* ---- sessions ---- */

typedef struct {
  int32_t prompt[MAXSEQ];
  int n;
} Prompt;

/* A fresh session that holds p, then decodes t: its logits and layer ROUTED's trace. */
static void fresh(modc_model *m, const Prompt *p, int32_t t, float *logits, uint8_t *trace,
                  int *len) {
  modc_session *s;
  CHECK(api.session_open(m, &s) == 0);
  if (p->n) CHECK(api.prefill(s, p->prompt, p->n, NULL) == 0);
  CHECK(api.decode(s, t, logits) == 0);
  *len = api.routing(s, ROUTED, trace, MAXSEQ);
  api.session_close(s);
}

/* s holds p and has seen bad calls: its next decode must match a fresh session's. */
static void check_unchanged(modc_model *m, modc_session *s, const Prompt *p, int32_t t,
                            const char *what) {
  static float a[V], b[V];
  uint8_t ta[MAXSEQ], tb[MAXSEQ];
  int la, lb;
  CHECK(api.decode(s, t, a) == 0);
  la = api.routing(s, ROUTED, ta, MAXSEQ);
  fresh(m, p, t, b, tb, &lb);
  checks++;
  if (memcmp(a, b, sizeof a) || la != lb || la != p->n + 1 || memcmp(ta, tb, (size_t)la)) {
    failures++;
    fprintf(stderr, "session changed by %s: next decode differs from a fresh session's "
            "(trace lengths %d, %d)\n", what, la, lb);
  }
}

static void test_session_args(modc_model *m) {
  modc_session *s = (modc_session *)&s;
  static float logits[V];
  uint8_t taken[MAXSEQ + 8];
  CHECK_ERR(api.session_open(NULL, &s), MODC_ERR_ARG, "model is NULL");
  CHECK_ERR(api.session_open(m, NULL), MODC_ERR_ARG, "out is NULL");
  int32_t tok[4] = {1, 2, 3, 4};
  CHECK_ERR(api.prefill(NULL, tok, 4, logits), MODC_ERR_ARG, "session is NULL");
  CHECK_ERR(api.decode(NULL, 1, logits), MODC_ERR_ARG, "session is NULL");
  CHECK_ERR(api.reset(NULL), MODC_ERR_ARG, "session is NULL");
  CHECK_ERR(api.routing(NULL, ROUTED, taken, 4), MODC_ERR_ARG, "session is NULL");
  api.session_close(NULL);

  CHECK(api.session_open(m, &s) == 0);
  CHECK_ERR(api.routing(s, 0, taken, 4), MODC_ERR_ARG, "layer 0 is dense");
  CHECK_ERR(api.routing(s, 2, taken, 4), MODC_ERR_ARG, "layer 2 is dense");
  CHECK_ERR(api.routing(s, -1, taken, 4), MODC_ERR_ARG, "layer -1 out of range [0, 3)");
  CHECK_ERR(api.routing(s, NLAYERS, taken, 4), MODC_ERR_ARG, "layer 3 out of range");
  CHECK_ERR(api.routing(s, 1 << 30, taken, 4), MODC_ERR_ARG, "out of range");
  CHECK_ERR(api.routing(s, ROUTED, NULL, 4), MODC_ERR_ARG, "taken is NULL");
  CHECK_ERR(api.routing(s, ROUTED, taken, -1), MODC_ERR_ARG, "n = -1 is negative");
  CHECK(api.routing(s, ROUTED, taken, 4) == 0);   /* an empty session has no trace */
  /* a routing trace is never written past the tokens held or past n */
  CHECK(api.prefill(s, tok, 4, NULL) == 0);
  memset(taken, 0xA5, sizeof taken);
  CHECK(api.routing(s, ROUTED, taken, MAXSEQ + 8) == 4);
  CHECK(untouched(taken + 4, sizeof taken - 4));
  for (int t = 0; t < 4; t++) CHECK(taken[t] <= 1);
  memset(taken, 0xA5, sizeof taken);
  CHECK(api.routing(s, ROUTED, taken, 2) == 2 && untouched(taken + 2, sizeof taken - 2));
  memset(taken, 0xA5, sizeof taken);
  CHECK(api.routing(s, ROUTED, taken, 0) == 0 && untouched(taken, sizeof taken));
  api.session_close(s);
}

static void test_session_tokens(modc_model *m) {
  modc_session *s;
  static float logits[V];
  Prompt p = {.n = 6};
  fill_tokens(p.prompt, p.n, 2);
  CHECK(api.session_open(m, &s) == 0);
  CHECK(api.prefill(s, p.prompt, p.n, NULL) == 0);
  memset(logits, 0xA5, sizeof logits);
  int32_t bad[3] = {7, -1, 9};
  CHECK_ERR(api.prefill(s, bad, 3, logits), MODC_ERR_ARG, "modc_prefill: token -1 at index 1");
  bad[1] = V;
  CHECK_ERR(api.prefill(s, bad, 3, logits), MODC_ERR_ARG, "modc_prefill: token 256 at index 1");
  bad[1] = 8, bad[2] = V + 1000;
  CHECK_ERR(api.prefill(s, bad, 3, logits), MODC_ERR_ARG, "token 1256 at index 2");
  CHECK_ERR(api.prefill(s, NULL, 3, logits), MODC_ERR_ARG, "tokens is NULL");
  CHECK_ERR(api.prefill(s, bad, 0, logits), MODC_ERR_ARG, "n = 0, needs at least one token");
  CHECK_ERR(api.prefill(s, bad, -5, logits), MODC_ERR_ARG, "n = -5");
  CHECK_ERR(api.decode(s, -1, logits), MODC_ERR_ARG, "modc_decode: token -1");
  CHECK_ERR(api.decode(s, V, logits), MODC_ERR_ARG, "modc_decode: token 256");
  CHECK_ERR(api.decode(s, -2147483647 - 1, logits), MODC_ERR_ARG, "modc_decode: token");
  CHECK(untouched(logits, sizeof logits));
  check_unchanged(m, s, &p, 42, "bad tokens, NULL tokens and n <= 0");
  api.session_close(s);

  /* the same on an empty session, whose first call must still be a first call */
  Prompt none = {.n = 0};
  CHECK(api.session_open(m, &s) == 0);
  CHECK_ERR(api.decode(s, V, NULL), MODC_ERR_ARG, "token 256");
  CHECK_ERR(api.prefill(s, bad, 3, NULL), MODC_ERR_ARG, "token 1256");
  check_unchanged(m, s, &none, 3, "bad calls on an empty session");
  api.session_close(s);
}

static void test_session_full(modc_model *m) {
  modc_session *s;
  static float logits[V];
  Prompt p = {.n = MAXSEQ - 4};
  int32_t more[MAXSEQ + 1];
  fill_tokens(p.prompt, p.n, 3);
  fill_tokens(more, MAXSEQ + 1, 4);
  CHECK(api.session_open(m, &s) == 0);
  CHECK_ERR(api.prefill(s, more, MAXSEQ + 1, NULL), MODC_ERR_FULL, "max_seq_len 64");
  CHECK(api.prefill(s, p.prompt, p.n, NULL) == 0);
  memset(logits, 0xA5, sizeof logits);
  CHECK_ERR(api.prefill(s, more, 5, logits), MODC_ERR_FULL,
            "5 more tokens would pass max_seq_len 64 (the session holds 60)");
  CHECK_ERR(api.prefill(s, more, 1 << 30, logits), MODC_ERR_FULL, "max_seq_len");
  CHECK(untouched(logits, sizeof logits));
  check_unchanged(m, s, &p, 17, "a prefill past max_seq_len");   /* now 61 tokens */
  CHECK(api.prefill(s, more, 2, NULL) == 0);                      /* 63 */
  CHECK(api.decode(s, 5, logits) == 0);                           /* 64: full */
  memset(logits, 0xA5, sizeof logits);
  CHECK_ERR(api.decode(s, 6, logits), MODC_ERR_FULL, "1 more tokens would pass max_seq_len");
  CHECK_ERR(api.prefill(s, more, 1, logits), MODC_ERR_FULL, "the session holds 64");
  CHECK(untouched(logits, sizeof logits));
  uint8_t taken[MAXSEQ + 8];
  memset(taken, 0xA5, sizeof taken);
  CHECK(api.routing(s, ROUTED, taken, MAXSEQ + 8) == MAXSEQ);
  CHECK(untouched(taken + MAXSEQ, 8));
  /* reset makes room again, and the session then behaves like a fresh one */
  CHECK(api.reset(s) == 0);
  CHECK(api.routing(s, ROUTED, taken, MAXSEQ) == 0);
  Prompt q = {.n = 3, .prompt = {10, 20, 30}};
  CHECK(api.prefill(s, q.prompt, q.n, NULL) == 0);
  check_unchanged(m, s, &q, 40, "filling, refusing and resetting");
  api.session_close(s);
}

static void test_abi(void) {
  load(path_of("a/libsmall.so"));
  test_open();
  modc_model *m;
  if (api.open(NULL, 1, &m)) {
    fprintf(stderr, "modc_open: %s\n", api.last_error());
    failures++;
    return;
  }
  const modc_info *info = api.info(m);
  CHECK(info && info->vocab_size == V && info->n_layers == NLAYERS &&
        info->max_seq_len == MAXSEQ && info->n_shapes == 2);
  CHECK(info && info->capacity[0] == 1.0f && info->capacity[ROUTED] == 0.25f);
  CHECK(api.info(NULL) == NULL && strstr(api.last_error(), "model is NULL"));
  test_forward(m);
  test_session_args(m);
  test_session_tokens(m);
  test_session_full(m);
  api.close(m);
}

/* ---- modc compile on bad inputs ---- */

/* `modc compile ARGS -o DIR/libsmall.so` must fail with "error" in its output and leave
 * DIR's listing as it was (for fresh: DIR must not be created). */
static void compile_fails(const char *name, int fresh, const char *const *args,
                          const char *blocker) {
  char before[2048], after[2048], *argv[32];
  const char *dir = path_of("fail/%s%s", name, fresh ? "-new" : "");
  if (!fresh) {
    mkdir(path_of("fail"), 0777);
    mkdir(dir, 0777);
    write_file(path_of("fail/%s/keep.txt", name), "x", 1);
    if (blocker) mkdir(path_of("fail/%s/%s", name, blocker), 0777);
  }
  listing(dir, before, sizeof before);
  int n = 0;
  argv[n++] = modc;
  argv[n++] = "compile";
  while (*args) argv[n++] = (char *)*args++;
  argv[n++] = "-o";
  argv[n++] = (char *)path_of("fail/%s%s/libsmall.so", name, fresh ? "-new" : "");
  argv[n++] = "-q";
  argv[n] = NULL;
  const char *log = path_of("fail-%s%s.log", name, fresh ? "-new" : "");
  int rc = run(log, argv);
  listing(dir, after, sizeof after);
  checks++;
  if (rc == 0 || rc >= 128 || !file_has(log, "error")) {
    failures++;
    fprintf(stderr, "compile %s: exit %d, expected 1 with an error message (see %s)\n", name,
            rc, log);
  }
  checks++;
  if (strcmp(before, after)) {
    failures++;
    fprintf(stderr, "compile %s%s left outputs behind: before [%s], after [%s]\n", name,
            fresh ? " (fresh dir)" : "", before, after);
  }
}

/* A copy of small.yaml whose weights line names w. */
static const char *spec_with_weights(const char *name, const char *w) {
  size_t n;
  char *text = read_file(path_of("small.yaml"), &n), out[4096];
  char *line = strstr(text, "weights: small.safetensors");
  CHECK(line != NULL);
  if (!line) exit(1);
  *line = 0;
  snprintf(out, sizeof out, "%sweights: %s%s", text, w, line + strlen("weights: small.safetensors"));
  write_file(path_of("%s", name), out, strlen(out));
  free(text);
  return path_of("%s", name);
}

static void test_compile_errors(void) {
  char spec_s[1024], st[1024];
  snprintf(spec_s, sizeof spec_s, "%s", path_of("small.yaml"));
  snprintf(st, sizeof st, "%s", path_of("small.safetensors"));
  write_file(path_of("syntax.yaml"), "modc: 1\nname: [small\n", 22);
  copy_cut(st, path_of("trunc.safetensors"), 4000, -1);
  write_file(path_of("notjson.safetensors"), "\x04\0\0\0\0\0\0\0nope", 12);
  char syntax[1024], missing[1024], trunc[1024], notjson[1024];
  snprintf(syntax, sizeof syntax, "%s", path_of("syntax.yaml"));
  snprintf(missing, sizeof missing, "%s", spec_with_weights("missing.yaml", "nothere.safetensors"));
  snprintf(trunc, sizeof trunc, "%s", spec_with_weights("trunc.yaml", "trunc.safetensors"));
  snprintf(notjson, sizeof notjson, "%s", spec_with_weights("notjson.yaml", "notjson.safetensors"));
  struct {
    const char *name;
    const char *args[8];
    const char *blocker;    /* a directory in the output dir that makes a late step fail */
  } cases[] = {
    {"nospec", {"/nonexistent/spec.yaml"}},
    {"syntax", {syntax}},
    {"range", {spec_s, "-D", "routing.capacity=2"}},
    {"unknown_key", {spec_s, "-D", "model.colour=blue"}},
    {"bad_shape", {spec_s, "--shape", "1,65"}},
    {"no_weights", {missing}},
    {"trunc_weights", {trunc}},
    {"notjson_weights", {notjson}},
    {"misshaped", {spec_s, "-D", "model.d_ff=80"}},
    {"other_model", {spec_s, "-D", "routing.router_bias=true"}},
    {"bad_cpu", {spec_s, "--cpu", "notacpu"}},
    {"foreign_link", {spec_s, "--target", "riscv64-linux-gnu", "--cpu", "generic-rv64"}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    compile_fails(cases[i].name, 1, cases[i].args, NULL);
    compile_fails(cases[i].name, 0, cases[i].args, NULL);
  }
  /* failures after the weights are written: the object, the header, the weights path
   * itself blocked by a directory */
  const char *late[] = {spec_s, NULL};
  compile_fails("blocked_object", 0, late, "libsmall.so.o");
  compile_fails("blocked_header", 0, late, "small.h");
  compile_fails("blocked_weights", 0, late, "small.weights");
  compile_fails("blocked_library", 0, late, "libsmall.so");
  const char *embed[] = {spec_s, "--embed-weights", NULL};
  compile_fails("blocked_header_embed", 0, embed, "small.h");
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: test_abi_errors MODC RANDWEIGHTS SPEC WORK_DIR\n");
    return 2;
  }
  snprintf(modc, sizeof modc, "%s", argv[1]);
  snprintf(randw, sizeof randw, "%s", argv[2]);
  work = argv[4];
  setup(argv[3]);
  test_abi();
  test_compile_errors();
  printf("%d checks, %d failed\n", checks, failures);
  return failures != 0;
}
