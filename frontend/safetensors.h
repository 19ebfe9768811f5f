/* safetensors.h: reading and writing safetensors files, and checking them against a spec.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
 * then the raw data; offsets are relative to the data start.  Dtypes F32, BF16, F16.
 * The file is mmapped; nothing is copied.  Every defect (truncation, offsets past the end
 * or overlapping, sizes that disagree with shape and dtype, a header that is not JSON,
 * unsupported dtypes) is an error naming the file and the tensor.
 */
#ifndef MODC_SAFETENSORS_H
#define MODC_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "../ir/dtype.h"
#include "spec.h"

#define ST_MAXRANK 4

typedef struct StTensor {
  char name[160];
  DType dtype;              /* DT_F32, DT_BF16 or DT_F16 */
  int rank;
  int64_t shape[ST_MAXRANK];
  uint64_t begin, end;      /* byte range within the data section */
  const uint8_t *data;      /* points into the mapping */
} StTensor;

typedef struct StFile {
  char path[1024];
  uint8_t *map;             /* whole file (NULL for a shard index) */
  size_t size;
  int n;
  StTensor *t;              /* [n] */
  struct StFile *shard;     /* a shard index's shards [nshard], each mapped; t points into them */
  int nshard;
} StFile;

/* A safetensors file, or a Hugging Face shard index (*.safetensors.index.json,
 * safetensors_index.c) read as one file: the union of its shards' tables. */
int st_open(const char *path, StFile *out, char *err, size_t errlen);
int st_is_index(const char *path);
int st_open_index(const char *path, StFile *out, char *err, size_t errlen);
void st_close(StFile *f);
const StTensor *st_find(const StFile *f, const char *name);
/* Whether a tensor name ends with tail ("layers.3.mlp.up_proj.weight", ".mlp.up_proj.weight"). */
int st_name_ends(const char *name, const char *tail);

/* Check names and shapes against the spec (DESIGN section 5): every expected tensor present
 * with its shape, nothing unexpected.  Error names the tensor. */
int st_check_spec(const StFile *f, const Spec *s, char *err, size_t errlen);

/* Read element i of a tensor as float (widening bf16/f16). */
float st_get_f32(const StTensor *t, int64_t i);

/* Writing (for tests and the random-weights tool). */
typedef struct StWriteTensor {
  const char *name;
  DType dtype;
  int rank;
  int64_t shape[ST_MAXRANK];
  const void *data;         /* raw bytes in dtype */
} StWriteTensor;
int st_write(const char *path, const StWriteTensor *t, int n, char *err, size_t errlen);

/* Conversions used by every stage. */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  /* round to nearest even; NaN stays NaN */
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

/* The expected tensor list of a spec, in a fixed order (DESIGN section 5):
 * calls fn(name, rank, shape, ctx) for each.  Used by the checker, the weight packer and
 * the random-weights tool, so there is one list. */
typedef void (*StExpectFn)(const char *name, int rank, const int64_t *shape, void *ctx);
void st_expected_tensors(const Spec *s, StExpectFn fn, void *ctx);

/* Deterministic random weights for s written to path (safetensors_random.c: the seed and a
 * hash of each tensor's name pick its values, scaled to keep activations O(1)); dt f32, bf16
 * or f16.  ntensors and params (either may be NULL) count what was written.  0, or -1 with err. */
int st_write_random(const Spec *s, const char *path, DType dt, uint64_t seed, int *ntensors, int64_t *params,
                    char *err, size_t errlen);

#endif
