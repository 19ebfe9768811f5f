/* test_memory.c: modc_open + modc_forward + a session stay within the planned memory
 * (issue 4, item 6: "no hidden copies of the weights").
 *
 * The bound is what the design promises a model needs:
 *   weights  the packed weights file, mmapped and never copied (RSS counts the pages that
 *            were touched, which after a forward is nearly all of them);
 *   arenas   the planned arenas, "arena = N" of each graph in `modc compile --emit ir`: the
 *            largest forward arena (one per model) and the session arena (one per session);
 *   kv       per layer a key and a value cache of max_seq_len rows of kv_dim floats, plus the
 *            cached rows' positions (int32) and the routing trace (one byte) per row;
 *   buffers  this test's own logits and token arrays;
 *   slack    code, libc, libgomp, thread stacks (SLACK_MIB, default 32).
 * Measured in a child process, so that nothing else counts: its peak RSS (VmHWM, checked
 * against getrusage's ru_maxrss as seen by the parent) must stay within the whole bound, and
 * its anonymous RSS (RssAnon: heap, arenas, caches) within everything but the weights; the
 * second is what a copy of the weights (say, bf16 widened to f32 at load) would break.
 *
 * usage: test_memory LIB.so WEIGHTS_FILE IR_FILE KV_DIM [SLACK_MIB]
 */
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "modclib.h"

#define MIB (1024.0 * 1024.0)

typedef struct Usage {
  long long hwm, rss, anon, file;   /* bytes, from /proc/self/status */
  long long buffers;                /* bytes the child allocated for its own inputs/outputs */
  int ok;
} Usage;

/* VmHWM, VmRSS, RssAnon, RssFile of this process, in bytes. */
static void read_status(Usage *u) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long long kb;
  while (f && fgets(line, sizeof line, f)) {
    if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) u->hwm = kb * 1024;
    if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) u->rss = kb * 1024;
    if (sscanf(line, "RssAnon: %lld kB", &kb) == 1) u->anon = kb * 1024;
    if (sscanf(line, "RssFile: %lld kB", &kb) == 1) u->file = kb * 1024;
  }
  if (f) fclose(f);
}

/* The largest forward arena and the session arena, from the IR's graph headers. */
static int read_arenas(const char *path, long long *fwd, long long *sess) {
  FILE *f = fopen(path, "r");
  if (!f) return fprintf(stderr, "cannot read %s\n", path), -1;
  char line[4096];
  int graphs = 0;
  *fwd = *sess = 0;
  while (fgets(line, sizeof line, f)) {
    const char *a = strstr(line, " arena = ");
    if (strncmp(line, "graph @", 7) || !a) continue;
    long long n = atoll(a + 9);
    graphs++;
    if (strstr(line, "mode = session")) *sess = n;
    else if (n > *fwd) *fwd = n;
  }
  fclose(f);
  if (!graphs) return fprintf(stderr, "%s: no graph headers with an arena\n", path), -1;
  return 0;
}

/* The child's work: open, a forward at every shape, a session half full plus decodes. */
static int exercise(const char *lib, Usage *u) {
  ModcLib l;
  modc_model *m;
  if (modclib_load(lib, &l)) return -1;
  if (l.open(NULL, 2, &m)) return fprintf(stderr, "modc_open: %s\n", l.last_error()), -1;
  const modc_info *in = l.info(m);
  size_t maxbt = 1;
  for (int i = 0; i < in->n_shapes; i++)
    if ((size_t)in->shapes[i][0] * in->shapes[i][1] > maxbt)
      maxbt = (size_t)in->shapes[i][0] * in->shapes[i][1];
  size_t ntok = maxbt > (size_t)in->max_seq_len ? maxbt : (size_t)in->max_seq_len;
  float *logits = malloc(maxbt * in->vocab_size * sizeof *logits);
  int32_t *tok = malloc(ntok * sizeof *tok);
  u->buffers = (long long)(maxbt * in->vocab_size * sizeof *logits + ntok * sizeof *tok);
  modclib_tokens(tok, (int)ntok, in->vocab_size, 11);
  int rc = 0;
  for (int i = 0; !rc && i < in->n_shapes; i++)
    rc = l.forward(m, in->shapes[i][0], in->shapes[i][1], tok, logits);
  modc_session *s = NULL;
  int half = in->max_seq_len / 2;
  rc = rc || l.session_open(m, &s) || l.prefill(s, tok, half, logits);
  for (int i = 0; !rc && i < 4 && half + i < in->max_seq_len; i++)
    rc = l.decode(s, tok[half + i], logits);
  if (rc) fprintf(stderr, "run: %s\n", l.last_error());
  read_status(u);
  l.session_close(s);
  l.close(m);
  free(logits), free(tok);
  return rc ? -1 : 0;
}

/* Run exercise() in a child; its Usage comes back through a pipe, its ru_maxrss via wait4. */
static int measure(const char *lib, Usage *u, long long *maxrss) {
  int fds[2];
  if (pipe(fds)) return perror("pipe"), -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return perror("fork"), -1;
  if (pid == 0) {
    Usage c = {0};
    c.ok = exercise(lib, &c) == 0;
    ssize_t w = write(fds[1], &c, sizeof c);
    _exit(w == (ssize_t)sizeof c && c.ok ? 0 : 1);
  }
  close(fds[1]);
  memset(u, 0, sizeof *u);
  ssize_t got = read(fds[0], u, sizeof *u);
  close(fds[0]);
  int st;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) < 0) return perror("wait4"), -1;
  *maxrss = (long long)ru.ru_maxrss * 1024;
  if (got != (ssize_t)sizeof *u || !u->ok || !WIFEXITED(st) || WEXITSTATUS(st))
    return fprintf(stderr, "the measuring child failed\n"), -1;
  return 0;
}

static int check(const char *what, long long got, long long bound) {
  int ok = got <= bound;
  printf("%s %s: %.1f MiB <= %.1f MiB\n", ok ? "ok  " : "FAIL", what, got / MIB, bound / MIB);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc < 5)
    return fprintf(stderr, "usage: test_memory LIB.so WEIGHTS_FILE IR_FILE KV_DIM [SLACK_MIB]\n"), 2;
  long long kv_dim = atoll(argv[4]), slack = (long long)((argc > 5 ? atof(argv[5]) : 32) * MIB);
  long long fwd_arena, sess_arena, maxrss;
  struct stat st;
  if (stat(argv[2], &st)) return perror(argv[2]), 2;
  if (read_arenas(argv[3], &fwd_arena, &sess_arena)) return 2;
  Usage u;
  if (measure(argv[1], &u, &maxrss)) return 2;
  /* the model's shape, read back in this process only after the child has measured */
  ModcLib l;
  modc_model *m;
  if (modclib_load(argv[1], &l) || l.open(NULL, 1, &m)) return 2;
  const modc_info *in = l.info(m);
  long long rows = (long long)in->n_layers * in->max_seq_len;
  long long kv = rows * kv_dim * 4 * 2 + rows * (4 + 1);
  l.close(m);
  long long weights = (long long)st.st_size, arenas = fwd_arena + sess_arena;
  printf("weights %.1f MiB, arenas %.1f MiB (forward %.1f, session %.1f), kv %.1f MiB, "
         "test buffers %.1f MiB, slack %.1f MiB\n", weights / MIB, arenas / MIB,
         fwd_arena / MIB, sess_arena / MIB, kv / MIB, u.buffers / MIB, slack / MIB);
  printf("measured: peak RSS %.1f MiB (ru_maxrss %.1f MiB); at the end RSS %.1f MiB = "
         "anonymous %.1f + file %.1f\n", u.hwm / MIB, maxrss / MIB, u.rss / MIB,
         u.anon / MIB, u.file / MIB);
  int fails = 0;
  fails += check("peak RSS within weights + arenas + kv + buffers + slack", u.hwm,
                 weights + arenas + kv + u.buffers + slack);
  fails += check("ru_maxrss within the same bound", maxrss, weights + arenas + kv + u.buffers + slack);
  fails += check("anonymous RSS within arenas + kv + buffers + slack (no copy of the weights)",
                 u.anon, arenas + kv + u.buffers + slack);
  return fails != 0;
}
