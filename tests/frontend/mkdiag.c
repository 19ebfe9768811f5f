/* mkdiag: writes the safetensors files that the golden diagnostics in tests/diag use.
 *
 *   mkdiag SPEC OUTDIR      (SPEC is tests/diag/valid.yaml)
 *
 * w_ok.safetensors holds every tensor of SPEC (F16, deterministic values); each other file
 * has one defect (truncation, a bad header, a bad dtype, sizes or offsets that disagree,
 * a missing, mis-shaped or extra tensor); w_pred.safetensors adds an mlp predictor (hidden 4) to
 * layer 1.  The header is written by hand here, not by
 * st_write, so that a defect can be put anywhere.  The files are committed next to the
 * cases; the ctest frontend/diag_weights regenerates them and checks they are unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/safetensors.h"
#include "frontend/spec.h"

#define MAXT 64

typedef struct Ent {
  char name[200];           /* as it appears in the JSON, escapes included */
  const char *dtype;
  int rank;
  long long shape[5];
  long long bytes;          /* data bytes; offsets follow one another */
  long long begin, end;     /* used instead when end > 0 */
} Ent;

typedef struct Set {
  Ent e[MAXT];
  int n;
} Set;

static const char *outdir;

static void add(const char *name, int rank, const int64_t *shape, void *ctx) {
  Set *s = ctx;
  Ent *e = &s->e[s->n++];
  memset(e, 0, sizeof *e);
  snprintf(e->name, sizeof e->name, "%s", name);
  e->dtype = "F16";
  e->rank = rank;
  e->bytes = 2;
  for (int i = 0; i < rank; i++) e->shape[i] = shape[i], e->bytes *= shape[i];
}

static Ent *find(Set *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (!strcmp(s->e[i].name, name)) return &s->e[i];
  fprintf(stderr, "mkdiag: no tensor %s\n", name);
  exit(1);
}

static FILE *create(const char *file) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", outdir, file);
  FILE *f = fopen(path, "wb");
  if (!f) perror(path), exit(1);
  return f;
}

/* the header JSON of a set, padded to a multiple of 8; returns the data size */
static long long header(const Set *s, char *h, size_t cap) {
  size_t o = (size_t)snprintf(h, cap, "{\"__metadata__\":{\"format\":\"pt\"}");
  long long off = 0, top = 0;
  for (int i = 0; i < s->n; i++) {
    const Ent *e = &s->e[i];
    long long b = e->end ? e->begin : off, end = e->end ? e->end : off + e->bytes;
    o += (size_t)snprintf(h + o, cap - o, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e->name,
                          e->dtype);
    for (int d = 0; d < e->rank; d++)
      o += (size_t)snprintf(h + o, cap - o, d ? ",%lld" : "%lld", e->shape[d]);
    o += (size_t)snprintf(h + o, cap - o, "],\"data_offsets\":[%lld,%lld]}", b, end);
    off = end;
    if (end > top) top = end;
  }
  o += (size_t)snprintf(h + o, cap - o, "}");
  while (o % 8) h[o++] = ' ';
  h[o] = 0;
  return top;
}

/* length, header text, then data bytes (a fixed pattern of small f16 values) */
static void write_raw(const char *file, const char *h, long long hlen, long long data,
                      long long cut) {
  FILE *f = create(file);
  unsigned char len[8];
  for (int i = 0; i < 8; i++) len[i] = (unsigned char)((unsigned long long)hlen >> (8 * i));
  fwrite(len, 1, 8, f);
  fwrite(h, 1, strlen(h), f);
  for (long long i = 0; i < data - cut; i += 2) {
    uint16_t v = f32_to_f16((float)((i * 37) % 101) / 101.0f - 0.5f);
    fwrite(&v, 1, i + 1 < data - cut ? 2 : 1, f);
  }
  fclose(f);
}

static void write_set(const char *file, const Set *s, long long cut) {
  static char h[1 << 16];
  long long data = header(s, h, sizeof h);
  write_raw(file, h, (long long)strlen(h), data, cut);
}

static void write_header(const char *file, const char *json, long long data) {
  char h[4096];
  snprintf(h, sizeof h, "%s", json);
  size_t o = strlen(h);
  while (o % 8) h[o++] = ' ';
  h[o] = 0;
  write_raw(file, h, (long long)o, data, 0);
}

static void variants(const Set *ok) {
  Set s;
  const char *up = "model.layers.0.mlp.up_proj.weight";
  write_set("w_ok.safetensors", ok, 0);
  write_set("w_truncated.safetensors", ok, 64);
  s = *ok;
  s.e[s.n++] = (Ent){"model.layers.0.self_attn.rotary_emb.inv_freq", "F32", 1, {2}, 8, 0, 0};
  write_set("w_rotary.safetensors", &s, 0);
  s = *ok, s.e[s.n++] = (Ent){"lm_head.bias", "F16", 1, {16}, 32, 0, 0};
  write_set("w_extra.safetensors", &s, 0);
  s = *ok, s.e[s.n++] = (Ent){"caf\\u00e9\\/\\ud83d\\ude00\\n", "F16", 1, {1}, 2, 0, 0};
  write_set("w_escape.safetensors", &s, 0);
  s = *ok; /* the mlp predictor of routed layer 1 (hidden 4) beside its router */
  s.e[s.n++] = (Ent){"model.layers.1.predictor.fc1.weight", "F16", 2, {4, 8}, 64, 0, 0};
  s.e[s.n++] = (Ent){"model.layers.1.predictor.fc1.bias", "F16", 1, {4}, 8, 0, 0};
  s.e[s.n++] = (Ent){"model.layers.1.predictor.fc2.weight", "F16", 2, {1, 4}, 8, 0, 0};
  s.e[s.n++] = (Ent){"model.layers.1.predictor.fc2.bias", "F16", 1, {1}, 2, 0, 0};
  write_set("w_pred.safetensors", &s, 0);
  s = *ok, s.n--, *find(&s, up) = s.e[s.n]; /* lm_head.weight takes up_proj's place */
  write_set("w_missing.safetensors", &s, 0);
  s = *ok, find(&s, up)->shape[1] = 7, find(&s, up)->bytes = 16 * 7 * 2;
  write_set("w_shape.safetensors", &s, 0);
  s = *ok, find(&s, up)->dtype = "I64", find(&s, up)->bytes *= 4;
  write_set("w_dtype.safetensors", &s, 0);
  s = *ok, find(&s, up)->bytes -= 2;
  write_set("w_size.safetensors", &s, 0);
  s = *ok, s.e[2].begin = 64, s.e[2].end = 64 + s.e[2].bytes;
  write_set("w_overlap.safetensors", &s, 0);
  s = *ok, snprintf(s.e[3].name, sizeof s.e[3].name, "%s", s.e[2].name);
  write_set("w_dupname.safetensors", &s, 0);
  s = *ok, s.e[1].rank = 5, s.e[1].shape[2] = s.e[1].shape[3] = s.e[1].shape[4] = 1;
  write_set("w_rank.safetensors", &s, 0);
}

static void broken_headers(void) {
  FILE *f = create("w_short.safetensors");
  fwrite("\x10\0\0\0\0", 1, 5, f);
  fclose(f);
  char h[64] = "{}      ";
  write_raw("w_hdrlen.safetensors", h, 1 << 20, 8, 0);
  write_header("w_notjson.safetensors", "this is not a JSON header", 16);
  write_header("w_badjson.safetensors",
               "{\"model.embed_tokens.weight\":{\"dtype\":\"F16\",\"shape\":[16,8]", 256);
  write_header("w_scalar.safetensors", "{\"model.embed_tokens.weight\":7}", 16);
}

int main(int argc, char **argv) {
  Spec spec;
  char err[1024];
  static Set ok;
  if (argc != 3) return fprintf(stderr, "usage: mkdiag SPEC OUTDIR\n"), 2;
  if (spec_load(argv[1], NULL, 0, &spec, err, sizeof err))
    return fprintf(stderr, "%s\n", err), 1;
  outdir = argv[2];
  st_expected_tensors(&spec, add, &ok);
  variants(&ok);
  broken_headers();
  return 0;
}
