/* cpu.c: does the running CPU have the ISA extensions the library was compiled for?
 *
 * modc__desc.features is the LLVM feature string the kernels were built with
 * ("+avx2,+avx512f,-amx-tile,...").  Each "+name" that is an x86 ISA extension in the table
 * below is looked up with CPUID, and those that need OS-managed register state (AVX, AVX-512,
 * AMX) also with XGETBV.  Names not in the table (tuning flags, "+64bit", other targets) are
 * not checked: a missing entry can only let a library load, never refuse a good CPU.
 * modc_open fails with MODC_ERR_CPU naming every missing extension, instead of dying of
 * SIGILL in the first kernel.  On AArch64 Linux the same is done with the kernel's HWCAP and
 * HWCAP2 bits (getauxval) for the features codegen's table lists (neon, fullfp16, dotprod,
 * sve, sve2, bf16, i8mm, ...).  Other builds check nothing.
 */
#include <stdio.h>
#include <string.h>
#include "internal.h"

#if defined(__x86_64__) || (defined(__aarch64__) && defined(__linux__))
/* Append name[0..len) to missing[n] after a ", " when it is not the first. */
static void append_name(char *missing, size_t n, int count, const char *name, size_t len) {
  if (!missing || !n) return;
  size_t used = strlen(missing);
  snprintf(missing + used, n - used, "%s%.*s", count ? ", " : "", (int)len, name);
}
#endif

#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { EAX, EBX, ECX, EDX };
enum { OS_NONE, OS_AVX, OS_AVX512, OS_AMX };

typedef struct {
  const char *name;          /* LLVM feature name */
  unsigned leaf, sub;        /* CPUID leaf / subleaf */
  unsigned char reg, bit;    /* register and bit of the flag */
  unsigned char os;          /* register state the OS must enable (XCR0) */
} CpuFeature;

static const CpuFeature cpu_features[] = {
  {"cx8", 1, 0, EDX, 8, OS_NONE},        {"cmov", 1, 0, EDX, 15, OS_NONE},
  {"mmx", 1, 0, EDX, 23, OS_NONE},       {"fxsr", 1, 0, EDX, 24, OS_NONE},
  {"sse", 1, 0, EDX, 25, OS_NONE},       {"sse2", 1, 0, EDX, 26, OS_NONE},
  {"sse3", 1, 0, ECX, 0, OS_NONE},       {"pclmul", 1, 0, ECX, 1, OS_NONE},
  {"ssse3", 1, 0, ECX, 9, OS_NONE},      {"fma", 1, 0, ECX, 12, OS_AVX},
  {"cx16", 1, 0, ECX, 13, OS_NONE},      {"sse4.1", 1, 0, ECX, 19, OS_NONE},
  {"sse4.2", 1, 0, ECX, 20, OS_NONE},    {"crc32", 1, 0, ECX, 20, OS_NONE},
  {"movbe", 1, 0, ECX, 22, OS_NONE},     {"popcnt", 1, 0, ECX, 23, OS_NONE},
  {"aes", 1, 0, ECX, 25, OS_NONE},       {"xsave", 1, 0, ECX, 26, OS_NONE},
  {"avx", 1, 0, ECX, 28, OS_AVX},        {"f16c", 1, 0, ECX, 29, OS_AVX},
  {"rdrnd", 1, 0, ECX, 30, OS_NONE},
  {"fsgsbase", 7, 0, EBX, 0, OS_NONE},   {"bmi", 7, 0, EBX, 3, OS_NONE},
  {"avx2", 7, 0, EBX, 5, OS_AVX},        {"bmi2", 7, 0, EBX, 8, OS_NONE},
  {"invpcid", 7, 0, EBX, 10, OS_NONE},   {"avx512f", 7, 0, EBX, 16, OS_AVX512},
  {"evex512", 7, 0, EBX, 16, OS_AVX512}, {"avx512dq", 7, 0, EBX, 17, OS_AVX512},
  {"rdseed", 7, 0, EBX, 18, OS_NONE},    {"adx", 7, 0, EBX, 19, OS_NONE},
  {"avx512ifma", 7, 0, EBX, 21, OS_AVX512}, {"clflushopt", 7, 0, EBX, 23, OS_NONE},
  {"clwb", 7, 0, EBX, 24, OS_NONE},      {"avx512cd", 7, 0, EBX, 28, OS_AVX512},
  {"sha", 7, 0, EBX, 29, OS_NONE},       {"avx512bw", 7, 0, EBX, 30, OS_AVX512},
  {"avx512vl", 7, 0, EBX, 31, OS_AVX512},
  {"avx512vbmi", 7, 0, ECX, 1, OS_AVX512}, {"pku", 7, 0, ECX, 3, OS_NONE},
  {"waitpkg", 7, 0, ECX, 5, OS_NONE},    {"avx512vbmi2", 7, 0, ECX, 6, OS_AVX512},
  {"shstk", 7, 0, ECX, 7, OS_NONE},      {"gfni", 7, 0, ECX, 8, OS_NONE},
  {"vaes", 7, 0, ECX, 9, OS_AVX},        {"vpclmulqdq", 7, 0, ECX, 10, OS_AVX},
  {"avx512vnni", 7, 0, ECX, 11, OS_AVX512}, {"avx512bitalg", 7, 0, ECX, 12, OS_AVX512},
  {"avx512vpopcntdq", 7, 0, ECX, 14, OS_AVX512}, {"rdpid", 7, 0, ECX, 22, OS_NONE},
  {"movdiri", 7, 0, ECX, 27, OS_NONE},   {"movdir64b", 7, 0, ECX, 28, OS_NONE},
  {"avx512vp2intersect", 7, 0, EDX, 8, OS_AVX512}, {"serialize", 7, 0, EDX, 14, OS_NONE},
  {"amx-bf16", 7, 0, EDX, 22, OS_AMX},   {"avx512fp16", 7, 0, EDX, 23, OS_AVX512},
  {"amx-tile", 7, 0, EDX, 24, OS_AMX},   {"amx-int8", 7, 0, EDX, 25, OS_AMX},
  {"avxvnni", 7, 1, EAX, 4, OS_AVX},     {"avx512bf16", 7, 1, EAX, 5, OS_AVX512},
  {"cmpccxadd", 7, 1, EAX, 7, OS_NONE},  {"amx-fp16", 7, 1, EAX, 21, OS_AMX},
  {"avxifma", 7, 1, EAX, 23, OS_AVX},
  {"avxvnniint8", 7, 1, EDX, 4, OS_AVX}, {"avxneconvert", 7, 1, EDX, 5, OS_AVX},
  {"amx-complex", 7, 1, EDX, 8, OS_AMX}, {"avxvnniint16", 7, 1, EDX, 10, OS_AVX},
  {"xsaveopt", 0xd, 1, EAX, 0, OS_NONE}, {"xsavec", 0xd, 1, EAX, 1, OS_NONE},
  {"xsaves", 0xd, 1, EAX, 3, OS_NONE},
  {"sahf", 0x80000001u, 0, ECX, 0, OS_NONE}, {"lzcnt", 0x80000001u, 0, ECX, 5, OS_NONE},
  {"sse4a", 0x80000001u, 0, ECX, 6, OS_NONE}, {"prfchw", 0x80000001u, 0, ECX, 8, OS_NONE},
  {"xop", 0x80000001u, 0, ECX, 11, OS_AVX}, {"fma4", 0x80000001u, 0, ECX, 16, OS_AVX},
  {"tbm", 0x80000001u, 0, ECX, 21, OS_NONE}, {"mwaitx", 0x80000001u, 0, ECX, 29, OS_NONE},
  {"clzero", 0x80000008u, 0, EBX, 0, OS_NONE}, {"rdpru", 0x80000008u, 0, EBX, 4, OS_NONE},
  {"wbnoinvd", 0x80000008u, 0, EBX, 9, OS_NONE},
};

/* XCR0 bits the OS must set: SSE+AVX state; + opmask, ZMM hi256, hi16 ZMM; + tile cfg/data. */
static const uint64_t os_mask[] = {0, 0x6, 0xe6, 0x60006};

static uint64_t read_xcr0(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return 0;   /* OSXSAVE */
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

static int cpu_has(const CpuFeature *f, uint64_t xcr0) {
  unsigned r[4] = {0, 0, 0, 0};
  if (!__get_cpuid_count(f->leaf, f->sub, &r[EAX], &r[EBX], &r[ECX], &r[EDX])) return 0;
  if (!(r[f->reg] >> f->bit & 1)) return 0;
  return (xcr0 & os_mask[f->os]) == os_mask[f->os];
}

static const CpuFeature *find_feature(const char *name, size_t len) {
  for (size_t i = 0; i < sizeof cpu_features / sizeof cpu_features[0]; i++)
    if (strlen(cpu_features[i].name) == len && !memcmp(cpu_features[i].name, name, len))
      return &cpu_features[i];
  return NULL;
}

int modc_rt_missing_features(const char *features, char *missing, size_t n) {
  if (missing && n) missing[0] = 0;
  if (!features) return 0;
  uint64_t xcr0 = read_xcr0();
  int count = 0;
  for (const char *p = features; *p;) {
    size_t len = strcspn(p, ",");
    const CpuFeature *f = p[0] == '+' ? find_feature(p + 1, len - 1) : NULL;
    if (f && !cpu_has(f, xcr0)) append_name(missing, n, count++, p + 1, len - 1);
    p += len + (p[len] == ',');
  }
  return count;
}

/* Linux hands out AMX tile data state only on request (arch_prctl ARCH_REQ_XCOMP_PERM). */
int rt_cpu_prepare(const char *features) {
  if (!features || !strstr(features, "+amx-")) return 0;
#if defined(__linux__)
  if (syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) != 0)
    return rt_error(MODC_ERR_CPU, "modc_open: the OS refused AMX tile state needed by this "
                    "library; recompile with --cpu native");
#endif
  return 0;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

typedef struct {
  const char *name;          /* LLVM feature name */
  unsigned char hwcap2;      /* 0: AT_HWCAP, 1: AT_HWCAP2 */
  unsigned char bit;
} ArmFeature;

/* Linux's arch/arm64/include/uapi/asm/hwcap.h */
static const ArmFeature arm_features[] = {
  {"fp-armv8", 0, 0}, {"neon", 0, 1}, {"crc", 0, 7}, {"lse", 0, 8}, {"fullfp16", 0, 9},
  {"rcpc", 0, 15}, {"dotprod", 0, 20}, {"sve", 0, 22},
  {"sve2", 1, 1}, {"i8mm", 1, 13}, {"bf16", 1, 14},
};

int modc_rt_missing_features(const char *features, char *missing, size_t n) {
  if (missing && n) missing[0] = 0;
  if (!features) return 0;
  unsigned long caps[2] = {getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
  int count = 0;
  for (const char *p = features; *p;) {
    size_t len = strcspn(p, ",");
    for (size_t i = 0; p[0] == '+' && i < sizeof arm_features / sizeof arm_features[0]; i++) {
      const ArmFeature *f = &arm_features[i];
      if (strlen(f->name) == len - 1 && !memcmp(f->name, p + 1, len - 1) && !(caps[f->hwcap2] >> f->bit & 1))
        append_name(missing, n, count++, p + 1, len - 1);
    }
    p += len + (p[len] == ',');
  }
  return count;
}

int rt_cpu_prepare(const char *features) { (void)features; return 0; }

#else /* neither: the target triple was checked at compile time; nothing to query */

int modc_rt_missing_features(const char *features, char *missing, size_t n) {
  (void)features;
  if (missing && n) missing[0] = 0;
  return 0;
}

int rt_cpu_prepare(const char *features) { (void)features; return 0; }

#endif
