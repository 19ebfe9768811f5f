/* target.c: --target/--cpu into a (triple, cpu, features) that LLVM accepts, recording the
 * ISA features the library will need (runtime/cpu.c refuses to open on a CPU without them).
 *
 * Named CPUs: the LLVM C API reports the host's features but not a named CPU's, so for
 * x86 and AArch64 tables below list the ISA features each CPU implies that a kernel could
 * use (x86 checked against clang by tests/codegen/test_module.c); LLVM itself still derives
 * everything else from the name.
 * Whether LLVM knows a CPU at all is learnt from its own "is not a recognized processor"
 * diagnostic, caught on stderr while a probe target machine is created.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cg.h"

int cg_fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

void cg_llvm_init(void) {
  static int done;
  if (done) return;
  done = 1;
  LLVMInitializeAllTargetInfos();
  LLVMInitializeAllTargets();
  LLVMInitializeAllTargetMCs();
  LLVMInitializeAllAsmPrinters();
  LLVMInitializeAllAsmParsers();
}

/* ---- target ---------------------------------------------------------------------------- */

/* ISA features implied by x86 CPU names (LLVM 19's X86.td, as clang -march=NAME reports). */
#define F_V2 "+sse4.2,+popcnt"
#define F_V3 F_V2 ",+avx,+avx2,+fma,+f16c,+bmi2"
#define F_V4 F_V3 ",+avx512f,+avx512cd,+avx512bw,+avx512dq,+avx512vl,+evex512"
#define F_ICX F_V4 ",+avx512vbmi,+avx512vnni"
#define F_SPR F_ICX ",+avx512bf16,+avx512fp16,+avxvnni,+amx-tile,+amx-bf16,+amx-int8"

typedef struct CpuFeatures {
  const char *cpu, *features;
} CpuFeatures;

/* The features of cpu in table t[n], or NULL when it is not there. */
static const char *table_features(const CpuFeatures *t, int n, const char *cpu) {
  for (int i = 0; i < n; i++)
    if (!strcmp(t[i].cpu, cpu)) return t[i].features;
  return NULL;
}

static const CpuFeatures x86_cpus[] = {
  {"generic", ""}, {"x86-64", ""}, {"x86-64-v2", F_V2}, {"x86-64-v3", F_V3},
  {"x86-64-v4", F_V4},
  {"nehalem", F_V2}, {"westmere", F_V2}, {"sandybridge", F_V2 ",+avx"},
  {"ivybridge", F_V2 ",+avx,+f16c"}, {"haswell", F_V3}, {"broadwell", F_V3},
  {"skylake", F_V3}, {"skylake-avx512", F_V4}, {"cascadelake", F_V4 ",+avx512vnni"},
  {"cooperlake", F_V4 ",+avx512vnni,+avx512bf16"}, {"cannonlake", F_V4 ",+avx512vbmi"},
  {"icelake-client", F_ICX}, {"icelake-server", F_ICX}, {"tigerlake", F_ICX},
  {"rocketlake", F_ICX}, {"sapphirerapids", F_SPR}, {"emeraldrapids", F_SPR},
  {"graniterapids", F_SPR}, {"graniterapids-d", F_SPR},
  {"alderlake", F_V3 ",+avxvnni"}, {"raptorlake", F_V3 ",+avxvnni"},
  {"meteorlake", F_V3 ",+avxvnni"}, {"arrowlake", F_V3 ",+avxvnni"},
  {"arrowlake-s", F_V3 ",+avxvnni"}, {"lunarlake", F_V3 ",+avxvnni"},
  {"gracemont", F_V3 ",+avxvnni"}, {"sierraforest", F_V3 ",+avxvnni"},
  {"grandridge", F_V3 ",+avxvnni"}, {"clearwaterforest", F_V3 ",+avxvnni"},
  {"pantherlake", F_V3 ",+avxvnni"}, {"goldmont", F_V2}, {"goldmont-plus", F_V2},
  {"tremont", F_V2}, {"knl", F_V3 ",+avx512f,+avx512cd,+evex512"},
  {"knm", F_V3 ",+avx512f,+avx512cd,+evex512"}, {"btver2", F_V2 ",+avx,+f16c"},
  {"bdver4", F_V3}, {"znver1", F_V3}, {"znver2", F_V3}, {"znver3", F_V3},
  {"znver4", F_ICX ",+avx512bf16"}, {"znver5", F_ICX ",+avx512bf16,+avxvnni"},
};
#define N_X86_CPUS ((int)(sizeof x86_cpus / sizeof x86_cpus[0]))

/* Shown when a CPU name is refused. */
static const char x86_examples[] = "x86-64-v3, x86-64-v4, haswell, skylake-avx512, "
                                   "icelake-server, sapphirerapids, znver3, znver4, znver5";

static const char *x86_features(const char *cpu) { return table_features(x86_cpus, N_X86_CPUS, cpu); }

/* Features implied by AArch64 CPU names (LLVM 19's AArch64Processors.td): those the runtime
 * can see in the kernel's HWCAP bits (runtime/cpu.c), so a library refuses a CPU that lacks
 * what its kernels may use (SVE above all, which LLVM may pick for any loop). */
#define A_V80 "+fp-armv8,+neon"
#define A_V82 A_V80 ",+crc,+lse,+fullfp16"
#define A_N1 A_V82 ",+rcpc,+dotprod"
#define A_V1 A_N1 ",+sve,+bf16,+i8mm"
#define A_N2 A_V1 ",+sve2"

static const CpuFeatures arm_cpus[] = {
  {"generic", A_V80}, {"cortex-a35", A_V80 ",+crc"}, {"cortex-a53", A_V80 ",+crc"},
  {"cortex-a57", A_V80 ",+crc"}, {"cortex-a72", A_V80 ",+crc"}, {"cortex-a73", A_V80 ",+crc"},
  {"cortex-a55", A_N1}, {"cortex-a75", A_N1}, {"cortex-a76", A_N1}, {"cortex-a77", A_N1},
  {"cortex-a78", A_N1}, {"cortex-x1", A_N1}, {"neoverse-n1", A_N1}, {"neoverse-v1", A_V1},
  {"neoverse-n2", A_N2}, {"neoverse-v2", A_N2}, {"cortex-a710", A_N2}, {"cortex-x2", A_N2},
  {"a64fx", A_V82 ",+sve"}, {"ampere1", A_N1 ",+bf16,+i8mm"}, {"apple-m1", A_N1},
  {"apple-m2", A_N1 ",+bf16,+i8mm"},
};
#define N_ARM_CPUS ((int)(sizeof arm_cpus / sizeof arm_cpus[0]))

static const char arm_examples[] = "generic, cortex-a72, cortex-a76, neoverse-n1, neoverse-v1, "
                                   "neoverse-n2, neoverse-v2, a64fx, ampere1, apple-m1";

static const char *arm_features(const char *cpu) { return table_features(arm_cpus, N_ARM_CPUS, cpu); }

static int is_x86(LLVMTargetRef t) {
  return !strcmp(LLVMGetTargetName(t), "x86-64") || !strcmp(LLVMGetTargetName(t), "x86");
}

static int is_aarch64(LLVMTargetRef t) {
  return !strcmp(LLVMGetTargetName(t), "aarch64") || !strcmp(LLVMGetTargetName(t), "aarch64_be");
}

/* LLVM reports unknown CPUs only as a warning on stderr; these catch what it prints. */
typedef struct ErrCapture {
  int saved;                /* the real stderr, -1 when not capturing */
  FILE *tmp;
} ErrCapture;

static void capture_begin(ErrCapture *cap) {
  fflush(stderr);
  cap->saved = -1;
  cap->tmp = tmpfile();
  if (!cap->tmp) return;
  cap->saved = dup(2);
  if (cap->saved >= 0 && dup2(fileno(cap->tmp), 2) < 0) {
    close(cap->saved);
    cap->saved = -1;
  }
}

/* Restore stderr; what was printed meanwhile goes to buf[n] (empty if not captured). */
static void capture_end(ErrCapture *cap, char *buf, size_t n) {
  size_t got = 0;
  fflush(stderr);
  if (cap->saved >= 0) {
    dup2(cap->saved, 2);
    close(cap->saved);
    rewind(cap->tmp);
    got = fread(buf, 1, n - 1, cap->tmp);
  }
  buf[got] = 0;
  if (cap->tmp) fclose(cap->tmp);
}

/* Create a throw-away target machine for cpu and return what LLVM printed meanwhile. */
static void probe_cpu(LLVMTargetRef t, const char *triple, const char *cpu, char *out,
                      size_t n) {
  ErrCapture cap;
  capture_begin(&cap);
  LLVMTargetMachineRef tm = LLVMCreateTargetMachine(t, triple, cpu, "", LLVMCodeGenLevelNone,
                                                    LLVMRelocPIC, LLVMCodeModelDefault);
  capture_end(&cap, out, n);
  if (tm) LLVMDisposeTargetMachine(tm);
}

static int edit_distance(const char *a, const char *b) {
  int prev[64], cur[64], nb = (int)strlen(b);
  if (nb > 63 || strlen(a) > 63) return 99;
  for (int j = 0; j <= nb; j++) prev[j] = j;
  for (int i = 1; a[i - 1]; i++) {
    cur[0] = i;
    for (int j = 1; j <= nb; j++) {
      int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
      int del = prev[j] + 1, ins = cur[j - 1] + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
    memcpy(prev, cur, sizeof cur);
  }
  return prev[nb];
}

/* From LLVM's "-mcpu=help" listing, the CPU name closest to cpu (best[n], only names at
 * most 3 edits away), and the first few names (some[m]) to show as examples. */
static void cpu_hints(LLVMTargetRef t, const char *triple, const char *cpu, char *best,
                      size_t n, char *some, size_t m) {
  size_t cap = 1 << 16;
  char *list = malloc(cap);
  int bestd = 3, shown = 0;    /* ties go to the later name: znver9 -> znver5 */
  best[0] = some[0] = 0;
  if (!list) return;
  probe_cpu(t, triple, "help", list, cap);
  const char *p = strstr(list, "Available CPUs for this target:");
  for (p = p ? strchr(p, '\n') : NULL; p; p = strchr(p + 1, '\n')) {
    char name[64];
    if (p[1] == '\n') continue;
    if (p[1] != ' ' || sscanf(p + 1, "%63s", name) != 1) break;
    int d = edit_distance(cpu, name);
    if (d <= bestd) bestd = d, snprintf(best, n, "%s", name);
    if (shown < 8 && strlen(some) + strlen(name) + 3 < m)
      strcat(strcat(some, shown++ ? ", " : ""), name);
  }
  free(list);
}

static int unknown_cpu(LLVMTargetRef t, const char *triple, const char *cpu, char *err,
                       size_t errlen) {
  char best[64], some[256];
  if (is_x86(t) ? arm_features(cpu) != NULL : is_aarch64(t) && x86_features(cpu) && strcmp(cpu, "generic"))
    return cg_fail(err, errlen, "CPU '%s' is %s CPU, but the target is %s (CPU lists and --cpu must "
                   "name CPUs of the target's architecture; see --target)", cpu,
                   is_x86(t) ? "an AArch64" : "an x86", triple);
  cpu_hints(t, triple, cpu, best, sizeof best, some, sizeof some);
  return cg_fail(err, errlen, "unknown CPU '%s' for target %s%s%s%s; valid names include %s "
              "(`llc -mtriple=%s -mcpu=help` lists them all), or --cpu native", cpu, triple,
              best[0] ? " (did you mean '" : "", best, best[0] ? "'?)" : "",
              is_x86(t) ? x86_examples : is_aarch64(t) ? arm_examples : some, triple);
}

/* A named CPU: LLVM must know it; on x86 and AArch64 a table must give its features. */
static int resolve_named_cpu(LLVMTargetRef t, CgTarget *out, char *err, size_t errlen) {
  char msg[4096];
  probe_cpu(t, out->triple, out->cpu, msg, sizeof msg);
  if (strstr(msg, "is not a recognized processor"))
    return unknown_cpu(t, out->triple, out->cpu, err, errlen);
  if (!is_x86(t) && !is_aarch64(t)) return 0;  /* features "": LLVM derives them; the runtime checks none */
  const char *f = is_x86(t) ? x86_features(out->cpu) : arm_features(out->cpu);
  if (!f)
    return cg_fail(err, errlen, "CPU '%s' is known to LLVM but modc has no list of its ISA "
                "features, so the library could not refuse a CPU that lacks them; use "
                "--cpu native or one of %s", out->cpu, is_x86(t) ? x86_examples : arm_examples);
  snprintf(out->features, sizeof out->features, "%s", f);
  return 0;
}

static int resolve_native(CgTarget *out, char *err, size_t errlen) {
  if (!cg_target_is_host(out))
    return cg_fail(err, errlen, "--cpu native needs the host target, but the target is %s; name "
                "a CPU for it with --cpu", out->triple);
  char *name = LLVMGetHostCPUName(), *feat = LLVMGetHostCPUFeatures();
  int rc = 0;
  out->native = 1;
  snprintf(out->cpu, sizeof out->cpu, "%s", name);
  if (strlen(feat) >= sizeof out->features)
    rc = cg_fail(err, errlen, "internal error: the host's feature string is %zu bytes, more "
              "than CgTarget holds", strlen(feat));
  else
    snprintf(out->features, sizeof out->features, "%s", feat);
  LLVMDisposeMessage(feat);
  LLVMDisposeMessage(name);
  return rc;
}

/* target "host"/NULL or a triple -> out->triple (normalised) and its LLVM target. */
static int resolve_triple(const char *target, CgTarget *out, LLVMTargetRef *t, char *err,
                          size_t errlen) {
  char *triple = !target || !*target || !strcmp(target, "host")
                     ? LLVMGetDefaultTargetTriple() : LLVMCreateMessage(target);
  char *norm = LLVMNormalizeTargetTriple(triple);
  char *msg = NULL;
  int rc = 0;
  if (strlen(norm) >= sizeof out->triple)
    rc = cg_fail(err, errlen, "target triple '%s' is too long", triple);
  else if (LLVMGetTargetFromTriple(norm, t, &msg))
    rc = cg_fail(err, errlen, "unknown target triple '%s' (%s); `llc --version` lists the "
              "registered targets", triple, msg ? msg : "no LLVM target for it");
  else
    snprintf(out->triple, sizeof out->triple, "%s", norm);
  if (msg) LLVMDisposeMessage(msg);
  LLVMDisposeMessage(norm);
  LLVMDisposeMessage(triple);
  return rc;
}

int cg_target_resolve(const char *target, const char *cpu, int opt_level, CgTarget *out,
                      char *err, size_t errlen) {
  LLVMTargetRef t;
  cg_llvm_init();
  memset(out, 0, sizeof *out);
  if (opt_level < 0 || opt_level > 3)
    return cg_fail(err, errlen, "optimisation level %d is out of range: use -O0..-O3", opt_level);
  out->opt_level = opt_level;
  if (resolve_triple(target, out, &t, err, errlen)) return -1;
  if (!cpu || !*cpu || !strcmp(cpu, "native")) return resolve_native(out, err, errlen);
  if (strchr(cpu, ','))
    return cg_fail(err, errlen, "'%s' is a list of CPUs: only modc compile takes one (a kernel set per "
                   "CPU); name one CPU here", cpu);
  if (strlen(cpu) >= sizeof out->cpu) return cg_fail(err, errlen, "CPU name '%s' is too long", cpu);
  snprintf(out->cpu, sizeof out->cpu, "%s", cpu);
  return resolve_named_cpu(t, out, err, errlen);
}

/* A triple without its vendor: "x86_64-pc-linux-gnu" -> "x86_64" and "linux-gnu". */
static void triple_split(const char *triple, char *arch, char *rest, size_t n) {
  size_t a = strcspn(triple, "-");
  const char *v = triple[a] ? triple + a + 1 : triple + a;
  const char *r = v + strcspn(v, "-");
  snprintf(arch, n, "%.*s", (int)a, triple);
  snprintf(rest, n, "%s", *r ? r + 1 : r);
}

/* Host when arch, OS and environment match the default triple's (the vendor may differ). */
int cg_target_is_host(const CgTarget *t) {
  char *def = LLVMGetDefaultTargetTriple(), *host = LLVMNormalizeTargetTriple(def);
  char *mine = LLVMNormalizeTargetTriple(t->triple);
  char ha[128], hr[128], ma[128], mr[128];
  triple_split(host, ha, hr, sizeof ha);
  triple_split(mine, ma, mr, sizeof ma);
  LLVMDisposeMessage(mine);
  LLVMDisposeMessage(host);
  LLVMDisposeMessage(def);
  return !strcmp(ha, ma) && !strcmp(hr, mr);
}

void cg_target_describe(const CgTarget *t, int cores, TargetDesc *out) {
  target_describe(t->triple, t->cpu, t->features, t->native, cores, out);
}
