/* test_trained.c: a trained model with BF16 weights against independent float64 outputs
 * from PyTorch (examples/trained/REFERENCE.md says how they were made).
 *
 * usage: test_trained LIB.so REFDIR [WEIGHTS_DTYPE]
 * Checks modc_forward at (1,256) and (2,64) (top-k routing), and a session that prefills
 * 100 tokens then decodes the remaining 156 one by one (causal routing): the logits of every
 * step, and modc_routing against the reference decisions.  The reference prompts were chosen
 * with routing margins of at least 0.19, far from any near-tie.  With bf16 packing the
 * weights are the same numbers (they are BF16 in the file), so the tolerance is the same. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/modc.h"

#define TOL 1e-4
#define V 256
static int fails, checks;

static void *load(const char *dir, const char *name, size_t bytes) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  void *p = malloc(bytes);
  if (!f || fread(p, 1, bytes, f) != bytes) {
    fprintf(stderr, "cannot read %zu bytes of %s\n", bytes, path);
    exit(2);
  }
  fclose(f);
  return p;
}

static void expect_close(const char *what, const float *got, const float *want, size_t n) {
  double num = 0, den = 1e-30;
  for (size_t i = 0; i < n; i++) num = fmax(num, fabs(got[i] - want[i])), den = fmax(den, fabs(want[i]));
  checks++;
  if (num / den < TOL) return;
  fails++;
  printf("FAIL %s: relative error %.3g\n", what, num / den);
}

#define SYM(h, n) dlsym(h, n)

int main(int argc, char **argv) {
  if (argc < 3) return fprintf(stderr, "usage: test_trained LIB.so REFDIR\n"), 2;
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) return fprintf(stderr, "%s\n", dlerror()), 2;
  int (*mopen)(const char *, int, modc_model **) = SYM(h, "modc_open");
  int (*fwd)(modc_model *, int, int, const int32_t *, float *) = SYM(h, "modc_forward");
  int (*sopen)(modc_model *, modc_session **) = SYM(h, "modc_session_open");
  int (*prefill)(modc_session *, const int32_t *, int, float *) = SYM(h, "modc_prefill");
  int (*decode)(modc_session *, int32_t, float *) = SYM(h, "modc_decode");
  int (*routing)(const modc_session *, int, uint8_t *, int) = SYM(h, "modc_routing");
  const char *(*lasterr)(void) = SYM(h, "modc_last_error");
  modc_model *m;
  if (mopen(NULL, 2, &m)) return fprintf(stderr, "modc_open: %s\n", lasterr()), 2;
  const char *d = argv[2];
  int32_t *tok = load(d, "ref_tokens.bin", 256 * 4), *tok2 = load(d, "ref_b2t64_tokens.bin", 128 * 4);
  float *fw = load(d, "ref_forward_logits.bin", 256 * V * 4), *cw = load(d, "ref_causal_logits.bin", 256 * V * 4);
  float *fw2 = load(d, "ref_b2t64_forward_logits.bin", 128 * V * 4);
  uint8_t *taken = load(d, "ref_causal_taken.bin", 3 * 256);
  float *got = malloc(256 * V * 4);

  if (fwd(m, 1, 256, tok, got)) return fprintf(stderr, "forward: %s\n", lasterr()), 1;
  expect_close("modc_forward (1,256)", got, fw, 256 * V);
  if (fwd(m, 2, 64, tok2, got)) return fprintf(stderr, "forward: %s\n", lasterr()), 1;
  expect_close("modc_forward (2,64)", got, fw2, 128 * V);

  modc_session *s;
  if (sopen(m, &s) || prefill(s, tok, 100, got + 99 * V)) return fprintf(stderr, "prefill: %s\n", lasterr()), 1;
  for (int t = 100; t < 256; t++)
    if (decode(s, tok[t], got + t * V)) return fprintf(stderr, "decode: %s\n", lasterr()), 1;
  char what[64];
  for (int t = 99; t < 256; t++) {
    snprintf(what, sizeof what, "session logits at position %d", t);
    expect_close(what, got + t * V, cw + t * V, V);
  }
  static const int routed[3] = {1, 3, 5};
  uint8_t tr[256];
  for (int j = 0; j < 3; j++) {
    checks++;
    int n = routing(s, routed[j], tr, 256);
    if (n != 256 || memcmp(tr, taken + j * 256, 256)) {
      fails++;
      printf("FAIL routing of layer %d (wrote %d)\n", routed[j], n);
    }
  }
  printf("%d passed, %d failed\n", checks - fails, fails);
  void (*sclose)(modc_session *) = SYM(h, "modc_session_close");
  void (*mclose)(modc_model *) = SYM(h, "modc_close");
  sclose(s);
  mclose(m);
  free(tok), free(tok2), free(fw), free(cw), free(fw2), free(taken), free(got);
  return fails != 0;
}
