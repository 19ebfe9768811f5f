/* safetensors_write.c: st_write, and the bf16/f16 <-> f32 conversions every stage uses.
 *
 * st_write lays tensors out back to back in the order given, after a JSON header whose
 * text depends only on the arguments (fixed key order, no whitespace, padded with spaces
 * so the data start is 8-byte aligned), so equal inputs give byte-identical files.
 * Conversions to the narrow types round to nearest, ties to even; NaN stays NaN (quiet,
 * sign kept), infinities stay infinite, and f16 subnormals are exact both ways.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

/* ---- conversions ---- */

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((u >> 16) | 0x0040); /* quiet NaN */
  u += 0x7FFF + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FF;
  if (e == 0x1F) return bits_f32(sign | 0x7F800000 | m << 13);   /* inf, NaN */
  if (e) return bits_f32(sign | (e + 112) << 23 | m << 13);       /* normal */
  float v = (float)m * (1.0f / 16777216.0f);                       /* m * 2^-24, exact */
  return sign ? -v : v;
}

/* x shifted right by s (1..31), rounded to nearest even */
static uint32_t shift_rne(uint32_t x, int s) {
  uint32_t r = x >> s, rem = x & ((1u << s) - 1), half = 1u << (s - 1);
  return r + (rem > half || (rem == half && (r & 1)));
}

uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000, a = u & 0x7FFFFFFF;
  if (a > 0x7F800000) return (uint16_t)(sign | 0x7E00 | (a >> 13 & 0x3FF)); /* NaN */
  if (a >= 0x477FF000) return (uint16_t)(sign | 0x7C00); /* >= 65520 rounds to inf */
  if (a >= 0x38800000) return (uint16_t)(sign | shift_rne(a - 0x38000000, 13)); /* normal */
  int e = (int)(a >> 23), shift = 126 - e;   /* subnormal: value = m * 2^(e-150) */
  if (shift > 25) return (uint16_t)sign;    /* below a quarter of the smallest subnormal */
  return (uint16_t)(sign | shift_rne((a & 0x7FFFFF) | 0x800000, shift));
}

/* ---- writing ---- */

static const char *st_dtype_name(DType t) {
  return t == DT_F32 ? "F32" : t == DT_BF16 ? "BF16" : t == DT_F16 ? "F16" : NULL;
}

typedef struct Buf {
  char *p;
  size_t n, cap;
} Buf;

static void put(Buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

static void putf(Buf *b, const char *fmt, unsigned long long a, unsigned long long c) {
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, fmt, a, c);
  put(b, tmp, (size_t)n);
}

/* a JSON string, escaped */
static void put_json_string(Buf *b, const char *s) {
  put(b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') put(b, "\\", 1), put(b, s, 1);
    else if (c < 0x20) putf(b, "\\u%04llx", c, 0);
    else put(b, s, 1);
  }
  put(b, "\"", 1);
}

static uint64_t tensor_bytes(const StWriteTensor *t) {
  uint64_t n = (uint64_t)dtype_size(t->dtype);
  for (int i = 0; i < t->rank; i++) n *= (uint64_t)t->shape[i];
  return n;
}

static int check_tensor(const StWriteTensor *t, const char *path, char *err, size_t errlen) {
  int ok = t->name && st_dtype_name(t->dtype) && t->rank >= 0 && t->rank <= ST_MAXRANK;
  for (int i = 0; ok && i < t->rank; i++) ok = t->shape[i] >= 0 && t->shape[i] <= (1LL << 40);
  if (!ok) snprintf(err, errlen, "%s: error: cannot write tensor '%s': bad dtype or shape", path,
                    t->name ? t->name : "(null)");
  return ok ? 0 : -1;
}

/* {"__metadata__":{"format":"pt"},"name":{"dtype":..,"shape":[..],"data_offsets":[b,e]},..} */
static void build_header(Buf *b, const StWriteTensor *t, int n) {
  uint64_t off = 0;
  const char *meta = "{\"__metadata__\":{\"format\":\"pt\"}";
  put(b, meta, strlen(meta));
  for (int i = 0; i < n; i++) {
    put(b, ",", 1);
    put_json_string(b, t[i].name);
    put(b, ":{\"dtype\":\"", 11);
    put(b, st_dtype_name(t[i].dtype), strlen(st_dtype_name(t[i].dtype)));
    put(b, "\",\"shape\":[", 11);
    for (int d = 0; d < t[i].rank; d++)
      putf(b, d ? ",%llu" : "%llu", (unsigned long long)t[i].shape[d], 0);
    putf(b, "],\"data_offsets\":[%llu,%llu]}", off, off + tensor_bytes(&t[i]));
    off += tensor_bytes(&t[i]);
  }
  put(b, "}", 1);
  while ((8 + b->n) % 8) put(b, " ", 1);
}

static int write_all(FILE *fp, const Buf *h, const StWriteTensor *t, int n) {
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)h->n >> (8 * i));
  int ok = fwrite(len, 1, 8, fp) == 8 && fwrite(h->p, 1, h->n, fp) == h->n;
  for (int i = 0; ok && i < n; i++) {
    size_t bytes = (size_t)tensor_bytes(&t[i]);
    ok = bytes == 0 || fwrite(t[i].data, 1, bytes, fp) == bytes;
  }
  return ok ? 0 : -1;
}

int st_write(const char *path, const StWriteTensor *t, int n, char *err, size_t errlen) {
  for (int i = 0; i < n; i++)
    if (check_tensor(&t[i], path, err, errlen)) return -1;
  Buf h = {0};
  build_header(&h, t, n);
  FILE *fp = fopen(path, "wb");
  int rc = fp ? write_all(fp, &h, t, n) : -1;
  if (fp && fclose(fp)) rc = -1;
  if (rc) snprintf(err, errlen, "%s: error: cannot write: %s", path, strerror(errno));
  free(h.p);
  return rc;
}
