/* test_module.c: codegen's driver (codegen/module.c, link.c, header.c) end to end.
 *
 *   targets      cg_target_resolve: host/native, named CPUs, a foreign triple, and the
 *                errors for an unknown CPU, an unknown triple, native on a foreign triple;
 *                with clang given, every x86 CPU's feature list is compared with what
 *                clang -march=CPU predefines;
 *   library      two graphs (a forward graph and a session graph whose rows are a symbol)
 *                plus the descriptor, weights embedded, emitted, linked with the runtime,
 *                dlopened: modc__desc read field by field, the graphs called directly and
 *                through modc_forward, the exported symbols checked with nm -D;
 *   determinism  obj, asm and ll emitted twice are byte-identical;
 *   foreign      aarch64-linux-gnu / neoverse-v1 gives an AArch64 object;
 *   header       <name>.h compiles with cc -fsyntax-only -Wall -Werror, twice included.
 *
 * usage: test_module WORKDIR [CLANG]
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "codegen/codegen.h"
#include "codegen/header.h"
#include "runtime/exec.h"
#include "runtime/modc.h"

#ifndef MODC_CC
#define MODC_CC "cc"
#endif

static int failures;
#define ASSERT(cond)                                                             \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);          \
      failures++;                                                                \
    }                                                                            \
  } while (0)
#define ASSERT_OK(rc, err)                                                       \
  do {                                                                           \
    if ((rc) != 0) {                                                             \
      fprintf(stderr, "%s:%d: FAILED: %s: %s\n", __FILE__, __LINE__, #rc, err);   \
      failures++;                                                                \
    }                                                                            \
  } while (0)
#define ASSERT_ERR(rc, err, text)                                                \
  do {                                                                           \
    if ((rc) == 0 || !strstr(err, text)) {                                       \
      fprintf(stderr, "%s:%d: FAILED: %s: want an error with \"%s\", got: %s\n", \
              __FILE__, __LINE__, #rc, text, (rc) == 0 ? "success" : err);       \
      failures++;                                                                \
    }                                                                            \
  } while (0)

static char work[1024];
static char err[8192];

static const char *wpath(const char *name) {
  static char buf[8][1200];
  static int k;
  k = (k + 1) % 8;
  snprintf(buf[k], sizeof buf[k], "%s/%s", work, name);
  return buf[k];
}

static int feature_on(const char *features, const char *name) {
  size_t n = strlen(name);
  for (const char *p = features; *p;) {
    size_t len = strcspn(p, ",");
    if (len == n + 1 && p[0] == '+' && !memcmp(p + 1, name, n)) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

/* ---- targets --------------------------------------------------------------------------- */

static void test_host(void) {
  CgTarget t, u;
  ASSERT_OK(cg_target_resolve("host", "native", 2, &t, err, sizeof err), err);
  ASSERT(cg_target_is_host(&t));
  ASSERT(t.cpu[0] && t.features[0] && t.opt_level == 2);
  ASSERT_OK(cg_target_resolve(NULL, NULL, 3, &u, err, sizeof err), err);
  ASSERT(!strcmp(t.triple, u.triple) && !strcmp(t.cpu, u.cpu));
#if defined(__x86_64__) && defined(__linux__)
  ASSERT_OK(cg_target_resolve("x86_64-unknown-linux-gnu", "haswell", 1, &u, err, sizeof err), err);
  ASSERT(cg_target_is_host(&u));       /* the vendor does not matter */
  ASSERT(feature_on(u.features, "avx2") && feature_on(u.features, "fma"));
  ASSERT(!feature_on(u.features, "avx512f"));
#endif
}

static void test_named(void) {
  CgTarget t;
  ASSERT_OK(cg_target_resolve("x86_64-pc-linux-gnu", "znver4", 3, &t, err, sizeof err), err);
  ASSERT(!strcmp(t.cpu, "znver4"));
  ASSERT(feature_on(t.features, "avx512f") && feature_on(t.features, "avx512bf16"));
  ASSERT(!feature_on(t.features, "avx512fp16"));
  ASSERT_OK(cg_target_resolve("x86_64-pc-linux-gnu", "skylake-avx512", 3, &t, err, sizeof err),
            err);
  ASSERT(feature_on(t.features, "avx512bw") && !feature_on(t.features, "avx512bf16"));
  ASSERT_OK(cg_target_resolve("x86_64-pc-linux-gnu", "generic", 3, &t, err, sizeof err), err);
  ASSERT(t.features[0] == 0);
  ASSERT_OK(cg_target_resolve("aarch64-linux-gnu", "neoverse-v1", 3, &t, err, sizeof err), err);
  ASSERT(!strcmp(t.triple, "aarch64-unknown-linux-gnu"));
  /* AArch64 CPUs get the features of modc's table, which the runtime checks in HWCAP */
  ASSERT(!cg_target_is_host(&t) && feature_on(t.features, "sve") && feature_on(t.features, "bf16") &&
         !feature_on(t.features, "sve2"));
  ASSERT_OK(cg_target_resolve("aarch64-linux-gnu", "cortex-a72", 3, &t, err, sizeof err), err);
  ASSERT(feature_on(t.features, "neon") && !feature_on(t.features, "sve") && !feature_on(t.features, "fullfp16"));
}

static void test_target_errors(void) {
  CgTarget t;
  ASSERT_ERR(cg_target_resolve("host", "znver9", 2, &t, err, sizeof err), err,
             "unknown CPU 'znver9'");
  ASSERT(strstr(err, "did you mean 'znver5'"));
  ASSERT_ERR(cg_target_resolve("host", "pentium-9000", 2, &t, err, sizeof err), err,
             "valid names include");
  ASSERT_ERR(cg_target_resolve("aarch64-linux-gnu", "skylake", 2, &t, err, sizeof err), err,
             "CPU 'skylake' is an x86 CPU, but the target is aarch64");
  ASSERT_ERR(cg_target_resolve("nonsense-foo-bar", "generic", 2, &t, err, sizeof err), err,
             "unknown target triple 'nonsense-foo-bar'");
  ASSERT_ERR(cg_target_resolve("aarch64-linux-gnu", "native", 2, &t, err, sizeof err), err,
             "--cpu native needs the host target");
  ASSERT_ERR(cg_target_resolve("host", "native", 4, &t, err, sizeof err), err, "-O0..-O3");
  ASSERT_ERR(cg_target_resolve("x86_64-pc-linux-gnu", "bonnell", 2, &t, err, sizeof err), err,
             "no list of its ISA features");
}

/* clang -march=cpu's predefined macros, started (popen) so that several run at once. */
static FILE *clang_start(const char *clang, const char *cpu) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' --target=x86_64-pc-linux-gnu -march=%s -dM -E -x c /dev/null "
           "2>/dev/null", clang, cpu);
  return popen(cmd, "r");
}

/* Compare the table's features for cpu with the macros clang predefines for -march=cpu. */
static void check_against_clang(FILE *p, const char *cpu) {
  static const char *const feat[][2] = {
    {"sse4.2", "__SSE4_2__"}, {"popcnt", "__POPCNT__"}, {"avx", "__AVX__"},
    {"avx2", "__AVX2__"}, {"fma", "__FMA__"}, {"f16c", "__F16C__"}, {"bmi2", "__BMI2__"},
    {"avx512f", "__AVX512F__"}, {"avx512cd", "__AVX512CD__"}, {"avx512bw", "__AVX512BW__"},
    {"avx512dq", "__AVX512DQ__"}, {"avx512vl", "__AVX512VL__"}, {"evex512", "__EVEX512__"},
    {"avx512vnni", "__AVX512VNNI__"}, {"avx512vbmi", "__AVX512VBMI__"},
    {"avx512bf16", "__AVX512BF16__"}, {"avx512fp16", "__AVX512FP16__"},
    {"avxvnni", "__AVXVNNI__"}, {"amx-tile", "__AMX_TILE__"}, {"amx-bf16", "__AMX_BF16__"},
    {"amx-int8", "__AMX_INT8__"},
  };
  static char macros[65536];
  char line[512];
  CgTarget t;
  macros[0] = 0;
  if (!p) return;
  while (fgets(line, sizeof line, p))
    if (strlen(macros) + strlen(line) < sizeof macros) strcat(macros, line);
  if (pclose(p) != 0) return;     /* clang does not know this CPU: nothing to compare */
  ASSERT_OK(cg_target_resolve("x86_64-pc-linux-gnu", cpu, 2, &t, err, sizeof err), err);
  for (size_t i = 0; i < sizeof feat / sizeof feat[0]; i++) {
    char m[64];
    snprintf(m, sizeof m, "#define %s ", feat[i][1]);
    if (feature_on(t.features, feat[i][0]) != (strstr(macros, m) != NULL)) {
      fprintf(stderr, "cpu %s: feature %s: table %d, clang %d\n", cpu, feat[i][0],
              feature_on(t.features, feat[i][0]), strstr(macros, m) != NULL);
      failures++;
    }
  }
}

static void test_cpu_table(const char *clang) {
  static const char *const cpus[] = {
    "x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "nehalem", "westmere", "sandybridge",
    "ivybridge", "haswell", "broadwell", "skylake", "skylake-avx512", "cascadelake",
    "cooperlake", "cannonlake", "icelake-client", "icelake-server", "tigerlake", "rocketlake",
    "sapphirerapids", "emeraldrapids", "graniterapids", "graniterapids-d", "alderlake",
    "raptorlake", "meteorlake", "arrowlake", "arrowlake-s", "lunarlake", "gracemont",
    "sierraforest", "grandridge", "clearwaterforest", "pantherlake", "goldmont",
    "goldmont-plus", "tremont", "knl", "knm", "btver2", "bdver4", "znver1", "znver2",
    "znver3", "znver4", "znver5",
  };
  enum { N = sizeof cpus / sizeof cpus[0], BATCH = 8 };
  if (!clang || access(clang, X_OK) != 0) {
    printf("skip: no clang to check the CPU feature table against\n");
    return;
  }
  for (int i = 0; i < N; i += BATCH) {
    FILE *p[BATCH];
    for (int k = 0; k < BATCH && i + k < N; k++) p[k] = clang_start(clang, cpus[i + k]);
    for (int k = 0; k < BATCH && i + k < N; k++) check_against_clang(p[k], cpus[i + k]);
  }
}

/* ---- the model ------------------------------------------------------------------------- */

/* Forward: out = a + b over [2,8]; session: the same over [s0,8] rows. */
static const char forward_ir[] =
  "graph @forward_t2 mode = forward syms = [] arena = 0 {\n"
  "  %0 = input {name = \"tokens\"} : i32[2] @tokens\n"
  "  %1 = weight {name = \"a\", offset = 0} : f32[2,8] @weights+0\n"
  "  %2 = weight {name = \"b\", offset = 64} : f32[2,8] @weights+64\n"
  "  %3 = add %1, %2 : f32[2,8] @out #ew{vw = 4, par_min = 131072}\n"
  "  %4 = output %3 {name = \"logits\"} : f32[2,8] @out\n"
  "}\n";
static const char session_ir[] =
  "graph @session mode = session syms = [s0 <= 4] arena = 128 {\n"
  "  %0 = weight {name = \"a\", offset = 0} : f32[s0,8] @weights+0\n"
  "  %1 = weight {name = \"b\", offset = 64} : f32[s0,8] @weights+64\n"
  "  %2 = add %0, %1 : f32[s0,8] @out #ew{vw = 4, par_min = 131072}\n"
  "  %3 = output %2 {name = \"logits\"} : f32[s0,8] @out\n"
  "}\n";

static float blob[32];             /* a = blob[0..16), b = blob[16..32) */
static Spec spec;
static Graph *graphs[2];
static char weights_path[1200];

static uint64_t fnv1a64(const void *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
  return h;
}

static void write_weights(const char *path) {
  uint8_t hdr[MODC_WEIGHTS_HEADER] = {0};
  uint64_t hash = fnv1a64(blob, sizeof blob), size = sizeof blob, off = MODC_WEIGHTS_HEADER;
  memcpy(hdr, MODC_WEIGHTS_MAGIC, 8);
  memcpy(hdr + 8, &hash, 8);
  memcpy(hdr + 16, &size, 8);
  memcpy(hdr + 24, &off, 8);
  FILE *f = fopen(path, "wb");
  fwrite(hdr, 1, sizeof hdr, f);
  fwrite(blob, 1, sizeof blob, f);
  fclose(f);
}

static int setup_model(void) {
  for (int i = 0; i < 32; i++) blob[i] = (float)(i < 16 ? i : 100 * (i - 15));
  memset(&spec, 0, sizeof spec);
  strcpy(spec.name, "cgtest");
  strcpy(spec.path, "specs/cgtest.yaml");
  spec.vocab_size = 8, spec.d_model = 8, spec.n_layers = 2, spec.n_heads = 2;
  spec.n_kv_heads = 1, spec.d_ff = 16, spec.max_seq_len = 4, spec.threads = 1;
  spec.routed[1] = 1, spec.capacity[0] = 1.0, spec.capacity[1] = 0.25;
  spec.n_shapes = 1, spec.shapes[0][0] = 1, spec.shapes[0][1] = 2;
  spec.weights_dtype = DT_F32;
  graphs[0] = graph_parse(forward_ir, "forward_ir", err, sizeof err);
  if (!graphs[0]) return fprintf(stderr, "%s\n", err), -1;
  graphs[1] = graph_parse(session_ir, "session_ir", err, sizeof err);
  if (!graphs[1]) return fprintf(stderr, "%s\n", err), -1;
  snprintf(weights_path, sizeof weights_path, "%s", wpath("cgtest.weights"));
  write_weights(weights_path);
  return 0;
}

static CgModel model(const char *embed) {
  CgModel m = {&spec, &graphs[0], graphs[1], fnv1a64(blob, sizeof blob), (int64_t)sizeof blob,
               "cgtest.weights", embed};
  return m;
}

/* ---- the library ----------------------------------------------------------------------- */

/* modc__desc is hidden (the runtime declares it so); find it through the symbol table. */
static const modc_desc *find_desc(void *lib, const char *so) {
  char cmd[1400], line[512];
  unsigned long long addr = 0;
  struct link_map *lm = NULL;
  snprintf(cmd, sizeof cmd, "nm '%s' 2>/dev/null", so);
  FILE *p = popen(cmd, "r");
  if (!p) return NULL;
  while (fgets(line, sizeof line, p)) {
    char type, name[256];
    unsigned long long a;
    if (sscanf(line, "%llx %c %255s", &a, &type, name) == 3 && !strcmp(name, "modc__desc"))
      addr = a;
  }
  pclose(p);
  if (!addr || dlinfo(lib, RTLD_DI_LINKMAP, &lm) != 0) return NULL;
  return (const modc_desc *)(lm->l_addr + addr);
}

static void check_desc(void *lib, const modc_desc *d, const CgTarget *t) {
  ASSERT(d->abi_version == MODC_ABI_VERSION);
  ASSERT(!strcmp(d->name, "cgtest") && !strcmp(d->triple, t->triple));
  ASSERT(!strcmp(d->cpu, t->cpu) && !strcmp(d->features, t->features));
  ASSERT(d->vocab_size == 8 && d->d_model == 8 && d->n_layers == 2 && d->n_heads == 2);
  ASSERT(d->n_kv_heads == 1 && d->head_dim == 4 && d->max_seq_len == 4);
  ASSERT(d->default_threads == 1 && d->weights_size == sizeof blob);
  ASSERT(d->weights_hash == fnv1a64(blob, sizeof blob));
  ASSERT(d->weights_embedded && (uintptr_t)d->weights_embedded % 64 == 0);
  ASSERT(d->weights_embedded && !memcmp(d->weights_embedded, blob, sizeof blob));
  ASSERT(!strcmp(d->weights_file, "cgtest.weights"));
  ASSERT(d->capacity[0] == 1.0f && d->capacity[1] == 0.25f);
  ASSERT(d->routed[0] == 0 && d->routed[1] == 1);
  ASSERT(d->n_shapes == 1 && d->shapes[0] == 1 && d->shapes[1] == 2);
  ASSERT((void *)d->forward[0] == dlsym(lib, "modc__graph_forward_t2"));
  ASSERT(d->forward_arena[0] == 0 && d->forward_nsym[0] == 0);
  ASSERT((void *)d->session == dlsym(lib, "modc__graph_session"));
  ASSERT(d->session_arena == 128 && d->session_nsym == 1);
}

/* The session graph reads its row count from dims[0] at run time. */
static void check_session_graph(void *lib) {
  modc_graph_fn fn = (modc_graph_fn)dlsym(lib, "modc__graph_session");
  float out[16];
  int64_t dims[1] = {1};
  modc_exec x = {0};
  x.weights = (const uint8_t *)blob, x.out = out, x.dims = dims, x.nthreads = 1;
  for (int i = 0; i < 16; i++) out[i] = -1;
  ASSERT(fn != NULL);
  if (!fn) return;
  fn(&x);
  for (int i = 0; i < 16; i++) ASSERT(out[i] == (i < 8 ? blob[i] + blob[16 + i] : -1));
}

static void check_forward(void *lib) {
  int (*open)(const char *, int, modc_model **) = (int (*)(const char *, int, modc_model **))dlsym(lib, "modc_open");
  int (*fwd)(modc_model *, int, int, const int32_t *, float *) = (int (*)(modc_model *, int, int, const int32_t *, float *))dlsym(lib, "modc_forward");
  const modc_info *(*info)(const modc_model *) = (const modc_info *(*)(const modc_model *))dlsym(lib, "modc_get_info");
  void (*close_)(modc_model *) = (void (*)(modc_model *))dlsym(lib, "modc_close");
  modc_model *m = NULL;
  ASSERT(open && fwd && info && close_);
  if (!open || !fwd || !info || !close_) return;
  ASSERT(open(NULL, 1, &m) == 0);   /* the embedded weights */
  if (!m) return;
  ASSERT(info(m)->vocab_size == 8 && info(m)->n_shapes == 1 && info(m)->capacity[1] == 0.25f);
  int32_t tokens[2] = {3, 5};
  float logits[16];
  ASSERT(fwd(m, 1, 2, tokens, logits) == 0);
  for (int i = 0; i < 16; i++) ASSERT(logits[i] == blob[i] + blob[16 + i]);
  close_(m);
}

/* Every symbol the library exports is part of the ABI. */
static void check_exports(const char *so) {
  char cmd[1400], line[512];
  int n = 0;
  snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s' 2>/dev/null", so);
  FILE *p = popen(cmd, "r");
  if (!p) return;
  while (fgets(line, sizeof line, p)) {
    char type, name[256];
    unsigned long long a;
    if (sscanf(line, "%llx %c %255s", &a, &type, name) != 3) continue;
    n++;
    if (strncmp(name, "modc_", 5) || !strncmp(name, "modc_rt_", 8)) {
      fprintf(stderr, "%s exports %s\n", so, name);
      failures++;
    }
  }
  pclose(p);
  if (!n) printf("skip: nm -D found no symbols (no binutils?)\n");
}

static void test_library(const CgTarget *t) {
  CgModel m = model(weights_path);
  const char *obj = wpath("cgtest.o"), *so = wpath("lib cgtest.so");  /* a space, on purpose */
  ASSERT_OK(cg_emit(&m, graphs, 2, t, EMIT_OBJ, obj, err, sizeof err), err);
  ASSERT_OK(cg_link_shared(obj, so, err, sizeof err), err);
  void *lib = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "dlopen %s: %s\n", so, dlerror());
    failures++;
    return;
  }
  const modc_desc *d = find_desc(lib, so);
  if (d) check_desc(lib, d, t);
  else printf("skip: modc__desc not found with nm\n");
  check_session_graph(lib);
  check_forward(lib);
  check_exports(so);
  dlclose(lib);
}

static int same_file(const char *a, const char *b) {
  FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
  int same = f && g, x, y;
  while (same && ((x = getc(f)) != EOF) | ((y = getc(g)) != EOF)) same = x == y;
  if (f) fclose(f);
  if (g) fclose(g);
  return same;
}

static void test_determinism(const CgTarget *t) {
  static const struct { EmitKind k; const char *a, *b; } kinds[] = {
    {EMIT_OBJ, "d1.o", "d2.o"}, {EMIT_ASM, "d1.s", "d2.s"}, {EMIT_LLVM, "d1.ll", "d2.ll"},
  };
  CgModel m = model(weights_path);
  for (int i = 0; i < 3; i++) {
    ASSERT_OK(cg_emit(&m, graphs, 2, t, kinds[i].k, wpath(kinds[i].a), err, sizeof err), err);
    ASSERT_OK(cg_emit(&m, graphs, 2, t, kinds[i].k, wpath(kinds[i].b), err, sizeof err), err);
    ASSERT(same_file(wpath(kinds[i].a), wpath(kinds[i].b)));
  }
  for (int opt = 0; opt <= 3; opt += 3) {   /* "default<O0>" and "default<O3>" */
    CgTarget u = *t;
    u.opt_level = opt;
    ASSERT_OK(cg_emit(&m, graphs, 2, &u, EMIT_OBJ, wpath("opt.o"), err, sizeof err), err);
  }
}

static void test_foreign(void) {
  CgTarget t;
  unsigned char e[20] = {0};
  CgModel m = model(NULL);
  ASSERT_OK(cg_target_resolve("aarch64-linux-gnu", "neoverse-v1", 2, &t, err, sizeof err), err);
  ASSERT_OK(cg_emit(&m, graphs, 2, &t, EMIT_OBJ, wpath("a64.o"), err, sizeof err), err);
  FILE *f = fopen(wpath("a64.o"), "rb");
  if (f) {
    ASSERT(fread(e, 1, sizeof e, f) == sizeof e);
    fclose(f);
  }
  ASSERT(!memcmp(e, ELFMAG, SELFMAG) && (e[18] | e[19] << 8) == EM_AARCH64);
}

static void test_emit_errors(const CgTarget *t) {
  CgModel m = model(wpath("missing.weights"));
  ASSERT_ERR(cg_emit(&m, graphs, 2, t, EMIT_OBJ, wpath("x.o"), err, sizeof err), err,
             "cannot embed weights");
  Graph *g = graph_parse("graph @bad mode = forward syms = [] arena = 0 {\n"
                         "  %0 = weight {name = \"a\", offset = 0} : f32[2,8] @weights+0\n"
                         "  %1 = add %0, %0 : f32[2,8]\n}\n", "bad", err, sizeof err);
  ASSERT(g != NULL);
  if (g)
    ASSERT_ERR(cg_emit(NULL, &g, 1, t, EMIT_OBJ, wpath("x.o"), err, sizeof err), err,
               "has no storage");
  graph_free(g);
  ASSERT_ERR(cg_link_shared(wpath("missing.o"), wpath("libx.so"), err, sizeof err), err,
             "linking");
}

/* ---- the header ------------------------------------------------------------------------ */

static void test_header(void) {
  const char *h = wpath("cgtest.h"), *c = wpath("use_header.c");
  ASSERT_OK(cg_write_header(&spec, h, err, sizeof err), err);
  ASSERT_OK(cg_write_header(&spec, wpath("cgtest2.h"), err, sizeof err), err);
  ASSERT(same_file(h, wpath("cgtest2.h")));
  FILE *f = fopen(c, "w");
  fprintf(f, "#include \"cgtest.h\"\n#include \"cgtest.h\"\n"
             "_Static_assert(CGTEST_VOCAB_SIZE == 8 && CGTEST_D_MODEL == 8, \"\");\n"
             "_Static_assert(CGTEST_N_LAYERS == 2 && CGTEST_HEAD_DIM == 4, \"\");\n"
             "_Static_assert(CGTEST_MAX_SEQ_LEN == 4 && MODC_ABI_VERSION == 1, \"\");\n"
             "int use(void) { modc_model *m; return modc_open(0, 0, &m); }\n");
  fclose(f);
  const char *cc = getenv("MODC_CC") ? getenv("MODC_CC") : MODC_CC;
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s -std=c11 -fsyntax-only -Wall -Wextra -Werror '%s'", cc, c);
  ASSERT(system(cmd) == 0);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_module WORKDIR [CLANG]\n");
    return 2;
  }
  snprintf(work, sizeof work, "%s", argv[1]);
  mkdir(work, 0777);
  test_host();
  test_named();
  test_target_errors();
  test_cpu_table(argc > 2 ? argv[2] : NULL);
  if (setup_model()) return 1;
  CgTarget host;
  ASSERT_OK(cg_target_resolve("host", "native", 2, &host, err, sizeof err), err);
  test_library(&host);
  test_determinism(&host);
  test_foreign();
  test_emit_errors(&host);
  test_header();
  graph_free(graphs[0]);
  graph_free(graphs[1]);
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  else printf("ok\n");
  return failures ? 1 : 0;
}
