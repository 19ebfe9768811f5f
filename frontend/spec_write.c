/* spec_write.c: spec_write, a Spec back to YAML (DESIGN section 3) that spec_load reads into
 * the same Spec.  tune --routing writes its configurations and the tuned spec this way.
 * Every key is written explicitly (the routed layers as a list, each routed layer's capacity
 * and threshold under per_layer, a layer made dense as {dense: true}); numbers print with 17 significant digits, so they round-
 * trip exactly; comments and key order of the original file are not kept. */
#include <stdio.h>
#include "spec.h"

/* a double-quoted YAML string: backslash and quote escaped, control bytes as \xHH */
static void put_quoted(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void put_model(FILE *f, const Spec *s) {
  fprintf(f, "model:\n  vocab_size: %d\n  d_model: %d\n  n_layers: %d\n  n_heads: %d\n  n_kv_heads: %d\n",
          s->vocab_size, s->d_model, s->n_layers, s->n_heads, s->n_kv_heads);
  fprintf(f, "  d_ff: %d\n  max_seq_len: %d\n  norm_eps: %.17g\n  rope_theta: %.17g\n  tie_embeddings: %s\n",
          s->d_ff, s->max_seq_len, s->norm_eps, s->rope_theta, s->tie_embeddings ? "true" : "false");
}

static void put_routing(FILE *f, const Spec *s) {
  int listed = 0, first = -1; /* layers in routing.layers; the first routed one */
  fprintf(f, "routing:\n  layers: ");
  for (int l = 0; l < s->n_layers; l++) {
    if (s->routed[l] || s->made_dense[l]) fprintf(f, "%s%d", listed++ ? ", " : "[", l);
    if (s->routed[l] && first < 0) first = l;
  }
  fprintf(f, listed ? "]\n" : "none\n");
  fprintf(f, "  capacity: %.17g\n  gate: %s\n  router_bias: %s\n  predictor: %s\n  predictor_hidden: %d\n",
          first < 0 ? 1.0 : s->capacity[first], s->gate == GATE_SIGMOID ? "sigmoid" : "raw",
          s->router_bias ? "true" : "false", s->predictor == PRED_MLP ? "mlp" : "router", s->predictor_hidden);
  if (s->forward == FWD_THRESHOLD) fprintf(f, "  forward: threshold\n");
  if (!listed) return;
  fprintf(f, "  per_layer:\n");
  for (int l = 0; l < s->n_layers; l++)
    if (s->routed[l]) fprintf(f, "    %d: {capacity: %.17g, threshold: %.17g}\n", l, s->capacity[l], s->threshold[l]);
    else if (s->made_dense[l]) fprintf(f, "    %d: {dense: true}\n", l);
}

static void put_compile(FILE *f, const Spec *s) {
  fprintf(f, "compile:\n  shapes: [");
  for (int i = 0; i < s->n_shapes; i++) fprintf(f, "%s[%d, %d]", i ? ", " : "", s->shapes[i][0], s->shapes[i][1]);
  fprintf(f, "]\n  target: ");
  put_quoted(f, s->target);
  fprintf(f, "\n  cpu: ");
  put_quoted(f, s->cpu);
  fprintf(f, "\n  weights_dtype: %s\n  threads: %d\n", s->weights_dtype == DT_BF16 ? "bf16" : "f32", s->threads);
}

int spec_write(const Spec *s, const char *weights, const char *comment, FILE *f) {
  if (comment) fprintf(f, "# %s\n", comment);
  fprintf(f, "modc: 1\nname: %s\nweights: ", s->name);
  put_quoted(f, weights ? weights : s->weights_path);
  fputc('\n', f);
  put_model(f, s);
  put_routing(f, s);
  put_compile(f, s);
  return ferror(f) ? -1 : 0;
}
