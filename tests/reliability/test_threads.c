/* test_threads.c: one model serving many threads at once (issue 4, item 4; DESIGN section 6:
 * "Sessions are independent; one model may serve several threads' sessions").
 *
 * The library is opened once.  Each of WORKERS threads runs its own job on its own session:
 * modc_forward on its own tokens, a prefill, decode steps with a second modc_forward in the
 * middle of them (forward calls take turns on the model's arena, so they overlap the other
 * threads' sessions), the routing trace of every layer (dense layers: the error code), and
 * finally a token out of range, whose modc_last_error message must name that thread's own
 * token (the message is thread-local).  Every job is first run alone on the main thread;
 * what each worker gets must be bit-identical (memcmp) to that.  The workers wait at a
 * barrier so that they start together, and repeat their job ROUNDS times on the same session
 * with modc_session_reset in between.
 *
 * usage: test_threads LIB.so MODEL_THREADS [WORKERS [ROUNDS]]
 *   MODEL_THREADS is modc_open's n_threads: how many threads each call's kernels may use
 *   (the model's pool for one call at a time, OpenMP for the others; serial instead of
 *   OpenMP under ThreadSanitizer, whose run also uses 2: reliability.cmake).
 */
#include <pthread.h>
#include <stdlib.h>
#include "modclib.h"

#define MAX_LAYERS 64
#define DECODES 12

typedef struct Result {
  float *logits;             /* [1 + DECODES][vocab] session, then 2 x [batch*seq_len][vocab] forward */
  uint8_t *route;            /* [n_layers][P + DECODES] */
  int route_rc[MAX_LAYERS];  /* modc_routing's return, per layer */
} Result;

typedef struct Job {
  const ModcLib *l;
  modc_model *m;
  const modc_info *info;
  int id, P, batch, seq_len, rounds;
  int32_t *tok;              /* [P + DECODES] session tokens */
  int32_t *ftok;             /* [batch*seq_len] forward tokens */
  Result ref, got;
  pthread_barrier_t *start;
  int failures;
  char msg[512];
} Job;

static size_t fwd_floats(const Job *j) {
  return (size_t)j->batch * j->seq_len * j->info->vocab_size;
}
static size_t all_floats(const Job *j) {
  return (size_t)(1 + DECODES) * j->info->vocab_size + 2 * fwd_floats(j);
}
static int n_tokens(const Job *j) { return j->P + DECODES; }

static int job_fail(Job *j, const char *what) {
  snprintf(j->msg, sizeof j->msg, "job %d: %s: %s", j->id, what, j->l->last_error());
  j->failures++;
  return -1;
}

/* The bad token is refused with this thread's own message, and changes nothing. */
static int check_bad_token(Job *j, modc_session *s, float *scratch) {
  int32_t bad = j->info->vocab_size + j->id;
  char want[64];
  snprintf(want, sizeof want, "token %d ", bad);
  if (j->l->decode(s, bad, scratch) != MODC_ERR_ARG) return job_fail(j, "bad token accepted");
  if (!strstr(j->l->last_error(), want)) return job_fail(j, "another thread's error message");
  return 0;
}

/* One job on session s into r; 0, or -1 with j->msg set. */
static int run_job(Job *j, modc_session *s, Result *r) {
  const ModcLib *l = j->l;
  int V = j->info->vocab_size, N = n_tokens(j);
  float *lg = r->logits, *fw = lg + (size_t)(1 + DECODES) * V;
  if (l->forward(j->m, j->batch, j->seq_len, j->ftok, fw)) return job_fail(j, "modc_forward");
  if (l->prefill(s, j->tok, j->P, lg)) return job_fail(j, "modc_prefill");
  for (int i = 0; i < DECODES; i++) {
    if (i == DECODES / 2 && l->forward(j->m, j->batch, j->seq_len, j->ftok, fw + fwd_floats(j)))
      return job_fail(j, "modc_forward (between decodes)");
    if (l->decode(s, j->tok[j->P + i], lg + (size_t)(1 + i) * V)) return job_fail(j, "modc_decode");
  }
  for (int layer = 0; layer < j->info->n_layers; layer++)
    r->route_rc[layer] = l->routing(s, layer, r->route + (size_t)layer * N, N);
  return check_bad_token(j, s, lg + (size_t)DECODES * V);   /* must stay untouched */
}

/* got == ref, bit for bit; else a message naming the first difference. */
static int compare(Job *j, int round) {
  int N = n_tokens(j);
  long at = modclib_first_diff(j->got.logits, j->ref.logits, all_floats(j));
  if (at >= 0) {
    snprintf(j->msg, sizeof j->msg, "job %d round %d: logits differ from the serial run at "
             "float %ld of %zu: %.9g vs %.9g", j->id, round, at, all_floats(j),
             j->got.logits[at], j->ref.logits[at]);
    return j->failures++, -1;
  }
  if (memcmp(j->got.route, j->ref.route, (size_t)j->info->n_layers * N) ||
      memcmp(j->got.route_rc, j->ref.route_rc, sizeof j->ref.route_rc)) {
    snprintf(j->msg, sizeof j->msg, "job %d round %d: routing traces differ", j->id, round);
    return j->failures++, -1;
  }
  return 0;
}

static void *worker(void *arg) {
  Job *j = arg;
  modc_session *s = NULL;
  int rc = j->l->session_open(j->m, &s);
  pthread_barrier_wait(j->start);
  if (rc) return job_fail(j, "modc_session_open"), NULL;
  for (int r = 0; r < j->rounds; r++) {
    if (r && j->l->reset(s)) {
      job_fail(j, "modc_session_reset");
      break;
    }
    memset(j->got.logits, 0xff, all_floats(j) * sizeof(float));
    if (run_job(j, s, &j->got) || compare(j, r)) break;
  }
  j->l->session_close(s);
  return NULL;
}

static int result_alloc(Job *j, Result *r) {
  r->logits = calloc(all_floats(j), sizeof(float));
  r->route = calloc((size_t)j->info->n_layers * n_tokens(j), 1);
  return r->logits && r->route ? 0 : -1;
}

/* Job id: its tokens, its shape, its buffers, and its reference run on this thread. */
static int job_init(Job *j, const ModcLib *l, modc_model *m, int id, int rounds) {
  j->l = l, j->m = m, j->info = l->info(m), j->id = id, j->rounds = rounds;
  const modc_info *in = j->info;
  int room = in->max_seq_len - DECODES;
  if (room < 1 || in->n_layers > MAX_LAYERS || in->n_shapes < 1)
    return fprintf(stderr, "model too small for this test (max_seq_len %d)\n", in->max_seq_len), -1;
  j->P = 1 + (2 + 5 * id) % room;
  j->batch = in->shapes[id % in->n_shapes][0];
  j->seq_len = in->shapes[id % in->n_shapes][1];
  j->tok = malloc(n_tokens(j) * sizeof *j->tok);
  j->ftok = malloc((size_t)j->batch * j->seq_len * sizeof *j->ftok);
  if (!j->tok || !j->ftok || result_alloc(j, &j->ref) || result_alloc(j, &j->got))
    return fprintf(stderr, "out of memory\n"), -1;
  modclib_tokens(j->tok, n_tokens(j), in->vocab_size, 1000 + id);
  modclib_tokens(j->ftok, j->batch * j->seq_len, in->vocab_size, 2000 + id);
  modc_session *s;
  if (l->session_open(m, &s)) return job_fail(j, "modc_session_open"), -1;
  int rc = run_job(j, s, &j->ref);
  l->session_close(s);
  if (rc) fprintf(stderr, "serial run: %s\n", j->msg);
  return rc;
}

static void job_free(Job *j) {
  free(j->tok), free(j->ftok);
  free(j->ref.logits), free(j->ref.route), free(j->got.logits), free(j->got.route);
}

/* Start every worker together, wait for all; the number of failed jobs. */
static int run_workers(Job *jobs, int n) {
  pthread_t *t = calloc(n, sizeof *t);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)n);
  int failed = 0;
  for (int i = 0; i < n; i++) {
    jobs[i].start = &start;
    if (pthread_create(&t[i], NULL, worker, &jobs[i])) {
      fprintf(stderr, "pthread_create failed\n");
      exit(2);   /* the others would wait at the barrier forever */
    }
  }
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < n; i++)
    if (jobs[i].failures) failed++, printf("FAIL %s\n", jobs[i].msg);
  pthread_barrier_destroy(&start);
  free(t);
  return failed;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return fprintf(stderr, "usage: test_threads LIB.so MODEL_THREADS [WORKERS [ROUNDS]]\n"), 2;
  int nt = atoi(argv[2]), workers = argc > 3 ? atoi(argv[3]) : 8;
  int rounds = argc > 4 ? atoi(argv[4]) : 2;
  ModcLib l;
  modc_model *m;
  if (workers < 1 || rounds < 1 || modclib_load(argv[1], &l)) return 2;
  if (l.open(NULL, nt, &m)) return fprintf(stderr, "modc_open: %s\n", l.last_error()), 2;
  Job *jobs = calloc(workers, sizeof *jobs);
  int rc = 0;
  for (int i = 0; i < workers && !rc; i++) rc = job_init(&jobs[i], &l, m, i, rounds);
  int failed = rc ? workers : run_workers(jobs, workers);
  printf("%d threads x %d rounds on one model (n_threads %d): %d jobs match the serial "
         "run, %d differ\n", workers, rounds, nt, workers - failed, failed);
  for (int i = 0; i < workers; i++) job_free(&jobs[i]);
  free(jobs);
  l.close(m);
  return failed != 0;
}
