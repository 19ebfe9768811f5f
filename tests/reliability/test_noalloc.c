/* test_noalloc.c: nothing is allocated per call or per token (issue 3, item 4: one arena
 * sized at compile time per shape, KV caches sized at session open).
 *
 * The test program defines malloc, calloc, realloc, free, posix_memalign, aligned_alloc and
 * memalign itself (forwarding to glibc's __libc_* entry points) and is linked with
 * -rdynamic, so the library it dlopens, and the OpenMP runtime under it, allocate through
 * these counting wrappers.  After modc_open, modc_session_open and one warm-up call of each
 * kind (the OpenMP runtime sets up its thread pool on the first parallel region), it counts
 * the allocations made by ROUNDS modc_forward calls, a prefill, DECODES decode steps, a
 * session reset and another prefill, and requires zero.  Not built with sanitizers, whose
 * own malloc the wrappers would bypass.
 *
 * usage: test_noalloc LIB.so N_THREADS
 */
#include <stdatomic.h>
#include <stdlib.h>
#include "modclib.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_long allocs;
static atomic_int counting;

static void note(void) {
  if (atomic_load(&counting)) atomic_fetch_add(&allocs, 1);
}

void *malloc(size_t n) { return note(), __libc_malloc(n); }
void *calloc(size_t n, size_t m) { return note(), __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return note(), __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { return note(), __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { return note(), __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
  note();
  void *p = __libc_memalign(a, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}

#define ROUNDS 3
#define DECODES 16

static int check(const ModcLib *l, int rc, const char *what) {
  if (rc) fprintf(stderr, "%s failed: %s\n", what, l->last_error());
  return rc != 0;
}

/* one round of every call kind; returns the number of failed calls */
static int work(const ModcLib *l, modc_model *m, modc_session *s, const int32_t *tok, int T,
                float *out) {
  const modc_info *in = l->info(m);
  int bad = 0, P = T < 8 ? T : 8;
  bad += check(l, l->forward(m, in->shapes[0][0], T, tok, out), "modc_forward");
  bad += check(l, l->reset(s), "modc_session_reset");
  bad += check(l, l->prefill(s, tok, P, out), "modc_prefill");
  for (int i = 0; i < DECODES && P + i < in->max_seq_len; i++)
    bad += check(l, l->decode(s, tok[(P + i) % T], out), "modc_decode");
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: test_noalloc LIB.so N_THREADS\n"), 2;
  ModcLib l;
  modc_model *m;
  modc_session *s;
  if (modclib_load(argv[1], &l)) return 1;
  if (check(&l, l.open(NULL, atoi(argv[2]), &m), "modc_open")) return 1;
  if (check(&l, l.session_open(m, &s), "modc_session_open")) return 1;
  const modc_info *in = l.info(m);
  int B = in->shapes[0][0], T = in->shapes[0][1];
  int32_t *tok = __libc_malloc((size_t)B * T * sizeof *tok);
  float *out = __libc_malloc((size_t)B * T * in->vocab_size * sizeof *out);
  modclib_tokens(tok, B * T, in->vocab_size, 7);
  int bad = work(&l, m, s, tok, T, out); /* warm-up: the OpenMP pool starts here */
  atomic_store(&counting, 1);
  for (int r = 0; r < ROUNDS; r++) bad += work(&l, m, s, tok, T, out);
  atomic_store(&counting, 0);
  long n = atomic_load(&allocs);
  printf("test_noalloc: %d rounds of forward (%dx%d), prefill and %d decodes on %s threads: "
         "%ld allocations\n", ROUNDS, B, T, DECODES, argv[2], n);
  l.session_close(s);
  l.close(m);
  __libc_free(tok), __libc_free(out);
  return bad || n != 0;
}
