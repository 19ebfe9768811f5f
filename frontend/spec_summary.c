/* spec_summary.c: spec_print_summary, the readable model summary that `modc check` prints.
 *
 * It shows the dimensions, each layer dense or routed (with its capacity and the k it gets
 * at every compiled seq_len), the parameter count (summed over st_expected_tensors, the one
 * list of weights), and the forward FLOPs of each compiled shape next to the dense twin's:
 * the saving MoD is for.
 */
#include <stdint.h>
#include <stdio.h>

#include "safetensors.h"
#include "spec.h"

static void count_params(const char *name, int rank, const int64_t *shape, void *ctx) {
  int64_t n = 1;
  (void)name;
  for (int i = 0; i < rank; i++) n *= shape[i];
  *(int64_t *)ctx += n;
}

/* FLOPs of one block over m chosen tokens: projections, MLP and causal attention */
static double block_flops(const Spec *s, double m) {
  double d = s->d_model, hd = spec_head_dim(s), q = s->n_heads * hd, kv = s->n_kv_heads * hd;
  double proj = 2 * m * (d * q + 2 * d * kv + q * d + 3 * d * s->d_ff);
  return proj + 2 * s->n_heads * hd * m * (m + 1);
}

/* forward FLOPs of one sequence of T tokens; dense: as if no layer were routed */
static double forward_flops(const Spec *s, int T, int dense) {
  double f = 2.0 * T * s->d_model * s->vocab_size;
  for (int l = 0; l < s->n_layers; l++) {
    int routed = s->routed[l] && !dense;
    f += block_flops(s, routed ? spec_capacity_k(s->capacity[l], T) : T);
    if (routed) f += 2.0 * T * s->d_model;
  }
  return f;
}

/* n with a k/M/G/T prefix, 4 significant digits: "7.342 G" */
static const char *si(double n, char *buf, size_t len) {
  static const char *const unit[] = {"", "k", "M", "G", "T"};
  int u = 0;
  while (u < 4 && n >= 1000) n /= 1000, u++;
  snprintf(buf, len, "%.4g %s", n, unit[u]);
  return buf;
}

/* the distinct seq_lens of the compiled shapes, in order */
static int seq_lens(const Spec *s, int *out) {
  int n = 0;
  for (int i = 0; i < s->n_shapes; i++) {
    int j = 0;
    while (j < n && out[j] != s->shapes[i][1]) j++;
    if (j == n) out[n++] = s->shapes[i][1];
  }
  return n;
}

static void print_layers(const Spec *s, FILE *out) {
  int T[SPEC_MAX_SHAPES], nT = seq_lens(s, T);
  for (int l = 0; l < s->n_layers; l++) {
    if (!s->routed[l]) {
      fprintf(out, "  layer %3d  dense%s\n", l, s->made_dense[l] ? " (per_layer dense: its routing weights are ignored)" : "");
      continue;
    }
    fprintf(out, "  layer %3d  routed  capacity %-8g", l, s->capacity[l]);
    if (s->forward == FWD_THRESHOLD) { /* modc_forward takes no top-k: the rows taken depend on the text */
      fprintf(out, " threshold %g (modc_forward and sessions)\n", s->threshold[l]);
      continue;
    }
    fprintf(out, " k");
    for (int i = 0; i < nT; i++)
      fprintf(out, "%s %d @ T=%d", i ? "," : "", spec_capacity_k(s->capacity[l], T[i]), T[i]);
    fprintf(out, "  threshold %g\n", s->threshold[l]);
  }
}

static void print_model(const Spec *s, FILE *out) {
  int routed = 0;
  for (int l = 0; l < s->n_layers; l++) routed += s->routed[l];
  fprintf(out, "model       vocab %d, d_model %d, %d layers, %d heads of %d (%d kv heads), "
          "d_ff %d\n", s->vocab_size, s->d_model, s->n_layers, s->n_heads, spec_head_dim(s),
          s->n_kv_heads, s->d_ff);
  fprintf(out, "            max_seq_len %d, norm_eps %g, rope_theta %g, embeddings %s\n",
          s->max_seq_len, s->norm_eps, s->rope_theta, s->tie_embeddings ? "tied" : "untied");
  fprintf(out, "routing     %d of %d layers routed", routed, s->n_layers);
  if (routed)
    fprintf(out, "; gate %s, predictor %s", s->gate == GATE_RAW ? "raw" : "sigmoid",
            s->predictor == PRED_ROUTER ? "router" : "mlp");
  if (routed && s->predictor == PRED_MLP) fprintf(out, " (hidden %d)", s->predictor_hidden);
  if (routed) fprintf(out, ", router bias %s", s->router_bias ? "yes" : "no");
  if (routed && s->forward == FWD_THRESHOLD) fprintf(out, "; modc_forward routes by threshold");
  fputc('\n', out);
}

static void print_compile(const Spec *s, FILE *out) {
  fprintf(out, "compile     target %s, cpu %s, ", s->target, s->cpu);
  if (s->threads) fprintf(out, "%d threads\n", s->threads);
  else fprintf(out, "threads: all cores\n");
  for (int i = 0; i < s->n_shapes; i++) {
    int B = s->shapes[i][0], T = s->shapes[i][1];
    double mod = B * forward_flops(s, T, 0), dense = B * forward_flops(s, T, 1);
    char a[32], b[32];
    fprintf(out, "%s[%d, %d]: forward %sFLOP%s (dense twin %sFLOP, %.1f%%)\n",
            i ? "            " : "shapes      ", B, T, si(mod, a, sizeof a),
            s->forward == FWD_THRESHOLD ? " if the layers take their capacity" : "", si(dense, b, sizeof b),
            100.0 * mod / dense);
  }
}

void spec_print_summary(const Spec *s, FILE *out) {
  int64_t params = 0;
  st_expected_tensors(s, count_params, &params);
  fprintf(out, "%s: model '%s' (spec format 1)\n", s->path, s->name);
  fprintf(out, "weights     %s, packed as %s\n", s->weights_path, dtype_name(s->weights_dtype));
  print_model(s, out);
  print_layers(s, out);
  char buf[32];
  fprintf(out, "parameters  %lld (%s)\n", (long long)params, si((double)params, buf, sizeof buf));
  print_compile(s, out);
}
