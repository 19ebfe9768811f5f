/* weights.c: the packed weights blob (runtime/exec.h) and the file that holds it.
 *
 * The layout follows st_expected_tensors, so it depends on the spec and the target alone
 * (panel widths are the target's, schedule.h: a weights file belongs to one library) and
 * every graph of a model agrees on it.  Matrices are stored in the spec's weights_dtype, vectors in
 * f32; each tensor starts 64-byte aligned, padding is zero, so the blob and its hash are
 * deterministic.  Every matrix a matmul reads is packed into the kernel's panel layout
 * (schedule.h: [N/NR][K][NR], zero columns past N); the embedding table stays row-major for
 * embed, and with tie_embeddings a second, panel-packed copy of it serves the head (the
 * head's GEMM and GEMV then read their layout, at the cost of one more copy of the table in
 * the file).
 */
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "schedule.h"
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

/* The blob's hash (runtime/exec.h): FNV-1a 64 in HASH_LANES lanes over the blob's 64-bit
 * little-endian words, lane j taking words j, j + HASH_LANES, ...; then FNV-1a 64 of the lanes'
 * bytes.  Lanes are independent multiply chains: byte-wise FNV-1a was one chain of 4-cycle
 * steps, 0.5 s of a 536 MB compile.  Each entry plus its padding is a whole number of ALIGN
 * bytes, so the lanes run across entries without a remainder. */
#define HASH_LANES 4
typedef struct { uint64_t lane[HASH_LANES]; } BlobHash;

static void blob_hash_init(BlobHash *b) {
  for (int j = 0; j < HASH_LANES; j++) b->lane[j] = FNV_OFFSET;
}

static void blob_hash_update(BlobHash *b, const uint8_t *p, size_t n) { /* n: a multiple of 8 * HASH_LANES */
  for (size_t i = 0; i + 8 * HASH_LANES <= n; i += 8 * HASH_LANES)
    for (int j = 0; j < HASH_LANES; j++) {
      uint64_t w;
      memcpy(&w, p + i + 8 * j, 8);
      b->lane[j] = (b->lane[j] ^ w) * FNV_PRIME;
    }
}

static uint64_t blob_hash_final(const BlobHash *b) { return fnv_update(FNV_OFFSET, b->lane, sizeof b->lane); }

#define EMBED_NAME "model.embed_tokens.weight"

typedef struct Adder {
  WLayout *l;
  const Spec *s;
  const TargetDesc *t;      /* panel widths follow the target (schedule.h) */
} Adder;

/* One entry; every matrix but the embedding table panel-packed, and with tie_embeddings the
 * table a second time, packed, for the head. */
static void add_entry(const char *name, int rank, const int64_t *shape, void *ctx) {
  Adder *a = ctx;
  int embed = !strcmp(name, EMBED_NAME);
  for (int copy = 0; copy < (embed && a->s->tie_embeddings ? 2 : 1); copy++) {
    WEntry *e = &a->l->e[a->l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->rank = rank;
    for (int i = 0; i < rank && i < 2; i++) e->shape[i] = shape[i];
    if (rank == 2 && (!embed || copy == 1)) e->nr = sched_panel_nr(shape[0], shape[1], a->s->weights_dtype, sched_weight_streams(name), a->t);
  }
}

static void count_entry(const char *name, int rank, const int64_t *shape, void *ctx) {
  (void)rank, (void)shape;
  const Adder *a = ctx;
  a->l->n += 1 + (!strcmp(name, EMBED_NAME) && a->s->tie_embeddings);
}

int wlayout_build(const Spec *s, const TargetDesc *t, WLayout *out) {
  WLayout count = {0, NULL, 0};
  Adder a = {&count, s, t};
  st_expected_tensors(s, count_entry, &a);
  memset(out, 0, sizeof *out);
  out->e = calloc(count.n ? count.n : 1, sizeof(WEntry));
  a.l = out;
  st_expected_tensors(s, add_entry, &a);
  int64_t off = 0;
  for (int i = 0; i < out->n; i++) {
    WEntry *e = &out->e[i];
    e->dt = e->rank == 2 ? s->weights_dtype : DT_F32;
    int64_t elems = e->nr ? sched_panel_elems(e->shape[0], e->shape[1], e->nr, e->dt)
                          : e->shape[0] * (e->rank == 2 ? e->shape[1] : 1);
    e->bytes = elems * dtype_size(e->dt);
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

const WEntry *wlayout_find_panel(const WLayout *l, const char *name) {
  for (int i = 0; i < l->n; i++)
    if (l->e[i].nr && !strcmp(l->e[i].name, name)) return &l->e[i];
  return NULL;
}

/* element i of the tensor (row-major index) into slot j of buf, in the entry's dtype */
static inline void put(const WEntry *e, const StTensor *t, uint8_t *buf, int64_t j, int64_t i) {
  if (e->dt == DT_BF16 && t->dtype == DT_BF16) memcpy(buf + 2 * j, (const uint8_t *)t->data + 2 * i, 2);
  else if (e->dt == DT_BF16) ((uint16_t *)buf)[j] = f32_to_bf16(st_get_f32(t, i));
  else ((float *)buf)[j] = st_get_f32(t, i);
}

/* convert one tensor into buf (e->bytes, zeroed) in the entry's dtype and layout; a panel is
 * written in its own order ([K][NR]), reading NR rows of the tensor side by side */
static void convert(const WEntry *e, const StTensor *t, uint8_t *buf) {
  if (e->nr) {
    int64_t N = e->shape[0], K = e->shape[1], nr = e->nr, step = e->dt == DT_BF16 ? 2 : 1;
    /* f32 tensors (the common case) read straight, not element by element through st_get_f32 */
    int f32 = t->dtype == DT_F32 && (t->end - t->begin) / 4 >= (uint64_t)(N * K);
    for (int64_t n0 = 0; n0 < N; n0 += nr)
      for (int64_t k = 0; k < K; k++) {
        int64_t j0 = sched_panel_index(n0, k, K, (int)nr, e->dt), w = N - n0 < nr ? N - n0 : nr;
        for (int64_t c = 0; c < w; c++) { /* column n0 + c sits step slots after column n0 + c - 1 */
          int64_t i = (n0 + c) * K + k, j = j0 + c * step;
          float v;
          if (!f32) put(e, t, buf, j, i);
          else if (memcpy(&v, t->data + 4 * i, 4), e->dt == DT_BF16) ((uint16_t *)buf)[j] = f32_to_bf16(v);
          else ((float *)buf)[j] = v;
        }
      }
    return;
  }
  int64_t numel = e->bytes / dtype_size(e->dt);
  if (e->dt == t->dtype) {
    memcpy(buf, t->data, e->bytes);
    return;
  }
  for (int64_t i = 0; i < numel; i++) put(e, t, buf, i, i);
}

static int write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n ? 0 : -1; }

/* Each entry converted, with its zero padding, in blob order, into the running hash and
 * written to f (f NULL: nothing written).  Returns 0, or -1 with err set (path names
 * the file in messages). */
static int pack_blob(const WLayout *l, const StFile *st, FILE *f, const char *path, BlobHash *bh, char *err,
                     size_t errlen) {
  int64_t written = 0;
  for (int i = 0; i < l->n; i++) {
    const WEntry *e = &l->e[i];
    const StTensor *t = st_find(st, e->name);
    if (!t) {
      snprintf(err, errlen, "%s: error: missing tensor '%s'", st->path, e->name);
      return -1;
    }
    int64_t padn = (i + 1 < l->n ? l->e[i + 1].offset : l->size) - e->offset - e->bytes;
    uint8_t *buf = calloc(1, (size_t)(e->bytes + padn) + 1);  /* the padding zeroed after it */
    if (!buf) {
      snprintf(err, errlen, "%s: error: out of memory packing '%s'", path, e->name);
      return -1;
    }
    convert(e, t, buf);
    int rc = f ? write_all(f, buf, (size_t)(e->bytes + padn)) : 0;
    blob_hash_update(bh, buf, (size_t)(e->bytes + padn));
    written += e->bytes + padn;
    free(buf);
    if (rc) {
      snprintf(err, errlen, "%s: error: writing the packed weights file failed", path);
      return -1;
    }
  }
  if (written == l->size) return 0;
  snprintf(err, errlen, "%s: error: writing the packed weights file failed", path);
  return -1;
}

int wlayout_hash(const WLayout *l, const StFile *st, uint64_t *hash, char *err, size_t errlen) {
  BlobHash bh;
  blob_hash_init(&bh);
  if (pack_blob(l, st, NULL, st->path, &bh, err, errlen)) return -1;
  *hash = blob_hash_final(&bh);
  return 0;
}

int wlayout_write(const WLayout *l, const StFile *st, const char *path, uint64_t *hash,
                  char *err, size_t errlen) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    snprintf(err, errlen, "%s: error: cannot write the packed weights file", path);
    return -1;
  }
  uint8_t header[MODC_WEIGHTS_HEADER] = {0};
  BlobHash bh;
  blob_hash_init(&bh);
  int bad = write_all(f, header, sizeof header);
  if (bad) snprintf(err, errlen, "%s: error: writing the packed weights file failed", path);
  if (bad || pack_blob(l, st, f, path, &bh, err, errlen)) {
    fclose(f);
    return -1;
  }
  memcpy(header, MODC_WEIGHTS_MAGIC, 8);
  uint64_t h = blob_hash_final(&bh);
  uint64_t fields[3] = {h, (uint64_t)l->size, MODC_WEIGHTS_HEADER};
  memcpy(header + 8, fields, sizeof fields);
  int rc = fseek(f, 0, SEEK_SET) || write_all(f, header, sizeof header);
  if (fclose(f) || rc) {
    snprintf(err, errlen, "%s: error: writing the packed weights file failed", path);
    return -1;
  }
  *hash = h;
  return 0;
}
