/* import_hf.c: modc import-hf DIR -o spec.yaml (DESIGN section 7).
 *
 * Reads a Hugging Face Llama checkpoint folder as it is: config.json (LlamaForCausalLM) and
 * model.safetensors or model.safetensors.index.json (shards, read in place).  Writes a spec
 * with routing: none whose weights point into DIR, after checking that the spec loads and
 * the checkpoint holds exactly its tensors; nothing is written otherwise.  Every config key
 * that changes what the model computes and that DESIGN section 4 does not express (biases,
 * rope scaling, sliding windows, another activation or head size) is refused by name; keys
 * that change nothing here (token ids, dtype, generation settings) are ignored.
 */
#include "tools/import_hf.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "frontend/safetensors.h"
#include "frontend/spec.h"
#include "tools/cli.h"

#define MAX_SEQ_CAP 4096          /* sessions allocate their KV cache for max_seq_len */

static const char usage_import[] =
  "usage: modc import-hf DIR -o SPEC.yaml [--name NAME] [--max-seq-len N]\n"
  "\n"
  "Writes a spec for the Hugging Face Llama checkpoint in DIR (config.json with\n"
  "LlamaForCausalLM, and model.safetensors or model.safetensors.index.json with its shards):\n"
  "routing: none, weights pointing into DIR (absolute path), compile.weights_dtype bf16 when\n"
  "the checkpoint is bfloat16.  The checkpoint is checked against the spec before it is\n"
  "written.  Refused: other architectures, attention or mlp biases, rope_scaling or\n"
  "rope_parameters other than default RoPE (transformers 5 writes theta there), sliding\n"
  "windows, an activation other than silu, a head_dim other than hidden_size / heads.\n"
  "  -o PATH             the spec to write\n"
  "  --name NAME         the model's name (default: DIR's name, as [a-z][a-z0-9_]*)\n"
  "  --max-seq-len N     longest session (default min(max_position_embeddings, 4096))\n";

typedef struct Import {
  const char *dir, *out, *name;
  int max_seq;
  char config[PATH_MAX], weights[PATH_MAX];
  json_t *cfg;
  Spec s;
} Import;

/* ---- config.json ---- */

static int cfg_int(Import *im, const char *key, int required, long long lo, long long hi, int *out) {
  json_t *v = json_object_get(im->cfg, key);
  if (!v || json_is_null(v)) return required ? cli_fail("%s: no \"%s\"", im->config, key) : 0;
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return cli_fail("%s: \"%s\" must be an integer in [%lld, %lld]", im->config, key, lo, hi);
  *out = (int)json_integer_value(v);
  return 0;
}

static int cfg_num(Import *im, const char *key, int required, double *out) {
  json_t *v = json_object_get(im->cfg, key);
  if (!v || json_is_null(v)) return required ? cli_fail("%s: no \"%s\"", im->config, key) : 0;
  if (!json_is_number(v) || !(json_number_value(v) > 0))
    return cli_fail("%s: \"%s\" must be a positive number", im->config, key);
  *out = json_number_value(v);
  return 0;
}

/* keys whose presence (non-null, non-false) means a computation modc does not implement */
static int refuse_unsupported(Import *im) {
  static const struct { const char *key, *why; } no[] = {
    {"rope_scaling", "rope scaling (DESIGN section 4 has plain RoPE)"},
    {"attention_bias", "biases in the attention projections"},
    {"mlp_bias", "biases in the MLP projections"},
    {"sliding_window", "sliding-window attention"},
    {"use_sliding_window", "sliding-window attention"},
  };
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
    json_t *v = json_object_get(im->cfg, no[i].key);
    if (v && !json_is_null(v) && !json_is_false(v) && !(json_is_integer(v) && json_integer_value(v) == 0))
      return cli_fail("%s: \"%s\" is set: %s is not supported", im->config, no[i].key, no[i].why);
  }
  json_t *act = json_object_get(im->cfg, "hidden_act");
  if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu")))
    return cli_fail("%s: \"hidden_act\" is %s: only silu is supported", im->config,
                    json_is_string(act) ? json_string_value(act) : "not a string");
  return 0;
}

static int check_architecture(Import *im) {
  json_t *a = json_object_get(im->cfg, "architectures");
  const char *arch = json_is_array(a) && json_array_size(a) == 1 ? json_string_value(json_array_get(a, 0)) : NULL;
  if (!arch) return cli_fail("%s: \"architectures\" must name one architecture (LlamaForCausalLM)", im->config);
  if (strcmp(arch, "LlamaForCausalLM"))
    return cli_fail("%s: architecture %s is not supported (only LlamaForCausalLM)", im->config, arch);
  return 0;
}

/* transformers 5 writes RoPE's settings as "rope_parameters": {"rope_type": "default",
 * "rope_theta": ...} (earlier versions: a top-level "rope_theta" and "rope_scaling").  Only
 * plain RoPE is accepted; its theta wins over a top-level one. */
static int read_rope_parameters(Import *im) {
  json_t *rp = json_object_get(im->cfg, "rope_parameters");
  if (!rp || json_is_null(rp)) return 0;
  if (!json_is_object(rp)) return cli_fail("%s: \"rope_parameters\" must be an object", im->config);
  const char *key;
  json_t *v;
  json_object_foreach(rp, key, v) {
    if (!strcmp(key, "rope_type")) {
      if (!json_is_string(v) || strcmp(json_string_value(v), "default"))
        return cli_fail("%s: \"rope_parameters.rope_type\" is %s: only default RoPE is supported (DESIGN section 4)",
                        im->config, json_is_string(v) ? json_string_value(v) : "not a string");
    } else if (!strcmp(key, "rope_theta")) {
      if (!json_is_number(v) || !(json_number_value(v) > 0))
        return cli_fail("%s: \"rope_parameters.rope_theta\" must be a positive number", im->config);
      im->s.rope_theta = json_number_value(v);
    } else {
      return cli_fail("%s: \"rope_parameters.%s\" is set: only default RoPE with rope_theta is supported", im->config,
                      key);
    }
  }
  return 0;
}

static int read_dims(Import *im) {
  Spec *s = &im->s;
  int mpe = 2048, head_dim = 0;
  s->rope_theta = 10000.0;
  if (cfg_int(im, "vocab_size", 1, 1, INT_MAX, &s->vocab_size) || cfg_int(im, "hidden_size", 1, 1, INT_MAX, &s->d_model) ||
      cfg_int(im, "num_hidden_layers", 1, 1, SPEC_MAX_LAYERS, &s->n_layers) ||
      cfg_int(im, "num_attention_heads", 1, 1, INT_MAX, &s->n_heads) ||
      cfg_int(im, "intermediate_size", 1, 1, INT_MAX, &s->d_ff) ||
      cfg_int(im, "max_position_embeddings", 0, 1, INT_MAX, &mpe) || cfg_num(im, "rms_norm_eps", 1, &s->norm_eps) ||
      cfg_num(im, "rope_theta", 0, &s->rope_theta) || read_rope_parameters(im) ||
      cfg_int(im, "head_dim", 0, 1, INT_MAX, &head_dim))
    return 1;
  s->n_kv_heads = s->n_heads;
  if (cfg_int(im, "num_key_value_heads", 0, 1, INT_MAX, &s->n_kv_heads)) return 1;
  if (head_dim && head_dim * s->n_heads != s->d_model)
    return cli_fail("%s: \"head_dim\" %d is not hidden_size / num_attention_heads (%d): not supported", im->config,
                    head_dim, s->d_model / s->n_heads);
  json_t *tie = json_object_get(im->cfg, "tie_word_embeddings");
  s->tie_embeddings = json_is_true(tie);
  s->max_seq_len = im->max_seq ? im->max_seq : mpe < MAX_SEQ_CAP ? mpe : MAX_SEQ_CAP;
  json_t *dt = json_object_get(im->cfg, "torch_dtype");
  if (!dt) dt = json_object_get(im->cfg, "dtype");
  s->weights_dtype = json_is_string(dt) && !strcmp(json_string_value(dt), "bfloat16") ? DT_BF16 : DT_F32;
  return 0;
}

/* ---- the folder ---- */

static int find_weights(Import *im) {
  static const char *const names[] = {"model.safetensors", "model.safetensors.index.json"};
  char p[PATH_MAX + 64];
  for (int i = 0; i < 2; i++) {
    snprintf(p, sizeof p, "%s/%s", im->dir, names[i]);
    if (!access(p, R_OK)) {
      if (!realpath(p, im->weights)) return cli_fail("cannot resolve '%s': %s", p, strerror(errno));
      return 0;
    }
  }
  return cli_fail("%s: no model.safetensors or model.safetensors.index.json", im->dir);
}

/* DIR's last component as [a-z][a-z0-9_]*, or "model" */
static void name_from_dir(const char *dir, char *out, size_t n) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", dir);
  for (size_t l = strlen(buf); l > 1 && buf[l - 1] == '/'; l--) buf[l - 1] = 0;
  const char *b = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
  size_t o = 0;
  for (; *b && o + 1 < n; b++) {
    char c = (char)tolower((unsigned char)*b);
    if (!o && !(c >= 'a' && c <= 'z')) continue;
    out[o++] = isalnum((unsigned char)c) ? c : '_';
  }
  out[o] = 0;
  if (!o) snprintf(out, n, "model");
}

static int fill_spec(Import *im) {
  Spec *s = &im->s;
  if (im->name) snprintf(s->name, sizeof s->name, "%s", im->name);
  else name_from_dir(im->dir, s->name, sizeof s->name);
  if (strlen(im->weights) >= sizeof s->weights_path) return cli_fail("weights path '%s' is too long", im->weights);
  memcpy(s->weights_path, im->weights, strlen(im->weights) + 1);
  for (int l = 0; l < SPEC_MAX_LAYERS; l++) s->capacity[l] = 1.0;
  s->predictor_hidden = 64;
  s->n_shapes = 1, s->shapes[0][0] = 1, s->shapes[0][1] = s->max_seq_len < 512 ? s->max_seq_len : 512;
  snprintf(s->target, sizeof s->target, "host");
  snprintf(s->cpu, sizeof s->cpu, "native");
  return 0;
}

/* the written spec loads, and the checkpoint holds exactly its tensors */
static int verify(const char *path) {
  char err[4096];
  Spec s;
  StFile st;
  if (spec_load(path, NULL, 0, &s, err, sizeof err) || st_open(s.weights_path, &st, err, sizeof err))
    return fprintf(stderr, "%s\n", err), 1;
  int rc = st_check_spec(&st, &s, err, sizeof err) ? (fprintf(stderr, "%s\n", err), 1) : 0;
  st_close(&st);
  return rc;
}

static int write_spec(Import *im) {
  char tmp[PATH_MAX + 8], note[PATH_MAX + 64];
  snprintf(tmp, sizeof tmp, "%s.tmp", im->out);
  snprintf(note, sizeof note, "modc import-hf %s: a Llama checkpoint, routing none", im->dir);
  FILE *f = fopen(tmp, "w");
  int rc = !f || spec_write(&im->s, NULL, note, f) ? 1 : 0;
  if (f && fclose(f)) rc = 1;
  if (rc) return unlink(tmp), cli_fail("cannot write '%s': %s", tmp, strerror(errno));
  if (verify(tmp)) return unlink(tmp), 1;
  if (rename(tmp, im->out)) return unlink(tmp), cli_fail("cannot write '%s': %s", im->out, strerror(errno));
  return 0;
}

/* ---- the command ---- */

static int parse_import(int argc, char **argv, Import *im) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = !strcmp(a, "-o") || !strcmp(a, "--name") || !strcmp(a, "--max-seq-len");
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_import, stdout); exit(0); }
    if (takes && !v) return cli_fail("%s needs a value", a);
    if (takes) i++;
    if (!strcmp(a, "-o")) im->out = v;
    else if (!strcmp(a, "--name")) im->name = v;
    else if (!strcmp(a, "--max-seq-len")) {
      if (cli_int(a, v, 1, 1 << 20, &im->max_seq)) return 1;
    } else if (a[0] == '-') return cli_fail("import-hf: unknown option '%s' (see modc import-hf --help)", a);
    else if (!im->dir) im->dir = a;
    else return cli_fail("import-hf: more than one folder given");
  }
  if (!im->dir) return cli_fail("import-hf: no checkpoint folder given (see modc import-hf --help)");
  if (!im->out) return cli_fail("import-hf: give the spec to write: -o SPEC.yaml");
  return 0;
}

int import_hf_main(int argc, char **argv) {
  Import im = {0};
  json_error_t je;
  if (parse_import(argc, argv, &im)) return 1;
  snprintf(im.config, sizeof im.config, "%s/config.json", im.dir);
  if (access(im.config, R_OK)) return cli_fail("%s: no config.json (%s)", im.dir, strerror(errno));
  if (!(im.cfg = json_load_file(im.config, JSON_REJECT_DUPLICATES, &je)))
    return cli_fail("%s:%d:%d: %s", im.config, je.line, je.column, je.text);
  int rc = !json_is_object(im.cfg) ? cli_fail("%s: not a JSON object", im.config) : 0;
  rc = rc || check_architecture(&im) || refuse_unsupported(&im) || read_dims(&im) || find_weights(&im) ||
       fill_spec(&im) || write_spec(&im);
  if (!rc) printf("wrote %s: %s, %d layers, d_model %d, weights %s\n", im.out, im.s.name, im.s.n_layers, im.s.d_model,
                  im.weights);
  json_decref(im.cfg);
  return rc;
}
