/* target.h: the target model, one description of the CPU a library is compiled for.
 *
 * Everything the scheduling heuristics (passes/schedule.c), the weight packer and codegen
 * need to know about a target comes from here: vector width and register count, FMA pipes,
 * cache sizes, the cores the library will run on, and ISA features.  A description is built
 * from the resolved (triple, CPU name, LLVM feature string): the features decide the vector
 * ISA, a table of CPU families gives the caches and FMA pipes, and for --cpu native the
 * host's own caches (sysfs) and online CPU count replace the table's.  It is plain C (no
 * LLVM), so passes and tools can build one from a CPU name alone.
 */
#ifndef MODC_TARGET_H
#define MODC_TARGET_H

#include <stdint.h>
#include <stdio.h>

typedef enum { ARCH_X86_64, ARCH_AARCH64, ARCH_OTHER } TargetArch;

/* X(bit, LLVM feature name) */
#define TARGET_FEATURES(X) \
  X(TF_AVX, "avx") X(TF_AVX2, "avx2") X(TF_FMA, "fma") X(TF_AVX512F, "avx512f") \
  X(TF_AVX512BF16, "avx512bf16") X(TF_AMX_BF16, "amx-bf16") X(TF_NEON, "neon") X(TF_SVE, "sve")

enum {
#define X(e, s) e##_BIT,
  TARGET_FEATURES(X)
#undef X
  TF_COUNT
};
#define X(e, s) enum { e = 1u << e##_BIT };
TARGET_FEATURES(X)
#undef X

typedef struct TargetDesc {
  char cpu[64];             /* LLVM CPU name ("native" resolved to the host's) */
  TargetArch arch;
  int vw;                   /* f32 lanes of the vectors kernels use: 16 AVX-512, 8 AVX/AVX2, 4 else */
  int vregs;                /* architectural vector registers at that width: 32 or 16 */
  int fma_units;            /* vector FMA pipes per core */
  int64_t l1d, l2;          /* data cache bytes per core */
  int64_t l3;               /* last-level cache bytes, the whole (shared) cache */
  int cores;                /* cores the library is scheduled for; 0 = unknown */
  unsigned features;        /* TF_* */
} TargetDesc;

/* The description of (triple, cpu, features); host: the machine this runs on is the target
 * (its caches and cores are read from sysfs).  cores > 0 overrides the core count (the
 * spec's compile.threads).  Never fails: unknown CPUs get their family's or generic caches. */
void target_describe(const char *triple, const char *cpu, const char *features, int host, int cores,
                     TargetDesc *out);

/* Fixed description for callers that name no target (tests, modc-opt without --cpu), the
 * same on every host: AVX-512-sized tiles, 32-wide panels (a multiple of every vector
 * width), a 48 KiB / 1 MiB / 32 MiB cache hierarchy, unknown cores. */
void target_default(TargetDesc *out);

/* Is "+name" an entry of the comma-separated LLVM feature list ("+avx2,-amx-tile,...")? */
int target_feature_on(const char *features, const char *name);

/* One line: "cpu=haswell vw=8 vregs=16 fma=2 l1d=32K l2=256K l3=8M cores=0 +avx,+avx2,+fma". */
void target_format(const TargetDesc *t, char *buf, size_t n);

#endif
