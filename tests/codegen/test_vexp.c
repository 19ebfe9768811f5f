/* test_vexp.c: accuracy of emit.c's inline exp (em_vexp) against a double-precision exp.
 *
 * em_vexp is what the attention kernels' online softmax exponentiates with, so its contract
 * is checked here on its own: one function per vector width (4, 8, 16 lanes) is emitted with
 * the emit.h helpers into a module for the host CPU (or $KERNELS_CPU, as test_kernels), the
 * object is linked into a shared library and dlopened, and each width is run over
 *   - every 61st float from 0 down to -104 (normal and subnormal results; ~18 million),
 *   - a sweep of [0, 89] (positive arguments: not what softmax needs, but they must be sane),
 *   - the special values: 0 and -0 give 1, -inf and anything below -104 give exactly 0,
 *     +inf and anything above 89 give +inf, NaN gives NaN.
 * The error is measured in ulps of the correctly rounded result (the subnormal ulp 2^-149
 * below 2^-126); the bound is 2 ulp.  All widths must also agree bit for bit.
 *
 * usage: test_vexp WORKDIR
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "codegen/cg.h"
#include "codegen/emit.h"
#include <llvm-c/Transforms/PassBuilder.h>

#ifndef MODC_CC
#define MODC_CC "cc"
#endif

#define MAXULP 2.0
#define N_SPECIAL 16

typedef void (*VexpFn)(const float *in, float *out, int64_t n);
static const int widths[3] = {4, 8, 16};
static int failures;

/* void vexp_w(ptr in, ptr out, i64 n): out[i] = em_vexp(in[i]), n a multiple of w */
static void emit_fn(CgCtx *c, int w) {
  char name[32];
  snprintf(name, sizeof name, "vexp_%d", w);
  LLVMTypeRef params[3] = {c->t_ptr, c->t_ptr, c->t_i64};
  Em e;
  em_begin(&e, c, name, LLVMFunctionType(c->t_void, params, 3, 0));
  LLVMSetLinkage(e.fn, LLVMExternalLinkage);
  EmLoop l;
  em_loop_begin(&e, &l, em_i64(&e, 0), LLVMGetParam(e.fn, 2), w, 0, NULL);
  LLVMValueRef x = em_vload(&e, w, em_gep(&e, c->t_f32, LLVMGetParam(e.fn, 0), l.iv), NULL);
  em_vstore(&e, em_vexp(&e, x), em_gep(&e, c->t_f32, LLVMGetParam(e.fn, 1), l.iv), NULL);
  em_loop_end(&e, &l, NULL, NULL);
  LLVMBuildRetVoid(e.b);
  em_done(&e);
}

static void ctx_types(CgCtx *c) {
  c->t_void = LLVMVoidTypeInContext(c->ctx);
  c->t_ptr = LLVMPointerTypeInContext(c->ctx, 0);
  c->t_i1 = LLVMInt1TypeInContext(c->ctx);
  c->t_i32 = LLVMInt32TypeInContext(c->ctx);
  c->t_i64 = LLVMInt64TypeInContext(c->ctx);
  c->t_f32 = LLVMFloatTypeInContext(c->ctx);
}

/* Emit the three functions for the target, optimise, write dir/vexp.o, link dir/vexp.so. */
static void *build(const char *dir) {
  const char *cpu = getenv("KERNELS_CPU");
  CgTarget t;
  char err[512], obj[600], so[600], cmd[1400];
  if (cg_target_resolve("host", cpu && *cpu ? cpu : "native", 3, &t, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return NULL;
  }
  CgCtx c;
  memset(&c, 0, sizeof c);
  LLVMTargetRef target;
  char *msg = NULL;
  if (LLVMGetTargetFromTriple(t.triple, &target, &msg)) return NULL;
  c.target = &t;
  c.ctx = LLVMContextCreate();
  c.tm = LLVMCreateTargetMachine(target, t.triple, t.cpu, t.features, LLVMCodeGenLevelAggressive,
                                 LLVMRelocPIC, LLVMCodeModelDefault);
  c.mod = LLVMModuleCreateWithNameInContext("vexp", c.ctx);
  LLVMSetTarget(c.mod, t.triple);
  ctx_types(&c);
  c.vw = target_feature_on(t.features, "avx512f") ? 16 : 8;
  for (int i = 0; i < 3; i++) emit_fn(&c, widths[i]);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef pe = LLVMRunPasses(c.mod, "default<O3>", c.tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  snprintf(obj, sizeof obj, "%s/vexp.o", dir);
  snprintf(so, sizeof so, "%s/vexp.so", dir);
  int bad = pe != NULL || LLVMTargetMachineEmitToFile(c.tm, c.mod, obj, LLVMObjectFile, &msg);
  if (bad) fprintf(stderr, "cannot emit %s: %s\n", obj, msg ? msg : "pass pipeline failed");
  LLVMDisposeModule(c.mod);
  LLVMDisposeTargetMachine(c.tm);
  LLVMContextDispose(c.ctx);
  if (bad) return NULL;
  snprintf(cmd, sizeof cmd, "%s -shared -o %s %s", MODC_CC, so, obj);
  if (system(cmd) != 0) return NULL;
  void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
  if (!h) fprintf(stderr, "dlopen: %s\n", dlerror());
  return h;
}

static float bits_f(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/* |y - exp(x)| in ulps of the correctly rounded exp(x) (subnormal ulp below 2^-126) */
static double ulp_err(float x, float y) {
  double ref = exp((double)x);
  float rf = (float)ref;
  if (isinf(rf)) return isinf(y) && y > 0 ? 0 : 1e9;
  if (rf == 0) return y == 0 ? 0 : fabs(y) / ldexp(1, -149);
  int ex;
  frexp(rf, &ex);
  double ulp = ldexp(1, (ex - 24) < -149 ? -149 : ex - 24);
  return fabs((double)y - ref) / ulp;
}

/* the arguments: special values, then the sweeps */
static int64_t fill(float *in) {
  static const float sp[N_SPECIAL] = {0.0f, -0.0f, -INFINITY, -104.0f, -105.0f, -1e30f, -87.3365f, -103.972f,
                                      -1e-30f, -1e-45f, 1.0f, 88.72f, 89.5f, 1e30f, INFINITY, 0.5f};
  int64_t n = 0;
  for (int i = 0; i < N_SPECIAL; i++) in[n++] = sp[i];
  for (uint32_t u = 0x80000000u; u <= 0xC2D00000u; u += 61) in[n++] = bits_f(u); /* -0 .. -104 */
  for (int64_t i = 0; i < (1 << 20); i++) in[n++] = (float)(89.0 * i / (1 << 20));
  in[n++] = NAN;
  while (n % 16) in[n++] = -1.0f;
  return n;
}

static void check(const char *what, int ok) {
  if (!ok) {
    printf("FAIL: %s\n", what);
    failures++;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_vexp WORKDIR\n");
    return 2;
  }
  mkdir(argv[1], 0777);
  void *h = build(argv[1]);
  if (!h) return 1;
  int64_t cap = 20000000 + (1 << 20) + 64;
  float *in = malloc((size_t)cap * 4), *out[3];
  int64_t n = fill(in);
  for (int wi = 0; wi < 3; wi++) {
    char name[32];
    snprintf(name, sizeof name, "vexp_%d", widths[wi]);
    VexpFn f = (VexpFn)dlsym(h, name);
    out[wi] = malloc((size_t)n * 4);
    f(in, out[wi], n);
    double worst = 0, worst_neg = 0;
    float wx = 0;
    for (int64_t i = 0; i < n; i++) {
      if (isnan(in[i])) {
        check("exp(NaN) is NaN", isnan(out[wi][i]));
        continue;
      }
      double u = in[i] < -104.0f ? (out[wi][i] == 0 ? 0 : 1e9) : ulp_err(in[i], out[wi][i]);
      if (u > worst) worst = u, wx = in[i];
      if (in[i] <= 0 && u > worst_neg) worst_neg = u;
    }
    printf("width %2d: max error %.3f ulp (at x = %.9g), %.3f ulp over x <= 0, %lld arguments\n",
           widths[wi], worst, wx, worst_neg, (long long)n);
    check("max error within 2 ulp", worst <= MAXULP);
    check("exp(0) = exp(-0) = 1", out[wi][0] == 1.0f && out[wi][1] == 1.0f);
    check("exp(-inf), exp(-105), exp(-1e30) = +0", out[wi][2] == 0 && out[wi][4] == 0 && out[wi][5] == 0 &&
                                                       !signbit(out[wi][2]));
    check("exp(89.5), exp(1e30), exp(inf) = +inf", isinf(out[wi][12]) && isinf(out[wi][13]) && isinf(out[wi][14]));
    if (wi > 0) check("widths agree bit for bit", !memcmp(out[wi], out[0], (size_t)n * 4));
  }
  printf("%d failures\n", failures);
  for (int wi = 0; wi < 3; wi++) free(out[wi]);
  free(in);
  dlclose(h);
  return failures != 0;
}
