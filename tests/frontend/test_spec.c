/* test_spec: unit tests of spec_load, the -D overrides and spec_capacity_k.
 *
 *   test_spec DIR      (DIR is tests/frontend, which holds tiny.yaml)
 *
 * Small specs are written to a scratch directory; each check is ASSERT(expected, actual)
 * in the chibicc manner, and a failure prints the line and both values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/spec.h"

static int fails;
static char dir[256], err[2048];

#define ASSERT(want, got)                                                                  \
  do {                                                                                     \
    long long w_ = (want), g_ = (got);                                                     \
    if (w_ != g_) fails++, printf("%s:%d: expected %lld, got %lld (%s) [%s]\n", __FILE__, \
                                  __LINE__, w_, g_, #got, err);                            \
  } while (0)
#define ASSERT_STR(want, got)                                                              \
  do {                                                                                     \
    if (strcmp((want), (got)))                                                             \
      fails++, printf("%s:%d: expected '%s', got '%s'\n", __FILE__, __LINE__, (want), (got)); \
  } while (0)
#define ASSERT_PREFIX(want, got) ASSERT(0, strncmp((want), (got), strlen(want)))

static const char *MINIMAL =
    "modc: 1\nname: mini\nweights: /abs/w.safetensors\nmodel:\n  vocab_size: 32\n"
    "  d_model: 16\n  n_layers: 4\n  n_heads: 4\n  d_ff: 48\n  max_seq_len: 100\n"
    "  norm_eps: 1e-6\n  rope_theta: 500000\n";

static const char *write_spec(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return path;
}

static int load(const char *text, const char *const *defs, int ndefs, Spec *s) {
  err[0] = 0;
  return spec_load(write_spec("t.yaml", text), defs, ndefs, s, err, sizeof err);
}

static void test_design_spec(const char *srcdir) {
  char path[512], want[600];
  Spec s;
  snprintf(path, sizeof path, "%s/tiny.yaml", srcdir);
  ASSERT(0, spec_load(path, NULL, 0, &s, err, sizeof err));
  ASSERT_STR("tiny_mod", s.name);
  snprintf(want, sizeof want, "%s/tiny_mod.safetensors", srcdir);
  ASSERT_STR(want, s.weights_path);
  ASSERT(256, s.vocab_size);
  ASSERT(256, s.d_model);
  ASSERT(8, s.n_layers);
  ASSERT(4, s.n_heads);
  ASSERT(4, s.n_kv_heads);
  ASSERT(768, s.d_ff);
  ASSERT(1024, s.max_seq_len);
  ASSERT(1, s.norm_eps == 1.0e-5);
  ASSERT(1, s.rope_theta == 10000.0);
  ASSERT(0, s.tie_embeddings);
  for (int l = 0; l < 8; l++) ASSERT(l % 2, s.routed[l]);
  ASSERT(1, s.capacity[0] == 1.0);
  ASSERT(1, s.capacity[1] == 0.125);
  ASSERT(1, s.capacity[3] == 0.25);
  ASSERT(1, s.capacity[5] == 0.125);
  ASSERT(GATE_RAW, s.gate);
  ASSERT(PRED_ROUTER, s.predictor);
  ASSERT(64, s.predictor_hidden);
  ASSERT(1, s.n_shapes);
  ASSERT(1, s.shapes[0][0]);
  ASSERT(512, s.shapes[0][1]);
  ASSERT_STR("host", s.target);
  ASSERT_STR("native", s.cpu);
  ASSERT(DT_F32, s.weights_dtype);
  ASSERT(0, s.threads);
  ASSERT(64, spec_head_dim(&s));
}

static void test_defaults(void) {
  Spec s;
  ASSERT(0, load(MINIMAL, NULL, 0, &s));
  ASSERT_STR("/abs/w.safetensors", s.weights_path);
  ASSERT(4, s.n_kv_heads);
  ASSERT(0, s.tie_embeddings);
  for (int l = 0; l < 4; l++) {
    ASSERT(0, s.routed[l]);
    ASSERT(1, s.capacity[l] == 1.0);
  }
  ASSERT(1, s.n_shapes);
  ASSERT(1, s.shapes[0][0]);
  ASSERT(100, s.shapes[0][1]); /* min(512, max_seq_len) */
  ASSERT_STR("host", s.target);
  ASSERT_STR("native", s.cpu);
  ASSERT(DT_F32, s.weights_dtype);
  ASSERT(64, s.predictor_hidden);
  ASSERT(PRED_ROUTER, s.predictor);
  ASSERT(1, s.norm_eps == 1e-6);
}

static void test_overrides(void) {
  Spec s;
  const char *d1[] = {"routing.layers=[1,2]", "routing.capacity=0.25", "routing.gate=sigmoid",
                      "routing.per_layer.2.capacity=1.0", "compile.weights_dtype=bf16",
                      "model.n_layers=3", "compile.shapes=[[2, 64], [1, 100]]",
                      "model.tie_embeddings=true", "routing.predictor=mlp", "name=other"};
  ASSERT(0, load(MINIMAL, d1, 10, &s));
  ASSERT(3, s.n_layers);
  ASSERT(0, s.routed[0]);
  ASSERT(1, s.routed[1]);
  ASSERT(1, s.routed[2]);
  ASSERT(1, s.capacity[1] == 0.25);
  ASSERT(1, s.capacity[2] == 1.0);
  ASSERT(GATE_SIGMOID, s.gate);
  ASSERT(PRED_MLP, s.predictor);
  ASSERT(DT_BF16, s.weights_dtype);
  ASSERT(2, s.n_shapes);
  ASSERT(2, s.shapes[0][0]);
  ASSERT(100, s.shapes[1][1]);
  ASSERT(1, s.tie_embeddings);
  ASSERT_STR("other", s.name);
  /* later overrides win; a sequence element by index */
  const char *d2[] = {"compile.shapes=[[1,8],[1,16]]", "compile.shapes.1=[4,32]",
                      "compile.shapes.0.1=9", "model.d_model=32", "model.d_model=64"};
  ASSERT(0, load(MINIMAL, d2, 5, &s));
  ASSERT(9, s.shapes[0][1]);
  ASSERT(4, s.shapes[1][0]);
  ASSERT(64, s.d_model);
}

static void test_override_errors(void) {
  Spec s;
  const char *d1[] = {"routing.capcity=1"};
  ASSERT(-1, load(MINIMAL, d1, 1, &s));
  ASSERT_STR("<command line>: error: -D routing.capcity=1: unknown key 'capcity' in 'routing' "
             "(did you mean 'capacity'?)", err);
  const char *d2[] = {"model.n_heads=5"};
  ASSERT(-1, load(MINIMAL, d2, 1, &s));
  ASSERT_STR("<command line>: error: -D model.n_heads=5: n_heads (5) does not divide d_model "
             "(16)", err);
  const char *d3[] = {"=1"}, *d4[] = {"a..b=1"}, *d5[] = {"compile.shapes.7=[1,1]"};
  ASSERT(-1, load(MINIMAL, d3, 1, &s));
  ASSERT_PREFIX("<command line>: error: -D =1: expected key.path=value", err);
  ASSERT(-1, load(MINIMAL, d4, 1, &s));
  ASSERT_PREFIX("<command line>: error: -D a..b=1: malformed key path", err);
  const char *d6[] = {"compile.shapes=[[1,8]]", d5[0]};
  ASSERT(-1, load(MINIMAL, d6, 2, &s));
  ASSERT_PREFIX("<command line>: error: -D compile.shapes.7=[1,1]: 'compile.shapes' is a "
                "sequence of 1", err);
}

/* an alias is its own node: errors point at it, and overriding through it is safe */
static void test_aliases(void) {
  Spec s;
  char text[1024];
  snprintf(text, sizeof text, "%scompile:\n  shapes: &sh [[1, 8]]\nrouting:\n  layers: none\n"
           "  per_layer: *sh\n", MINIMAL);
  ASSERT(-1, load(text, NULL, 0, &s));
  ASSERT_STR("", strstr(err, "t.yaml:17:14: error: expected a mapping for 'per_layer', got a "
                        "sequence of 1 element") ? "" : err);
  snprintf(text, sizeof text, "%srouting:\n  layers: &ls [1]\n  capacity: 0.5\n  gate: raw\n"
           "compile:\n  shapes: [[1, 8], [1, 16]]\n", MINIMAL);
  const char *d[] = {"routing.layers.0=3"};
  ASSERT(0, load(text, d, 1, &s));
  ASSERT(1, s.routed[3]);
}

/* causal thresholds: the routing default, per-layer overrides, -D, and bad values */
static void test_thresholds(void) {
  Spec s;
  const char *d1[] = {"routing.layers=[1,2,3]", "routing.capacity=0.5", "routing.gate=raw",
                      "routing.threshold=-0.25", "routing.per_layer.2.threshold=1.5",
                      "routing.per_layer.3.capacity=0.25"};
  ASSERT(0, load(MINIMAL, d1, 6, &s));
  ASSERT(1, s.threshold[0] == 0.0);
  ASSERT(1, s.threshold[1] == -0.25);
  ASSERT(1, s.threshold[2] == 1.5);
  ASSERT(1, s.capacity[2] == 0.5);
  ASSERT(1, s.threshold[3] == -0.25);
  ASSERT(1, s.capacity[3] == 0.25);
  const char *d2[] = {"routing.layers=[1]", "routing.capacity=0.5", "routing.gate=raw",
                      "routing.threshold=.nan"};
  ASSERT(-1, load(MINIMAL, d2, 4, &s));
  ASSERT_STR("<command line>: error: -D routing.threshold=.nan: 'threshold' must be a finite "
             "number, got '.nan'", err);
  const char *d3[] = {"routing.layers=[1]", "routing.capacity=0.5", "routing.gate=raw",
                      "routing.per_layer.1.threshold=high"};
  ASSERT(-1, load(MINIMAL, d3, 4, &s));
  ASSERT_PREFIX("<command line>: error: -D routing.per_layer.1.threshold=high: expected a number "
                "for 'threshold'", err);
  const char *d5[] = {"routing.layers=[1,2]", "routing.capacity=0.5", "routing.gate=raw",
                      "routing.per_layer.2.dense=true", "routing.per_layer.1.dense=false"};
  ASSERT(0, load(MINIMAL, d5, 5, &s));
  ASSERT(1, s.routed[1] && !s.made_dense[1] && s.capacity[1] == 0.5);
  ASSERT(1, !s.routed[2] && s.made_dense[2] && s.capacity[2] == 1.0);
  const char *d6[] = {"routing.layers=[1]", "routing.capacity=0.5", "routing.gate=raw",
                      "routing.per_layer.1={dense: true, threshold: 1}"};
  ASSERT(-1, load(MINIMAL, d6, 4, &s));
  ASSERT_STR("<command line>: error: -D routing.per_layer.1={dense: true, threshold: 1}: "
             "'routing.per_layer.1' has dense: true, which takes no threshold", err);
  const char *d4[] = {"routing.layers=[1]", "routing.capacity=0.5", "routing.gate=raw",
                      "routing.per_layer.1={}"};
  ASSERT(-1, load(MINIMAL, d4, 4, &s));
  ASSERT_PREFIX("<command line>: error: -D routing.per_layer.1={}: 'routing.per_layer.1' sets "
                "nothing", err);
  /* routing.forward: how modc_forward routes, topk unless set */
  ASSERT(0, load(MINIMAL, d5, 5, &s));
  ASSERT(FWD_TOPK, s.forward);
  const char *d7[] = {"routing.layers=[1]", "routing.capacity=0.5", "routing.gate=raw", "routing.forward=threshold"};
  ASSERT(0, load(MINIMAL, d7, 4, &s));
  ASSERT(FWD_THRESHOLD, s.forward);
}

/* spec_write: every field comes back from spec_load as written */
static void test_write_roundtrip(const char *srcdir) {
  char path[512];
  Spec s, t;
  snprintf(path, sizeof path, "%s/tiny.yaml", srcdir);
  ASSERT(0, spec_load(path, NULL, 0, &s, err, sizeof err));
  s.threshold[3] = 0.1, s.threshold[1] = -1.0 / 3, s.routed[5] = 0, s.capacity[5] = 1.0;
  s.routed[7] = 0, s.capacity[7] = 1.0, s.made_dense[7] = 1;
  s.norm_eps = 1e-6 / 3, s.gate = GATE_SIGMOID, s.predictor = PRED_MLP, s.threads = 3, s.forward = FWD_THRESHOLD;
  memset(s.cpu, 0, sizeof s.cpu);
  snprintf(s.cpu, sizeof s.cpu, "znver4");
  FILE *f = tmpfile();
  ASSERT(0, spec_write(&s, "/abs/we \"ird\".safetensors", "a comment", f));
  rewind(f);
  char text[4096];
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = 0;
  fclose(f);
  ASSERT(0, load(text, NULL, 0, &t));
  ASSERT_STR("/abs/we \"ird\".safetensors", t.weights_path);
  memcpy(s.weights_path, t.weights_path, sizeof s.weights_path); /* strings past their NUL too */
  memcpy(s.path, t.path, sizeof s.path);
  ASSERT(0, memcmp(&s, &t, sizeof s));
}

static void test_capacity_k(void) {
  ASSERT(64, spec_capacity_k(0.125, 512));
  ASSERT(512, spec_capacity_k(1.0, 512));
  ASSERT(1, spec_capacity_k(1e-6, 512));
  ASSERT(1, spec_capacity_k(0.125, 1));
  ASSERT(1, spec_capacity_k(0.125, 8));
  ASSERT(2, spec_capacity_k(0.125, 9));
  ASSERT(2, spec_capacity_k(0.5, 3));
  ASSERT(1, spec_capacity_k(0.1, 10));  /* 0.1*10 is 1.0000000000000002 */
  ASSERT(3, spec_capacity_k(0.3, 10));  /* 3.0000000000000004 */
  ASSERT(7, spec_capacity_k(0.7, 10));  /* 7.000000000000001 */
  ASSERT(128, spec_capacity_k(0.25, 512));
  ASSERT(0, spec_capacity_k(0.5, 0));
}

static void test_errors(void) {
  Spec s;
  char text[1024];
  ASSERT(-1, load("", NULL, 0, &s));
  ASSERT_PREFIX(dir, err);
  snprintf(text, sizeof text, "%s", MINIMAL);
  memcpy(strstr(text, "n_heads: 4"), "n_heads: 5", 10);
  ASSERT(-1, load(text, NULL, 0, &s));
  ASSERT(1, strstr(err, "t.yaml:8:12: error: n_heads (5) does not divide d_model (16)") != NULL);
  ASSERT(-1, spec_load("/nonexistent/x.yaml", NULL, 0, &s, err, sizeof err));
  ASSERT_STR("/nonexistent/x.yaml: error: cannot open spec: No such file or directory", err);
  /* deep nesting and a small error buffer are both fine */
  char deep[5000] = "a: ";
  memset(deep + 3, '[', 4000);
  ASSERT(-1, load(deep, NULL, 0, &s));
  char small[8];
  ASSERT(-1, spec_load(write_spec("u.yaml", "x"), NULL, 0, &s, small, sizeof small));
  ASSERT(7, (int)strlen(small));
}

int main(int argc, char **argv) {
  if (argc != 2) return fprintf(stderr, "usage: test_spec DIR\n"), 2;
  snprintf(dir, sizeof dir, "/tmp/modc_test_spec_XXXXXX");
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  test_design_spec(argv[1]);
  test_defaults();
  test_overrides();
  test_override_errors();
  test_aliases();
  test_capacity_k();
  test_thresholds();
  test_write_roundtrip(argv[1]);
  test_errors();
  unlink(write_spec("t.yaml", "")), unlink(write_spec("u.yaml", "")), rmdir(dir);
  printf("test_spec: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
