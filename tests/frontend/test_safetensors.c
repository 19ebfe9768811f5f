/* test_safetensors: unit tests of the safetensors reader and writer, the bf16/f16
 * conversions and the spec's expected tensor list.
 *
 * Conversions are checked at the edges (ties to even, overflow to infinity, NaN, f16
 * subnormals) and exhaustively: every bf16 and f16 value survives f32 and back.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/safetensors.h"

static int fails;
static char dir[256], err[2048];

#define ASSERT(want, got)                                                                  \
  do {                                                                                     \
    long long w_ = (want), g_ = (got);                                                     \
    if (w_ != g_) fails++, printf("%s:%d: expected %lld (0x%llx), got %lld (0x%llx) (%s) [%s]\n", \
                                  __FILE__, __LINE__, w_, w_, g_, g_, #got, err);          \
  } while (0)
#define ASSERT_STR(want, got)                                                              \
  do {                                                                                     \
    if (strcmp((want), (got)))                                                             \
      fails++, printf("%s:%d: expected '%s', got '%s'\n", __FILE__, __LINE__, (want), (got)); \
  } while (0)

static float f32_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static void test_bf16(void) {
  ASSERT(0x3F80, f32_to_bf16(1.0f));
  ASSERT(0x3F80, f32_to_bf16(f32_of(0x3F808000))); /* tie, even stays */
  ASSERT(0x3F82, f32_to_bf16(f32_of(0x3F818000))); /* tie, odd rounds up */
  ASSERT(0x3F81, f32_to_bf16(f32_of(0x3F808001)));
  ASSERT(0x3F80, f32_to_bf16(f32_of(0x3F807FFF)));
  ASSERT(0x7F80, f32_to_bf16(f32_of(0x7F7FFFFF))); /* max float rounds to inf */
  ASSERT(0x7F80, f32_to_bf16(INFINITY));
  ASSERT(0xFF80, f32_to_bf16(-INFINITY));
  ASSERT(0x8000, f32_to_bf16(-0.0f));
  ASSERT(1, isnan(bf16_to_f32(f32_to_bf16(NAN))));
  ASSERT(1, isnan(bf16_to_f32(f32_to_bf16(f32_of(0x7F800001))))); /* payload in low bits */
  ASSERT(0xFFC1, f32_to_bf16(f32_of(0xFF810000)));                 /* sign kept, quieted */
  for (uint32_t h = 0; h < 0x10000; h++) {
    float f = bf16_to_f32((uint16_t)h);
    if (isnan(f)) ASSERT(1, isnan(bf16_to_f32(f32_to_bf16(f))));
    else if (f32_to_bf16(f) != h) ASSERT(h, f32_to_bf16(f));
  }
}

static void test_f16(void) {
  ASSERT(0x3C00, f32_to_f16(1.0f));
  ASSERT(0xC000, f32_to_f16(-2.0f));
  ASSERT(0x7BFF, f32_to_f16(65504.0f));
  ASSERT(0x7BFF, f32_to_f16(65519.0f));
  ASSERT(0x7C00, f32_to_f16(65520.0f)); /* tie above max rounds to inf */
  ASSERT(0x7C00, f32_to_f16(1e10f));
  ASSERT(0xFC00, f32_to_f16(-INFINITY));
  ASSERT(0x3C00, f32_to_f16(1.0f + 0x1p-11f)); /* tie, even stays */
  ASSERT(0x3C02, f32_to_f16(1.0f + 3 * 0x1p-11f)); /* tie, odd rounds up */
  ASSERT(0x0400, f32_to_f16(0x1p-14f));        /* smallest normal */
  ASSERT(0x0001, f32_to_f16(0x1p-24f));        /* smallest subnormal */
  ASSERT(0x0000, f32_to_f16(0x1p-25f));        /* tie to even: zero */
  ASSERT(0x0001, f32_to_f16(0x1.8p-25f));
  ASSERT(0x0002, f32_to_f16(0x1.8p-24f));      /* 1.5 ulps: tie to even */
  ASSERT(0x0400, f32_to_f16(0x1.ffep-15f));    /* largest subnormal + half rounds up */
  ASSERT(0x8000, f32_to_f16(-1e-30f));
  ASSERT(0x0000, f32_to_f16(f32_of(1)));      /* f32 subnormal */
  ASSERT(1, f16_to_f32(0x0001) == 0x1p-24f);
  ASSERT(1, f16_to_f32(0x03FF) == 1023 * 0x1p-24f);
  ASSERT(1, f16_to_f32(0x8001) == -0x1p-24f);
  ASSERT(1, isinf(f16_to_f32(0x7C00)));
  ASSERT(1, isnan(f16_to_f32(0x7E00)));
  ASSERT(1, isnan(f16_to_f32(f32_to_f16(NAN))));
  ASSERT(0xFE00, f32_to_f16(f32_of(0xFFC00000)));
  for (uint32_t h = 0; h < 0x10000; h++) {
    float f = f16_to_f32((uint16_t)h);
    if (isnan(f)) ASSERT(1, isnan(f16_to_f32(f32_to_f16(f))));
    else if (f32_to_f16(f) != h) ASSERT(h, f32_to_f16(f));
  }
  /* every f32 halfway between two f16 neighbours goes to the even one */
  for (uint32_t h = 0; h < 0x7BFF; h += 7) {
    float lo = f16_to_f32((uint16_t)h), hi = f16_to_f32((uint16_t)(h + 1));
    ASSERT(h & 1 ? h + 1 : h, f32_to_f16((float)(((double)lo + hi) / 2)));
  }
}

static const char *path_of(const char *name) {
  static char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static void test_round_trip(void) {
  float a[6] = {1, -2.5f, 3.25f, 0, -0.0f, 1e-3f};
  uint16_t b[6], h[6];
  for (int i = 0; i < 6; i++) b[i] = f32_to_bf16(a[i]), h[i] = f32_to_f16(a[i]);
  float one = 7;
  StWriteTensor t[5] = {
      {"a.f32", DT_F32, 2, {2, 3}, a},
      {"b.bf16", DT_BF16, 1, {6}, b},
      {"c \"quoted\\\" \n name", DT_F16, 3, {1, 2, 3}, h},
      {"scalar", DT_F32, 0, {0}, &one},
      {"empty", DT_F16, 2, {0, 4}, h},
  };
  StFile f;
  ASSERT(0, st_write(path_of("rt.safetensors"), t, 5, err, sizeof err));
  ASSERT(0, st_open(path_of("rt.safetensors"), &f, err, sizeof err));
  ASSERT(5, f.n);
  const StTensor *x = st_find(&f, "a.f32"), *y = st_find(&f, "b.bf16");
  const StTensor *z = st_find(&f, "c \"quoted\\\" \n name"), *s = st_find(&f, "scalar");
  ASSERT(1, x && y && z && s && st_find(&f, "empty"));
  ASSERT(1, st_find(&f, "nope") == NULL);
  if (!x || !y || !z || !s) return st_close(&f);
  ASSERT(DT_F32, x->dtype);
  ASSERT(DT_BF16, y->dtype);
  ASSERT(DT_F16, z->dtype);
  ASSERT(3, z->rank);
  ASSERT(3, z->shape[2]);
  ASSERT(0, s->rank);
  for (int i = 0; i < 6; i++) {
    ASSERT(bits_of(a[i]), bits_of(st_get_f32(x, i)));
    ASSERT(bits_of(bf16_to_f32(b[i])), bits_of(st_get_f32(y, i)));
    ASSERT(bits_of(f16_to_f32(h[i])), bits_of(st_get_f32(z, i)));
  }
  ASSERT(1, st_get_f32(s, 0) == 7.0f);
  ASSERT(1, isnan(st_get_f32(x, 6))); /* out of range reads nothing */
  st_close(&f);
}

static int same_file(const char *p, const char *q) {
  FILE *a = fopen(p, "rb"), *b = fopen(q, "rb");
  int ca, cb, same = a && b;
  while (same && (ca = fgetc(a)) == (cb = fgetc(b)) && ca != EOF) {}
  same = same && ca == cb;
  if (a) fclose(a);
  if (b) fclose(b);
  return same;
}

static void test_deterministic(void) {
  float v[4] = {1, 2, 3, 4};
  StWriteTensor t[2] = {{"x", DT_F32, 1, {4}, v}, {"y", DT_F32, 2, {2, 2}, v}};
  ASSERT(0, st_write(path_of("d1.safetensors"), t, 2, err, sizeof err));
  ASSERT(0, st_write(path_of("d2.safetensors"), t, 2, err, sizeof err));
  char p1[512];
  snprintf(p1, sizeof p1, "%s", path_of("d1.safetensors"));
  ASSERT(1, same_file(p1, path_of("d2.safetensors")));
  StWriteTensor bad = {"z", DT_I32, 1, {1}, v};
  ASSERT(-1, st_write(path_of("d3.safetensors"), &bad, 1, err, sizeof err));
}

/* a header written by hand, as other tools write them: spaces, escapes, key order */
static void test_foreign_header(void) {
  const char *json = "{ \"w\\u00e9\" : {\"shape\": [2], \"data_offsets\": [0, 8],\n"
                     "\t\"dtype\": \"F32\"}, \"__metadata__\": {\"any\": \"thing\"} }";
  FILE *fp = fopen(path_of("f.safetensors"), "wb");
  uint64_t n = strlen(json);
  float d[2] = {5, 6};
  fwrite(&n, 8, 1, fp);
  fputs(json, fp);
  fwrite(d, 4, 2, fp);
  fclose(fp);
  StFile f;
  ASSERT(0, st_open(path_of("f.safetensors"), &f, err, sizeof err));
  ASSERT(1, f.n);
  if (f.n == 1) ASSERT_STR("w\xc3\xa9", f.t[0].name);
  if (f.n == 1) ASSERT(1, st_get_f32(&f.t[0], 1) == 6.0f);
  st_close(&f);
}

typedef struct List {
  char names[64][160];
  int64_t shapes[64][2];
  int n;
} List;

static void collect(const char *name, int rank, const int64_t *shape, void *ctx) {
  List *l = ctx;
  snprintf(l->names[l->n], 160, "%s", name);
  l->shapes[l->n][0] = shape[0];
  l->shapes[l->n][1] = rank == 2 ? shape[1] : -1;
  l->n++;
}

static Spec small_spec(void) {
  Spec s;
  memset(&s, 0, sizeof s);
  s.vocab_size = 32, s.d_model = 16, s.n_layers = 2, s.n_heads = 4, s.n_kv_heads = 2;
  s.d_ff = 48, s.max_seq_len = 64, s.predictor_hidden = 8;
  return s;
}

static void test_expected(void) {
  Spec s = small_spec();
  List l = {0};
  st_expected_tensors(&s, collect, &l); /* dense, untied */
  ASSERT(1 + 9 * 2 + 2, l.n);
  ASSERT_STR("model.embed_tokens.weight", l.names[0]);
  ASSERT_STR("model.layers.0.input_layernorm.weight", l.names[1]);
  ASSERT_STR("model.layers.0.self_attn.k_proj.weight", l.names[3]);
  ASSERT(8, l.shapes[3][0]); /* n_kv_heads * head dim */
  ASSERT_STR("model.layers.0.self_attn.o_proj.weight", l.names[5]);
  ASSERT_STR("model.layers.0.mlp.down_proj.weight", l.names[9]);
  ASSERT(16, l.shapes[9][0]);
  ASSERT(48, l.shapes[9][1]);
  ASSERT_STR("model.norm.weight", l.names[19]);
  ASSERT_STR("lm_head.weight", l.names[20]);
  s.tie_embeddings = 1;
  l.n = 0;
  st_expected_tensors(&s, collect, &l);
  ASSERT(1 + 9 * 2 + 1, l.n);
  ASSERT_STR("model.norm.weight", l.names[l.n - 1]);
  s.routed[1] = 1, s.router_bias = 1, s.predictor = PRED_MLP;
  l.n = 0;
  st_expected_tensors(&s, collect, &l);
  const char *want[] = {"router.weight", "router.bias", "predictor.fc1.weight",
                        "predictor.fc1.bias", "predictor.fc2.weight", "predictor.fc2.bias"};
  int64_t shp[6][2] = {{1, 16}, {1, -1}, {8, 16}, {8, -1}, {1, 8}, {1, -1}};
  ASSERT(1 + 9 * 2 + 6 + 1, l.n);
  for (int i = 0; i < 6; i++) {
    char full[160];
    snprintf(full, sizeof full, "model.layers.1.%s", want[i]);
    ASSERT_STR(full, l.names[19 + i]);
    ASSERT(shp[i][0], l.shapes[19 + i][0]);
    ASSERT(shp[i][1], l.shapes[19 + i][1]);
  }
}

/* a file written from the expected list passes st_check_spec; one changed tensor fails */
static void test_check_spec(void) {
  Spec s = small_spec();
  List l = {0};
  static float zeros[32 * 48];
  StWriteTensor t[64];
  StFile f;
  s.routed[1] = 1;
  st_expected_tensors(&s, collect, &l);
  for (int i = 0; i < l.n; i++) {
    int64_t sh[2] = {l.shapes[i][0], l.shapes[i][1]};
    t[i] = (StWriteTensor){l.names[i], DT_BF16, sh[1] < 0 ? 1 : 2, {sh[0], sh[1]}, zeros};
  }
  ASSERT(0, st_write(path_of("c.safetensors"), t, l.n, err, sizeof err));
  ASSERT(0, st_open(path_of("c.safetensors"), &f, err, sizeof err));
  ASSERT(0, st_check_spec(&f, &s, err, sizeof err));
  st_close(&f);
  t[4].shape[1] = 15;
  ASSERT(0, st_write(path_of("c.safetensors"), t, l.n, err, sizeof err));
  ASSERT(0, st_open(path_of("c.safetensors"), &f, err, sizeof err));
  ASSERT(-1, st_check_spec(&f, &s, err, sizeof err));
  char want[1024];
  snprintf(want, sizeof want, "%s: error: tensor 'model.layers.0.self_attn.v_proj.weight' has "
           "shape [8,15], expected [8,16]", path_of("c.safetensors"));
  ASSERT_STR(want, err);
  st_close(&f);
}

static void write_text(const char *name, const char *text) {
  FILE *f = fopen(path_of(name), "w");
  fputs(text, f);
  fclose(f);
}

/* expect st_open(index) to fail with err containing want */
static void index_fails(const char *json, const char *want) {
  StFile f;
  write_text("m.safetensors.index.json", json);
  ASSERT(-1, st_open(path_of("m.safetensors.index.json"), &f, err, sizeof err));
  if (!strstr(err, want)) fails++, printf("%s:%d: '%s' not in '%s'\n", __FILE__, __LINE__, want, err);
}

/* a shard index: the union of its shards, data read in place; every disagreement refused */
static void test_index(void) {
  float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
  StWriteTensor s1[2] = {{"w.a", DT_F32, 2, {2, 2}, a}, {"w.b", DT_F32, 1, {2}, b}};
  StWriteTensor s2[1] = {{"w.c", DT_F32, 1, {4}, a}};
  StFile f;
  ASSERT(0, st_write(path_of("s1.safetensors"), s1, 2, err, sizeof err));
  ASSERT(0, st_write(path_of("s2.safetensors"), s2, 1, err, sizeof err));
  write_text("m.safetensors.index.json", "{\"metadata\": {\"total_size\": 40}, \"weight_map\": {\"w.c\": "
             "\"s2.safetensors\", \"w.a\": \"s1.safetensors\", \"w.b\": \"s1.safetensors\"}}\n");
  ASSERT(0, st_open(path_of("m.safetensors.index.json"), &f, err, sizeof err));
  ASSERT(3, f.n);
  ASSERT(2, f.nshard);
  const StTensor *c = st_find(&f, "w.c"), *bb = st_find(&f, "w.b");
  ASSERT(1, c && bb && st_get_f32(c, 3) == 4 && st_get_f32(bb, 1) == 6);
  st_close(&f);
  index_fails("{\"weight_map\": {\"w.a\": \"s1.safetensors\", \"w.b\": \"s1.safetensors\", \"w.c\": "
              "\"s3.safetensors\"}}", "shard 's3.safetensors': ");
  index_fails("{\"weight_map\": {\"w.a\": \"s1.safetensors\", \"w.b\": \"s2.safetensors\", \"w.c\": "
              "\"s2.safetensors\"}}", "tensor 'w.b' is mapped to 's2.safetensors', which does not hold it");
  index_fails("{\"weight_map\": {\"w.a\": \"s1.safetensors\", \"w.c\": \"s2.safetensors\"}}",
              "shard 's1.safetensors' holds tensor 'w.b', which the index does not map to it");
  index_fails("{\"weight_map\": {\"w.a\": \"s1.safetensors\", \"w.b\": \"s1.safetensors\", \"w.a\": "
              "\"s1.safetensors\", \"w.c\": \"s2.safetensors\"}}", "error: tensor 'w.a' is mapped twice");
  index_fails("{\"metadata\": {}}", "m.safetensors.index.json:1:1: error: a shard index needs a \"weight_map\"");
  index_fails("[1, 2]", "a shard index is a JSON object");
  index_fails("{\"weight_map\": {\"w.a\": \"../s1.safetensors\"}}", "weight_map values are shard file names");
  index_fails("{\"weight_map\": {\"w.a\": ", "m.safetensors.index.json:");
  unlink(path_of("s1.safetensors")), unlink(path_of("s2.safetensors")), unlink(path_of("m.safetensors.index.json"));
}

/* st_name_ends: whole tails only, never past the name's start. */
static void test_name_ends(void) {
  ASSERT(1, st_name_ends("model.layers.3.mlp.up_proj.weight", ".mlp.up_proj.weight"));
  ASSERT(1, st_name_ends("norm.weight", "norm.weight"));
  ASSERT(1, st_name_ends("x", ""));
  ASSERT(0, st_name_ends("model.layers.3.mlp.up_proj.bias", ".mlp.up_proj.weight"));
  ASSERT(0, st_name_ends("weight", ".weight"));
  ASSERT(0, st_name_ends("", "a"));
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/modc_test_st_XXXXXX");
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  test_bf16();
  test_f16();
  test_round_trip();
  test_deterministic();
  test_foreign_header();
  test_expected();
  test_check_spec();
  test_index();
  test_name_ends();
  const char *files[] = {"rt", "d1", "d2", "d3", "f", "c"};
  for (int i = 0; i < 6; i++) {
    char name[32];
    snprintf(name, sizeof name, "%s.safetensors", files[i]);
    unlink(path_of(name));
  }
  rmdir(dir);
  printf("test_safetensors: %s\n", fails ? "FAILED" : "ok");
  return fails != 0;
}
