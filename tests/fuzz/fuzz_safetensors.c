/* fuzz_safetensors.c: libFuzzer harness of the safetensors reader (frontend/safetensors.c:
 * the header length, the JSON header through ytree/libyaml, every tensor entry and the
 * table), of the check against a spec (safetensors_spec.c) and of the weight packer
 * (passes/weights.c), which reads every byte of every tensor the spec names.
 *
 * Input: the bytes of a safetensors file.  Two fixed specs are checked against it: the
 * diagnostics' model (tests/diag/w_*.yaml: vocab 16, d_model 8, 2 layers, layer 1 routed),
 * and the same with a router bias, the mlp predictor, tied embeddings and bf16 storage, so
 * that tests/diag/w_ok.safetensors passes the first and a file made by modc-randweights for
 * the second passes it.  Invariants checked:
 *   - st_open returns 0 or -1 with a message naming the file; nothing is mapped after -1;
 *   - an opened file's tensors lie inside the data, hold exactly shape x dtype bytes, and
 *     st_get_f32 reads their first and last element (NaN past the end);
 *   - a file that passes st_check_spec packs: wlayout_write succeeds.
 */
#include <math.h>
#include <string.h>
#include "fuzz_common.h"
#include "frontend/safetensors.h"
#include "frontend/spec.h"
#include "passes/passes.h"

static const char base_spec[] =
    "modc: 1\nname: diag\nweights: w.safetensors\n"
    "model: {vocab_size: 16, d_model: 8, n_layers: 2, n_heads: 2, d_ff: 16, max_seq_len: 64,\n"
    "        norm_eps: 1.0e-5, rope_theta: 10000.0}\n"
    "routing: {layers: every_other, capacity: 0.5, gate: raw}\n"
    "compile: {shapes: [[1, 32]]}\n";
static const char *const variant_defs[] = {
    "routing.router_bias=true", "routing.predictor=mlp", "routing.predictor_hidden=4",
    "model.tie_embeddings=true", "compile.weights_dtype=bf16"};

static Spec specs[2];
static FuzzFile in_file, out_file;

static void load_specs(void) {
  static int done;
  FuzzFile f = {0};
  char err[1024];
  if (done) return;
  const char *path = fuzz_file_write(&f, "spec.yaml", base_spec, strlen(base_spec));
  FUZZ_CHECK(!spec_load(path, NULL, 0, &specs[0], err, sizeof err), "%s", err);
  FUZZ_CHECK(!spec_load(path, variant_defs, 5, &specs[1], err, sizeof err), "%s", err);
  close(f.fd);
  done = 1;
}

static void check_tensors(const StFile *f) {
  for (int i = 0; i < f->n; i++) {
    const StTensor *t = &f->t[i];
    FUZZ_CHECK(t->rank >= 0 && t->rank <= ST_MAXRANK, "rank %d", t->rank);
    FUZZ_CHECK(t->begin <= t->end && t->data >= f->map && t->data + (t->end - t->begin) <= f->map + f->size,
               "tensor '%s' [%llu, %llu) outside the file", t->name,
               (unsigned long long)t->begin, (unsigned long long)t->end);
    uint64_t n = 1;
    for (int k = 0; k < t->rank; k++) n *= (uint64_t)t->shape[k];
    FUZZ_CHECK(n * (uint64_t)dtype_size(t->dtype) == t->end - t->begin, "tensor '%s' size",
               t->name);
    FUZZ_CHECK(st_find(f, t->name) != NULL, "st_find('%s')", t->name);
    if (n) {
      volatile float a = st_get_f32(t, 0), b = st_get_f32(t, (int64_t)n - 1);
      (void)a, (void)b;
    }
    FUZZ_CHECK(isnan(st_get_f32(t, (int64_t)n)) && isnan(st_get_f32(t, -1)),
               "st_get_f32 past the end of '%s'", t->name);
  }
}

static void check_against(const StFile *f, const Spec *s) {
  char err[2048];
  err[0] = 0;
  if (st_check_spec(f, s, err, sizeof err)) {
    FUZZ_CHECK(err[0], "st_check_spec failed without a message");
    return;
  }
  WLayout w;
  uint64_t hash;
  FUZZ_CHECK(!wlayout_build(s, NULL, &w), "wlayout_build");
  const char *out = fuzz_file_write(&out_file, "packed.weights", "", 0);
  FUZZ_CHECK(!wlayout_write(&w, f, out, &hash, err, sizeof err), "wlayout_write: %s", err);
  wlayout_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  load_specs();
  const char *path = fuzz_file_write(&in_file, "w.safetensors", data, size);
  StFile f;
  char err[2048];
  err[0] = 0;
  int rc = st_open(path, &f, err, sizeof err);
  FUZZ_CHECK(rc == 0 || rc == -1, "st_open returned %d", rc);
  if (rc) {
    FUZZ_CHECK(!strncmp(err, path, strlen(path)), "message does not name the file: %s", err);
    FUZZ_CHECK(!f.map && !f.t && !f.n, "st_open failed but left a mapping or table");
    return 0;
  }
  check_tensors(&f);
  check_against(&f, &specs[0]);
  check_against(&f, &specs[1]);
  st_close(&f);
  return 0;
}
