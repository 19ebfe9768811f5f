/* randspec.h: random model specs and weights for property tests.
 * A spec is drawn from a seed (deterministic), written as YAML with its safetensors file. */
#ifndef MODC_RANDSPEC_H
#define MODC_RANDSPEC_H

#include <stdint.h>

typedef struct RandSpec {
  char name[64];
  int vocab, d, layers, heads, kv_heads, d_ff, max_seq;
  int tie, bias, mlp, sigmoid, hidden;
  char layers_yaml[128];        /* routing.layers value */
  double capacity;
  int per_layer_idx;            /* -1 none */
  double per_layer_cap;
  double threshold, per_layer_thr; /* causal routing thresholds (routing and per_layer) */
  int forward_threshold;        /* routing.forward: threshold (modc_forward routes as sessions do) */
  int nshapes, shapes[3][2];
  const char *wdtype;           /* compile weights_dtype */
  int src_dtype;                /* DT_F32 / DT_BF16 / DT_F16 of the safetensors file */
} RandSpec;

uint64_t rs_next(uint64_t *s);
double rs_uniform(uint64_t *s);   /* [0,1) */
int rs_int(uint64_t *s, int lo, int hi); /* [lo,hi] */
void randspec_draw(uint64_t seed, RandSpec *r);
/* write dir/NAME.yaml and dir/NAME.safetensors; returns 0 */
int randspec_write(const RandSpec *r, const char *dir, uint64_t seed, char *yaml_path, size_t n);

#endif
