/* target.c: the target model (target.h): vector ISA from the feature string, caches and FMA
 * pipes from a table of CPU families (or, for the host, from sysfs), cores from the host or
 * the spec.  The table's figures are the vendors' published per-core sizes; a CPU missing
 * from it gets its architecture's generic row, so an unknown name never fails here (codegen
 * has already checked that LLVM knows it). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "target.h"

#define K 1024LL
#define M (1024LL * 1024LL)

typedef struct CpuRow {
  const char *prefix;       /* CPU names starting with this (the longest match wins) */
  int fma_units;
  int64_t l1d, l2, l3;
} CpuRow;

static const CpuRow cpu_rows[] = {
  /* x86-64 generic levels first: the fallback rows */
  {"x86-64", 2, 32 * K, 256 * K, 8 * M}, {"generic", 2, 32 * K, 256 * K, 8 * M},
  {"haswell", 2, 32 * K, 256 * K, 8 * M}, {"broadwell", 2, 32 * K, 256 * K, 8 * M},
  {"skylake", 2, 32 * K, 256 * K, 8 * M}, {"skylake-avx512", 2, 32 * K, 1 * M, 32 * M},
  {"cascadelake", 2, 32 * K, 1 * M, 32 * M}, {"cooperlake", 2, 32 * K, 1 * M, 38 * M},
  {"cannonlake", 1, 32 * K, 256 * K, 4 * M}, {"icelake-client", 1, 48 * K, 512 * K, 8 * M},
  {"icelake-server", 2, 48 * K, 1280 * K, 48 * M}, {"tigerlake", 1, 48 * K, 1280 * K, 12 * M},
  {"rocketlake", 1, 48 * K, 512 * K, 16 * M}, {"sapphirerapids", 2, 48 * K, 2 * M, 105 * M},
  {"emeraldrapids", 2, 48 * K, 2 * M, 320 * M}, {"graniterapids", 2, 48 * K, 2 * M, 480 * M},
  {"alderlake", 2, 48 * K, 1280 * K, 30 * M}, {"raptorlake", 2, 48 * K, 2 * M, 36 * M},
  {"meteorlake", 2, 48 * K, 2 * M, 24 * M}, {"arrowlake", 2, 48 * K, 3 * M, 36 * M},
  {"lunarlake", 2, 48 * K, 2560 * K, 12 * M}, {"znver1", 2, 32 * K, 512 * K, 16 * M},
  {"znver2", 2, 32 * K, 512 * K, 16 * M}, {"znver3", 2, 32 * K, 512 * K, 32 * M},
  {"znver4", 2, 32 * K, 1 * M, 32 * M}, {"znver5", 2, 48 * K, 1 * M, 32 * M},
  /* aarch64 */
  {"cortex-a53", 1, 32 * K, 512 * K, 1 * M}, {"cortex-a72", 2, 32 * K, 1 * M, 2 * M},
  {"cortex-a76", 2, 64 * K, 512 * K, 4 * M}, {"neoverse-n1", 2, 64 * K, 1 * M, 32 * M},
  {"neoverse-n2", 2, 64 * K, 1 * M, 32 * M}, {"neoverse-v1", 4, 64 * K, 1 * M, 32 * M},
  {"neoverse-v2", 4, 64 * K, 2 * M, 64 * M}, {"apple-m1", 4, 128 * K, 12 * M, 12 * M},
};
#define NROWS ((int)(sizeof cpu_rows / sizeof cpu_rows[0]))

static const CpuRow *cpu_row(const char *cpu, TargetArch arch) {
  const CpuRow *best = NULL;
  size_t bestn = 0;
  for (int i = 0; i < NROWS; i++) {
    size_t n = strlen(cpu_rows[i].prefix);
    if (n > bestn && !strncmp(cpu, cpu_rows[i].prefix, n)) best = &cpu_rows[i], bestn = n;
  }
  if (best || !strcmp(cpu, "generic")) return best ? best : &cpu_rows[0];
  return cpu_row(arch == ARCH_AARCH64 ? "neoverse-n1" : "generic", arch);
}

int target_feature_on(const char *features, const char *name) {
  size_t n = strlen(name);
  for (const char *p = features; p && *p;) {
    size_t len = strcspn(p, ",");
    if (len == n + 1 && p[0] == '+' && !memcmp(p + 1, name, n)) return 1;
    p += len + (p[len] == ',');
  }
  return 0;
}

static TargetArch arch_of(const char *triple) {
  if (!strncmp(triple, "x86_64", 6) || !strncmp(triple, "amd64", 5)) return ARCH_X86_64;
  if (!strncmp(triple, "aarch64", 7) || !strncmp(triple, "arm64", 5)) return ARCH_AARCH64;
  return ARCH_OTHER;
}

static unsigned feature_bits(const char *features, TargetArch arch) {
  static const char *const names[TF_COUNT] = {
#define X(e, s) [e##_BIT] = s,
    TARGET_FEATURES(X)
#undef X
  };
  unsigned f = 0;
  for (int i = 0; i < TF_COUNT; i++)
    if (target_feature_on(features, names[i])) f |= 1u << i;
  if (arch == ARCH_AARCH64) f |= TF_NEON; /* NEON is baseline on AArch64; LLVM lists it or not */
  return f;
}

/* Vector width and registers: AVX-512 32 zmm, AVX/AVX2 16 ymm, SSE 16 xmm, NEON 32 q. */
static void vector_isa(TargetDesc *t) {
  if (t->features & TF_AVX512F) t->vw = 16, t->vregs = 32;
  else if (t->features & (TF_AVX2 | TF_AVX)) t->vw = 8, t->vregs = 16;
  else t->vw = 4, t->vregs = t->arch == ARCH_AARCH64 ? 32 : 16;
}

/* The host's data cache of a level (1 data, 2, 3 unified) from sysfs; 0 if unknown. */
static int64_t sysfs_cache(int level) {
  for (int i = 0; i < 8; i++) {
    char path[96], type[32] = "", size[32] = "";
    int lv = 0;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fscanf(f, "%d", &lv) != 1) lv = 0;
    fclose(f);
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
    if ((f = fopen(path, "r"))) { if (fscanf(f, "%31s", type) != 1) type[0] = 0; fclose(f); }
    if (lv != level || !strcmp(type, "Instruction")) continue;
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
    if (!(f = fopen(path, "r"))) return 0;
    char *end;
    if (fscanf(f, "%31s", size) != 1) size[0] = 0;
    fclose(f);
    int64_t v = strtoll(size, &end, 10);
    return *end == 'K' ? v * K : *end == 'M' ? v * M : v;
  }
  return 0;
}

static void host_caches(TargetDesc *t) {
  int64_t l1 = sysfs_cache(1), l2 = sysfs_cache(2), l3 = sysfs_cache(3);
  if (l1 > 0) t->l1d = l1;
  if (l2 > 0) t->l2 = l2;
  if (l3 > 0) t->l3 = l3;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  t->cores = n > 0 ? (int)n : 0;
}

void target_describe(const char *triple, const char *cpu, const char *features, int host, int cores,
                     TargetDesc *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->cpu, sizeof out->cpu, "%s", cpu ? cpu : "generic");
  out->arch = arch_of(triple ? triple : "");
  out->features = feature_bits(features, out->arch);
  vector_isa(out);
  const CpuRow *r = cpu_row(out->cpu, out->arch);
  out->fma_units = r->fma_units;
  out->l1d = r->l1d, out->l2 = r->l2, out->l3 = r->l3;
  if (host) host_caches(out);
  if (cores > 0) out->cores = cores;
}

void target_default(TargetDesc *out) {
  target_describe("x86_64", "generic", "+avx512f", 0, 0, out);
  out->l1d = 48 * K, out->l2 = 1 * M, out->l3 = 32 * M; /* a Zen 5-sized core, fixed */
}

static void size_str(int64_t b, char *buf, size_t n) {
  if (b >= M && b % M == 0) snprintf(buf, n, "%lldM", (long long)(b / M));
  else if (b >= K && b % K == 0) snprintf(buf, n, "%lldK", (long long)(b / K));
  else snprintf(buf, n, "%lld", (long long)b);
}

void target_format(const TargetDesc *t, char *buf, size_t n) {
  static const char *const names[TF_COUNT] = {
#define X(e, s) [e##_BIT] = s,
    TARGET_FEATURES(X)
#undef X
  };
  char l1[24], l2[24], l3[24];
  size_str(t->l1d, l1, sizeof l1), size_str(t->l2, l2, sizeof l2), size_str(t->l3, l3, sizeof l3);
  int w = snprintf(buf, n, "cpu=%s vw=%d vregs=%d fma=%d l1d=%s l2=%s l3=%s cores=%d", t->cpu, t->vw, t->vregs,
                   t->fma_units, l1, l2, l3, t->cores);
  for (int i = 0, first = 1; i < TF_COUNT && w > 0 && (size_t)w < n; i++)
    if (t->features >> i & 1) w += snprintf(buf + w, n - (size_t)w, "%s+%s", first ? " " : ",", names[i]), first = 0;
}
