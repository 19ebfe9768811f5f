/* runner.c: the far side of test_cross (issue 11).  Cross-compiled for the target and run
 * under emulation (qemu-aarch64), it sees a compiled library only through the ABI, as any
 * user program on that machine would, and writes what the library computed for the jobs the
 * host test chose; the host compares with its double-precision interpreter.
 *
 *   runner LIB.so JOBS OUT
 *
 * JOBS (int32, little-endian): n_threads, n_jobs, then per job its kind and data:
 *   0 (modc_forward):  B, T, tokens[B*T]
 *   1 (a session):     n, n1, tokens[n]  (prefill n1 tokens, then decode the rest one by one)
 * OUT: per forward job float logits[B*T][vocab]; per session job float logits[n-n1+1][vocab]
 * (the prefill's last token, then each decode step) and uint8 taken[n_layers][n]
 * (modc_routing; zeros for layers it does not report).
 * Exit status: 0 done, 3 modc_open refused the library (its message on stderr, e.g. a CPU
 * without the library's features), 1 anything else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/modc_load.h"

static int fail(const char *what, const char *msg) {
  fprintf(stderr, "runner: %s: %s\n", what, msg ? msg : "");
  return 1;
}

static int read_i32(FILE *f, int32_t *v, size_t n) { return fread(v, sizeof *v, n, f) == n ? 0 : -1; }

static int forward_job(ModcLib *l, modc_model *m, const modc_info *in, FILE *jf, FILE *of) {
  int32_t bt[2];
  if (read_i32(jf, bt, 2) || bt[0] < 1 || bt[1] < 1 || bt[0] > 64 || bt[1] > 4096) return fail("jobs", "bad forward job");
  size_t nt = (size_t)bt[0] * bt[1];
  int32_t *tok = malloc(nt * sizeof *tok);
  float *out = malloc(nt * in->vocab_size * sizeof *out);
  int rc = !tok || !out || read_i32(jf, tok, nt) ? fail("jobs", "short forward job")
           : l->forward(m, bt[0], bt[1], tok, out) ? fail("modc_forward", l->last_error())
           : fwrite(out, sizeof *out, nt * in->vocab_size, of) != nt * in->vocab_size ? fail("write", "out") : 0;
  free(tok), free(out);
  return rc;
}

static int session_job(ModcLib *l, modc_model *m, const modc_info *in, FILE *jf, FILE *of) {
  int32_t nn[2];
  if (read_i32(jf, nn, 2) || nn[1] < 1 || nn[0] < nn[1] || nn[0] > in->max_seq_len) return fail("jobs", "bad session job");
  int n = nn[0], n1 = nn[1], V = in->vocab_size;
  int32_t *tok = malloc(n * sizeof *tok);
  float *out = malloc((size_t)(n - n1 + 1) * V * sizeof *out);
  uint8_t *taken = calloc((size_t)in->n_layers * n, 1);
  modc_session *s = NULL;
  int rc = !tok || !out || !taken || read_i32(jf, tok, n) ? fail("jobs", "short session job")
           : l->session_open(m, &s) ? fail("modc_session_open", l->last_error())
           : l->prefill(s, tok, n1, out) ? fail("modc_prefill", l->last_error()) : 0;
  for (int t = n1; !rc && t < n; t++)
    if (l->decode(s, tok[t], out + (size_t)(t - n1 + 1) * V)) rc = fail("modc_decode", l->last_error());
  for (int layer = 0; !rc && layer < in->n_layers; layer++)
    if (l->routing(s, layer, taken + (size_t)layer * n, n) != n) memset(taken + (size_t)layer * n, 0, n);
  if (!rc && (fwrite(out, sizeof *out, (size_t)(n - n1 + 1) * V, of) != (size_t)(n - n1 + 1) * V ||
              fwrite(taken, 1, (size_t)in->n_layers * n, of) != (size_t)in->n_layers * n))
    rc = fail("write", "out");
  if (s) l->session_close(s);
  free(tok), free(out), free(taken);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: runner LIB.so JOBS OUT\n"), 1;
  ModcLib l;
  char err[4200];
  if (modc_load(argv[1], &l, err, sizeof err)) return fail("load", err);
  FILE *jf = fopen(argv[2], "rb"), *of = fopen(argv[3], "wb");
  int32_t head[2];
  if (!jf || !of || read_i32(jf, head, 2)) return fail("files", argv[2]);
  modc_model *m;
  if (l.open(NULL, head[0], &m)) return fprintf(stderr, "%s\n", l.last_error()), 3;
  const modc_info *in = l.info(m);
  int rc = 0;
  for (int j = 0; !rc && j < head[1]; j++) {
    int32_t kind;
    rc = read_i32(jf, &kind, 1) ? fail("jobs", "short")
         : kind == 0 ? forward_job(&l, m, in, jf, of) : kind == 1 ? session_job(&l, m, in, jf, of)
         : fail("jobs", "unknown kind");
  }
  l.close(m);
  fclose(jf);
  if (fclose(of)) rc = fail("close", argv[3]);
  return rc;
}
