/* weights.c: the packed weights blob (runtime/exec.h) and the file that holds it.
 *
 * The layout follows st_expected_tensors, so it depends on the spec alone and every graph
 * of a model agrees on it.  Matrices are stored in the spec's weights_dtype, vectors in
 * f32; each tensor starts 64-byte aligned, padding is zero, so the blob and its hash are
 * deterministic.  Packing into kernel panel layouts belongs here too when kernels want it.
 */
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "../runtime/exec.h"

#define ALIGN 64
#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

static uint64_t fnv_update(uint64_t h, const void *data, size_t n) {
  const uint8_t *p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
  return h;
}

uint64_t modc_fnv1a64(const void *data, size_t n) { return fnv_update(FNV_OFFSET, data, n); }

static void add_entry(const char *name, int rank, const int64_t *shape, void *ctx) {
  WLayout *l = ctx;
  WEntry *e = &l->e[l->n++];
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  e->rank = rank;
  for (int i = 0; i < rank && i < 2; i++) e->shape[i] = shape[i];
}

static void count_entry(const char *name, int rank, const int64_t *shape, void *ctx) { (*(int *)ctx)++; }

int wlayout_build(const Spec *s, WLayout *out) {
  int n = 0;
  st_expected_tensors(s, count_entry, &n);
  memset(out, 0, sizeof *out);
  out->e = calloc(n ? n : 1, sizeof(WEntry));
  st_expected_tensors(s, add_entry, out);
  int64_t off = 0;
  for (int i = 0; i < out->n; i++) {
    WEntry *e = &out->e[i];
    e->dt = e->rank == 2 ? s->weights_dtype : DT_F32;
    e->bytes = e->shape[0] * (e->rank == 2 ? e->shape[1] : 1) * dtype_size(e->dt);
    e->offset = off;
    off = (off + e->bytes + ALIGN - 1) / ALIGN * ALIGN;
  }
  out->size = off;
  return 0;
}

void wlayout_free(WLayout *l) {
  free(l->e);
  memset(l, 0, sizeof *l);
}

const WEntry *wlayout_find(const WLayout *l, const char *name) {
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->e[i].name, name)) return &l->e[i];
  return NULL;
}

/* convert one tensor into buf (e->bytes) in the entry's dtype */
static void convert(const WEntry *e, const StTensor *t, uint8_t *buf) {
  int64_t numel = e->bytes / dtype_size(e->dt);
  if (e->dt == t->dtype) {
    memcpy(buf, t->data, e->bytes);
    return;
  }
  for (int64_t i = 0; i < numel; i++) {
    float v = st_get_f32(t, i);
    if (e->dt == DT_BF16) ((uint16_t *)buf)[i] = f32_to_bf16(v);
    else ((float *)buf)[i] = v;
  }
}

static int write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1; }

int wlayout_write(const WLayout *l, const StFile *st, const char *path, uint64_t *hash,
                  char *err, size_t errlen) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    snprintf(err, errlen, "%s: error: cannot write the packed weights file", path);
    return -1;
  }
  uint8_t header[MODC_WEIGHTS_HEADER] = {0}, pad[ALIGN] = {0};
  int rc = write_all(f, header, sizeof header);
  uint64_t h = FNV_OFFSET;
  int64_t written = 0;
  for (int i = 0; i < l->n && !rc; i++) {
    const WEntry *e = &l->e[i];
    const StTensor *t = st_find(st, e->name);
    if (!t) {
      snprintf(err, errlen, "%s: error: missing tensor '%s'", st->path, e->name);
      fclose(f);
      return -1;
    }
    uint8_t *buf = malloc(e->bytes ? e->bytes : 1);
    convert(e, t, buf);
    int64_t padn = (i + 1 < l->n ? l->e[i + 1].offset : l->size) - e->offset - e->bytes;
    rc = write_all(f, buf, e->bytes) || write_all(f, pad, padn);
    h = fnv_update(fnv_update(h, buf, e->bytes), pad, padn);
    written += e->bytes + padn;
    free(buf);
  }
  memcpy(header, MODC_WEIGHTS_MAGIC, 8);
  uint64_t fields[3] = {h, (uint64_t)l->size, MODC_WEIGHTS_HEADER};
  memcpy(header + 8, fields, sizeof fields);
  rc = rc || written != l->size || fseek(f, 0, SEEK_SET) || write_all(f, header, sizeof header);
  if (fclose(f) || rc) {
    snprintf(err, errlen, "%s: error: writing the packed weights file failed", path);
    return -1;
  }
  *hash = h;
  return 0;
}
