/* fuzz_spec.c: libFuzzer harness of the spec loader (frontend/spec.c and what it uses:
 * ytree.c over libyaml, spec_field.c, spec_override.c), and of what the compiler does next
 * with a spec that loads: the summary, the weight layout, the graphs and the passes.
 *
 * Input: the YAML text, optionally followed by a NUL byte and "-D" overrides, one per line
 * ("routing.capacity=0.25\ncompile.shapes=[[1,8]]").  Invariants checked:
 *   - spec_load returns 0 or -1, never crashes, and on -1 leaves a non-empty message that
 *     starts with the file's name or "<command line>" (every error is located);
 *   - a spec that loads satisfies the ranges DESIGN section 3 promises, and its forward and
 *     session graphs build, pass every pass and verify after each (a valid spec can never
 *     make the compiler's middle end fail).
 */
#include <string.h>
#include "fuzz_common.h"
#include "frontend/graph.h"
#include "frontend/safetensors.h"
#include "frontend/spec.h"
#include "passes/passes.h"

#define MAX_DEFS 8

static FuzzFile spec_file;
static FILE *devnull;

/* Splits data at its first NUL into YAML and override lines (in defs_buf). */
static int split_input(const uint8_t *data, size_t size, size_t *yaml_len, char *defs_buf,
                       const char **defs) {
  const uint8_t *nul = memchr(data, 0, size);
  *yaml_len = nul ? (size_t)(nul - data) : size;
  if (!nul) return 0;
  size_t n = size - *yaml_len - 1;
  memcpy(defs_buf, nul + 1, n);
  defs_buf[n] = 0;
  int ndefs = 0;
  for (char *p = defs_buf; ndefs < MAX_DEFS;) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    defs[ndefs++] = p;
    if (!nl) break;
    p = nl + 1;
  }
  return ndefs;
}

static void check_ranges(const Spec *s) {
  FUZZ_CHECK(s->vocab_size >= 1 && s->d_model >= 1 && s->n_heads >= 1 && s->d_ff >= 1,
             "non-positive size in a loaded spec");
  FUZZ_CHECK(s->n_layers >= 1 && s->n_layers <= SPEC_MAX_LAYERS, "n_layers %d", s->n_layers);
  FUZZ_CHECK(s->d_model % s->n_heads == 0 && (s->d_model / s->n_heads) % 2 == 0,
             "heads %d do not split d_model %d", s->n_heads, s->d_model);
  FUZZ_CHECK(s->n_kv_heads >= 1 && s->n_heads % s->n_kv_heads == 0, "kv heads %d",
             s->n_kv_heads);
  FUZZ_CHECK(s->norm_eps > 0 && s->rope_theta > 0, "eps %g theta %g", s->norm_eps,
             s->rope_theta);
  FUZZ_CHECK(s->n_shapes >= 1 && s->n_shapes <= SPEC_MAX_SHAPES, "n_shapes %d", s->n_shapes);
  for (int i = 0; i < s->n_shapes; i++)
    FUZZ_CHECK(s->shapes[i][0] >= 1 && s->shapes[i][1] >= 1 &&
                   s->shapes[i][1] <= s->max_seq_len,
               "shape [%d, %d], max_seq_len %d", s->shapes[i][0], s->shapes[i][1],
               s->max_seq_len);
  for (int l = 0; l < s->n_layers; l++) {
    FUZZ_CHECK(s->capacity[l] > 0 && s->capacity[l] <= 1, "capacity[%d] = %g", l,
               s->capacity[l]);
    FUZZ_CHECK(s->routed[l] || s->capacity[l] == 1.0, "dense layer %d has capacity %g", l,
               s->capacity[l]);
    for (int i = 0; i < s->n_shapes; i++) {
      int T = s->shapes[i][1], k = spec_capacity_k(s->capacity[l], T);
      FUZZ_CHECK(k >= 1 && k <= T, "k = %d for T = %d", k, T);
    }
  }
  FUZZ_CHECK(s->name[0] >= 'a' && s->name[0] <= 'z', "name '%s'", s->name);
}

/* The middle end of `modc compile` on a valid spec: it must never fail. */
static void compile_graphs(const Spec *s) {
  char err[2048];
  WLayout w;
  FUZZ_CHECK(wlayout_build(s, NULL, &w) == 0, "wlayout_build failed");
  PassOptions po = {0, NULL, 1, NULL};
  /* the first shape's forward graph and the session graph (two shapes would double the
   * time per input for little new code) */
  Graph *g[2] = {build_forward(s, &w, s->shapes[0][1]), build_session(s, &w)};
  for (int i = 0; i < 2; i++) {
    FUZZ_CHECK(graph_verify(g[i], err, sizeof err) == 0, "built graph: %s", err);
    FUZZ_CHECK(passes_run(&g[i], &po, err, sizeof err) == 0, "passes: %s", err);
    FUZZ_CHECK(g[i]->arena_size >= 0, "arena %lld", (long long)g[i]->arena_size);
    graph_free(g[i]);
  }
  wlayout_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char defs_buf[1 << 20];
  const char *defs[MAX_DEFS];
  size_t yaml_len;
  if (size >= sizeof defs_buf) return 0;
  if (!devnull) devnull = fopen("/dev/null", "w");
  int ndefs = split_input(data, size, &yaml_len, defs_buf, defs);
  const char *path = fuzz_file_write(&spec_file, "spec.yaml", data, yaml_len);

  Spec s;
  char err[1024];
  err[0] = 0;
  int rc = spec_load(path, defs, ndefs, &s, err, sizeof err);
  FUZZ_CHECK(rc == 0 || rc == -1, "spec_load returned %d", rc);
  if (rc) {
    FUZZ_CHECK(memchr(err, 0, sizeof err) && err[0], "empty message");
    FUZZ_CHECK(!strncmp(err, path, strlen(path)) || !strncmp(err, "<command line>", 14),
               "unlocated message: %s", err);
    return 0;
  }
  check_ranges(&s);
  spec_print_summary(&s, devnull);
  compile_graphs(&s);
  return 0;
}
