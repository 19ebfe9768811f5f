/* emit.c: the IR building blocks of emit.h (loops, vectors, reductions, intrinsics).
 *
 * Everything here is numerically neutral except the reductions, which are written out as
 * explicit shuffle trees (never llvm.vector.reduce.fadd with reassoc, whose order is the
 * backend's choice) so that a sum's rounding is fixed by the IR itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "emit.h"

void em_begin(Em *e, CgCtx *c, const char *name, LLVMTypeRef fty) {
  e->c = c;
  e->fn = LLVMAddFunction(c->mod, name, fty);
  LLVMSetLinkage(e->fn, LLVMInternalLinkage);
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(e->fn, LLVMAttributeFunctionIndex,
                          LLVMCreateEnumAttribute(c->ctx, nounwind, 0));
  if (c->vw >= 16) {
    /* explicit 512-bit vectors must stay 512-bit even where the CPU prefers 256 */
    LLVMAttributeRef a = LLVMCreateStringAttribute(c->ctx, "min-legal-vector-width", 22, "512", 3);
    LLVMAddAttributeAtIndex(e->fn, LLVMAttributeFunctionIndex, a);
  }
  e->b = LLVMCreateBuilderInContext(c->ctx);
  LLVMPositionBuilderAtEnd(e->b, LLVMAppendBasicBlockInContext(c->ctx, e->fn, "entry"));
}

void em_done(Em *e) {
  LLVMDisposeBuilder(e->b);
  e->b = NULL;
}

LLVMBasicBlockRef em_block(Em *e, const char *name) {
  return LLVMAppendBasicBlockInContext(e->c->ctx, e->fn, name);
}

/* ---- constants and integer arithmetic ---- */

LLVMValueRef em_i64(Em *e, int64_t v) { return LLVMConstInt(e->c->t_i64, (unsigned long long)v, 1); }
LLVMValueRef em_i32(Em *e, int32_t v) { return LLVMConstInt(e->c->t_i32, (unsigned long long)(int64_t)v, 1); }
LLVMValueRef em_f32(Em *e, double v) { return LLVMConstReal(e->c->t_f32, v); }
LLVMValueRef em_f64(Em *e, double v) { return LLVMConstReal(e->c->t_f64, v); }
LLVMTypeRef em_vty(Em *e, LLVMTypeRef elem, int n) { (void)e; return LLVMVectorType(elem, (unsigned)n); }

LLVMValueRef em_splat(Em *e, LLVMValueRef s, int n) {
  LLVMTypeRef vt = LLVMVectorType(LLVMTypeOf(s), (unsigned)n);
  LLVMValueRef v = LLVMBuildInsertElement(e->b, LLVMGetPoison(vt), s, em_i32(e, 0), "");
  LLVMValueRef zeros = LLVMConstNull(LLVMVectorType(e->c->t_i32, (unsigned)n));
  return LLVMBuildShuffleVector(e->b, v, LLVMGetPoison(vt), zeros, "splat");
}

LLVMValueRef em_vzero(Em *e, int n) { return LLVMConstNull(LLVMVectorType(e->c->t_f32, (unsigned)n)); }

LLVMValueRef em_add(Em *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWAdd(e->b, a, b, ""); }
LLVMValueRef em_sub(Em *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWSub(e->b, a, b, ""); }
LLVMValueRef em_mul(Em *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildNSWMul(e->b, a, b, ""); }

LLVMValueRef em_smin(Em *e, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, a, b, ""), a, b, "min");
}

LLVMValueRef em_smax(Em *e, LLVMValueRef a, LLVMValueRef b) {
  return LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, a, b, ""), a, b, "max");
}

LLVMValueRef em_sext64(Em *e, LLVMValueRef v) { return LLVMBuildSExt(e->b, v, e->c->t_i64, ""); }

LLVMValueRef em_fadd(Em *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFAdd(e->b, a, b, ""); }
LLVMValueRef em_fsub(Em *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFSub(e->b, a, b, ""); }
LLVMValueRef em_fmul(Em *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFMul(e->b, a, b, ""); }
LLVMValueRef em_fdiv(Em *e, LLVMValueRef a, LLVMValueRef b) { return LLVMBuildFDiv(e->b, a, b, ""); }

/* ---- memory ---- */

LLVMValueRef em_gep(Em *e, LLVMTypeRef ty, LLVMValueRef p, LLVMValueRef i) {
  return LLVMBuildGEP2(e->b, ty, p, &i, 1, "");
}

LLVMValueRef em_load(Em *e, LLVMTypeRef ty, LLVMValueRef p) { return LLVMBuildLoad2(e->b, ty, p, ""); }
void em_store(Em *e, LLVMValueRef v, LLVMValueRef p) { LLVMBuildStore(e->b, v, p); }

LLVMValueRef em_alloca(Em *e, LLVMTypeRef ty, const char *name) {
  LLVMBuilderRef b = LLVMCreateBuilderInContext(e->c->ctx);
  LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(e->fn);
  LLVMValueRef first = LLVMGetFirstInstruction(entry);
  if (first) LLVMPositionBuilderBefore(b, first);
  else LLVMPositionBuilderAtEnd(b, entry);
  LLVMValueRef a = LLVMBuildAlloca(b, ty, name);
  LLVMSetAlignment(a, 64);
  LLVMDisposeBuilder(b);
  return a;
}

LLVMValueRef em_exec_field(Em *e, LLVMValueRef exec, int field) {
  LLVMValueRef p = LLVMBuildStructGEP2(e->b, e->c->t_exec, exec, (unsigned)field, "");
  LLVMTypeRef ty = field == EXEC_NTHREADS ? e->c->t_i64 : e->c->t_ptr;
  return LLVMBuildLoad2(e->b, ty, p, "");
}

/* ---- intrinsics ---- */

LLVMValueRef em_intrin(Em *e, const char *name, LLVMTypeRef *tys, int ntys, LLVMValueRef *args,
                       int nargs) {
  unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
  if (!id) {
    fprintf(stderr, "modc: internal error: unknown intrinsic %s\n", name);
    abort();
  }
  LLVMValueRef f = LLVMGetIntrinsicDeclaration(e->c->mod, id, tys, (size_t)ntys);
  LLVMTypeRef ft = LLVMIntrinsicGetType(e->c->ctx, id, tys, (size_t)ntys);
  return LLVMBuildCall2(e->b, ft, f, args, (unsigned)nargs, "");
}

/* x86 before FMA3 (SSE-only or AVX-only CPUs) has no fused multiply-add: there llvm.fma
 * would become a libm call per lane, so use llvm.fmuladd, which the backend fuses exactly
 * where the target has a fast FMA (everywhere else: x86 with FMA3, AArch64, ...). */
static int target_has_fma(const CgCtx *c) {
  if (!c->target) return 1;
  const char *t = c->target->triple;
  int x86 = !strncmp(t, "x86_64", 6) || (t[0] == 'i' && t[2] == '8' && t[3] == '6');
  return !x86 || target_feature_on(c->target->features, "fma") || target_feature_on(c->target->features, "avx512f");
}

LLVMValueRef em_fma(Em *e, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c) {
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef args[3] = {a, b, c};
  return em_intrin(e, target_has_fma(e->c) ? "llvm.fma" : "llvm.fmuladd", &t, 1, args, 3);
}

static LLVMValueRef unary(Em *e, const char *name, LLVMValueRef x) {
  LLVMTypeRef t = LLVMTypeOf(x);
  return em_intrin(e, name, &t, 1, &x, 1);
}

LLVMValueRef em_exp(Em *e, LLVMValueRef x) { return unary(e, "llvm.exp", x); }
LLVMValueRef em_sqrt(Em *e, LLVMValueRef x) { return unary(e, "llvm.sqrt", x); }

/* x's type's constant c (a splat for vectors) */
static LLVMValueRef like(Em *e, LLVMValueRef x, LLVMValueRef c) {
  LLVMTypeRef t = LLVMTypeOf(x);
  return LLVMGetTypeKind(t) == LLVMVectorTypeKind ? em_splat(e, c, (int)LLVMGetVectorSize(t)) : c;
}

/* 2^k for integer k in [-126, 127] held in an i32 (vector): the exponent field alone */
static LLVMValueRef pow2i(Em *e, LLVMValueRef k, LLVMTypeRef ft) {
  LLVMValueRef bits = LLVMBuildShl(e->b, LLVMBuildAdd(e->b, k, like(e, k, em_i32(e, 127)), ""), like(e, k, em_i32(e, 23)), "");
  return LLVMBuildBitCast(e->b, bits, ft, "");
}

/* SLEEF's expf_u10 scheme.  k = round(x log2 e) comes from adding 1.5 * 2^23 (the float's
 * low bits then hold k; a bitcast, never an fptosi, so NaN stays harmless); ln2 is split
 * Cody-Waite style, its high part short enough that k * hi is exact even where fma is two
 * roundings (baseline x86-64).  Clamping x to [-104, 89] first keeps |k| <= 150 so that both
 * halves of 2^k = 2^(k>>1) * 2^(k - (k>>1)) are normal floats. */
LLVMValueRef em_vexp(Em *e, LLVMValueRef x) {
  LLVMTypeRef ft = LLVMTypeOf(x), it = LLVMGetTypeKind(ft) == LLVMVectorTypeKind
                                          ? LLVMVectorType(e->c->t_i32, LLVMGetVectorSize(ft)) : e->c->t_i32;
  LLVMValueRef lo = like(e, x, em_f32(e, -104.0)), hi = like(e, x, em_f32(e, 89.0));
  x = LLVMBuildSelect(e->b, LLVMBuildFCmp(e->b, LLVMRealOLT, x, lo, ""), lo, x, "");
  x = LLVMBuildSelect(e->b, LLVMBuildFCmp(e->b, LLVMRealOGT, x, hi, ""), hi, x, "");
  LLVMValueRef magic = like(e, x, em_f32(e, 12582912.0)); /* 1.5 * 2^23 */
  LLVMValueRef t = em_fma(e, x, like(e, x, em_f32(e, 1.44269504088896341)), magic);
  LLVMValueRef kf = em_fsub(e, t, magic);
  LLVMValueRef r = em_fma(e, kf, like(e, x, em_f32(e, -0.693145751953125)), x);
  r = em_fma(e, kf, like(e, x, em_f32(e, -1.428606765330187045e-06)), r);
  static const double c[6] = {0.000198527617612853646278381, 0.00139304355252534151077271,
                              0.00833336077630519866943359, 0.0416664853692054748535156,
                              0.166666671633720397949219, 0.5};
  LLVMValueRef p = like(e, x, em_f32(e, c[0]));
  for (int i = 1; i < 6; i++) p = em_fma(e, p, r, like(e, x, em_f32(e, c[i])));
  p = em_fadd(e, em_fma(e, p, em_fmul(e, r, r), r), like(e, x, em_f32(e, 1.0))); /* 1 + r + r^2 p */
  LLVMValueRef k = LLVMBuildSub(e->b, LLVMBuildBitCast(e->b, t, it, ""), LLVMBuildBitCast(e->b, magic, it, ""), "");
  LLVMValueRef k1 = LLVMBuildAShr(e->b, k, like(e, k, em_i32(e, 1)), "");
  LLVMValueRef k2 = LLVMBuildSub(e->b, k, k1, "");
  return em_fmul(e, em_fmul(e, p, pow2i(e, k1, ft)), pow2i(e, k2, ft));
}

LLVMValueRef em_fmax(Em *e, LLVMValueRef a, LLVMValueRef b) {
  LLVMTypeRef t = LLVMTypeOf(a);
  LLVMValueRef args[2] = {a, b};
  return em_intrin(e, "llvm.maxnum", &t, 1, args, 2);
}

LLVMValueRef em_memcpy(Em *e, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes) {
  return LLVMBuildMemCpy(e->b, dst, 4, src, 4, bytes);
}

LLVMValueRef em_memmove(Em *e, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes) {
  return LLVMBuildMemMove(e->b, dst, 4, src, 4, bytes);
}

/* ---- control flow ---- */

void em_loop_begin(Em *e, EmLoop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step, int ncarry,
                   const LLVMValueRef *init) {
  if (ncarry > EM_MAXCARRY) {
    fprintf(stderr, "modc: internal error: %d loop-carried values (max %d)\n", ncarry, EM_MAXCARRY);
    abort();
  }
  LLVMBasicBlockRef pre = LLVMGetInsertBlock(e->b);
  l->head = em_block(e, "loop");
  l->body = em_block(e, "body");
  l->exit = em_block(e, "done");
  l->hi = hi;
  l->step = step;
  l->ncarry = ncarry;
  LLVMBuildBr(e->b, l->head);
  LLVMPositionBuilderAtEnd(e->b, l->head);
  l->iv = LLVMBuildPhi(e->b, e->c->t_i64, "i");
  LLVMAddIncoming(l->iv, &lo, &pre, 1);
  for (int k = 0; k < ncarry; k++) {
    l->carry[k] = LLVMBuildPhi(e->b, LLVMTypeOf(init[k]), "acc");
    LLVMValueRef v = init[k];
    LLVMAddIncoming(l->carry[k], &v, &pre, 1);
  }
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntSLT, l->iv, hi, ""), l->body, l->exit);
  LLVMPositionBuilderAtEnd(e->b, l->body);
}

void em_loop_end(Em *e, EmLoop *l, const LLVMValueRef *next, LLVMValueRef next_iv) {
  LLVMBasicBlockRef cur = LLVMGetInsertBlock(e->b);
  LLVMValueRef nx = next_iv ? next_iv : em_add(e, l->iv, em_i64(e, l->step));
  LLVMBuildBr(e->b, l->head);
  LLVMAddIncoming(l->iv, &nx, &cur, 1);
  for (int k = 0; k < l->ncarry; k++) {
    LLVMValueRef v = next[k];
    LLVMAddIncoming(l->carry[k], &v, &cur, 1);
  }
  LLVMPositionBuilderAtEnd(e->b, l->exit);
}

void em_if_begin(Em *e, EmIf *f, LLVMValueRef cond) {
  f->then_bb = em_block(e, "then");
  f->else_bb = em_block(e, "else");
  f->join = em_block(e, "join");
  f->has_else = 0;
  LLVMBuildCondBr(e->b, cond, f->then_bb, f->else_bb);
  LLVMPositionBuilderAtEnd(e->b, f->then_bb);
}

void em_if_else(Em *e, EmIf *f) {
  LLVMBuildBr(e->b, f->join);
  f->has_else = 1;
  LLVMPositionBuilderAtEnd(e->b, f->else_bb);
}

void em_if_end(Em *e, EmIf *f) {
  LLVMBuildBr(e->b, f->join);
  if (!f->has_else) { /* an empty else: fall through to the join */
    LLVMPositionBuilderAtEnd(e->b, f->else_bb);
    LLVMBuildBr(e->b, f->join);
  }
  LLVMPositionBuilderAtEnd(e->b, f->join);
}

/* ---- vectors ---- */

LLVMValueRef em_mask_const(Em *e, int n, int cnt) {
  LLVMValueRef lanes[64];
  for (int i = 0; i < n; i++) lanes[i] = LLVMConstInt(e->c->t_i1, i < cnt, 0);
  return LLVMConstVector(lanes, (unsigned)n);
}

LLVMValueRef em_mask_lt(Em *e, int n, LLVMValueRef cnt) {
  if (LLVMIsAConstantInt(cnt)) return em_mask_const(e, n, (int)LLVMConstIntGetSExtValue(cnt));
  LLVMValueRef lanes[64];
  for (int i = 0; i < n; i++) lanes[i] = em_i32(e, i);
  LLVMValueRef c32 = LLVMBuildTrunc(e->b, cnt, e->c->t_i32, "");
  return LLVMBuildICmp(e->b, LLVMIntSLT, LLVMConstVector(lanes, (unsigned)n), em_splat(e, c32, n), "mask");
}

static LLVMValueRef masked_load(Em *e, LLVMTypeRef vt, LLVMValueRef p, LLVMValueRef mask) {
  LLVMTypeRef tys[2] = {vt, e->c->t_ptr};
  LLVMValueRef args[4] = {p, em_i32(e, 1), mask, LLVMConstNull(vt)};
  return em_intrin(e, "llvm.masked.load", tys, 2, args, 4);
}

static LLVMValueRef plain_load(Em *e, LLVMTypeRef vt, LLVMValueRef p, unsigned align) {
  LLVMValueRef v = LLVMBuildLoad2(e->b, vt, p, "");
  LLVMSetAlignment(v, align);
  return v;
}

LLVMValueRef em_vload(Em *e, int n, LLVMValueRef p, LLVMValueRef mask) {
  LLVMTypeRef vt = LLVMVectorType(e->c->t_f32, (unsigned)n);
  return mask ? masked_load(e, vt, p, mask) : plain_load(e, vt, p, 4);
}

void em_vstore(Em *e, LLVMValueRef v, LLVMValueRef p, LLVMValueRef mask) {
  if (!mask) {
    LLVMSetAlignment(LLVMBuildStore(e->b, v, p), 4);
    return;
  }
  LLVMTypeRef tys[2] = {LLVMTypeOf(v), e->c->t_ptr};
  LLVMValueRef args[4] = {v, p, em_i32(e, 1), mask};
  em_intrin(e, "llvm.masked.store", tys, 2, args, 4);
}

LLVMValueRef em_vload_bf16(Em *e, int n, LLVMValueRef p, LLVMValueRef mask) {
  LLVMTypeRef vt = LLVMVectorType(e->c->t_i16, (unsigned)n);
  LLVMValueRef h = mask ? masked_load(e, vt, p, mask) : plain_load(e, vt, p, 2);
  LLVMValueRef w = LLVMBuildZExt(e->b, h, LLVMVectorType(e->c->t_i32, (unsigned)n), "");
  w = LLVMBuildShl(e->b, w, em_splat(e, em_i32(e, 16), n), "");
  return LLVMBuildBitCast(e->b, w, LLVMVectorType(e->c->t_f32, (unsigned)n), "bf16");
}

LLVMValueRef em_vload_dt(Em *e, int dt, int n, LLVMValueRef p, LLVMValueRef mask) {
  return dt == DT_BF16 ? em_vload_bf16(e, n, p, mask) : em_vload(e, n, p, mask);
}

/* ---- reductions ---- */

static LLVMValueRef shuffle(Em *e, LLVMValueRef a, LLVMValueRef b, const int *idx, int n) {
  LLVMValueRef m[64];
  for (int i = 0; i < n; i++) m[i] = em_i32(e, idx[i]);
  return LLVMBuildShuffleVector(e->b, a, b ? b : LLVMGetPoison(LLVMTypeOf(a)),
                                LLVMConstVector(m, (unsigned)n), "");
}

typedef LLVMValueRef (*Combine)(Em *e, LLVMValueRef a, LLVMValueRef b);

/* One step of the tree on a vector holding groups of size s (width w): every group's lane j
 * (j < s/2) becomes lane j + lane j + s/2.  With two vectors (b != NULL) the halves of a's
 * groups come first, then b's, and the width stays w; with one, the width halves. */
static LLVMValueRef tree_step(Em *e, Combine op, LLVMValueRef a, LLVMValueRef b, int w, int s) {
  int lo[64], hi[64], n = 0;
  for (int src = 0; src < (b ? 2 : 1); src++)
    for (int g = 0; g < w / s; g++)
      for (int j = 0; j < s / 2; j++) {
        lo[n] = src * w + g * s + j;
        hi[n] = lo[n] + s / 2;
        n++;
      }
  return op(e, shuffle(e, a, b, lo, n), shuffle(e, a, b, hi, n));
}

static LLVMValueRef tree(Em *e, Combine op, const LLVMValueRef *in, int n) {
  LLVMValueRef v[64];
  int w = (int)LLVMGetVectorSize(LLVMTypeOf(in[0])), s = w;
  if (n < 1 || n > w || (n & (n - 1)) || n > 64) {
    fprintf(stderr, "modc: internal error: reduction of %d vectors of %d\n", n, w);
    abort();
  }
  memcpy(v, in, (size_t)n * sizeof *v);
  while (s > 1) {
    if (n > 1) {
      for (int p = 0; p < n / 2; p++) v[p] = tree_step(e, op, v[2 * p], v[2 * p + 1], w, s);
      n /= 2;
    } else {
      v[0] = tree_step(e, op, v[0], NULL, w, s);
      w /= 2;
    }
    s /= 2;
  }
  if (w == 1) return LLVMBuildExtractElement(e->b, v[0], em_i32(e, 0), "sum");
  return v[0];
}

LLVMValueRef em_sum_tree(Em *e, const LLVMValueRef *v, int n) { return tree(e, em_fadd, v, n); }
LLVMValueRef em_hsum(Em *e, LLVMValueRef v) { return tree(e, em_fadd, &v, 1); }
LLVMValueRef em_hmax(Em *e, LLVMValueRef v) { return tree(e, em_fmax, &v, 1); }
LLVMValueRef em_max_tree(Em *e, const LLVMValueRef *v, int n) { return tree(e, em_fmax, v, n); }

/* ---- vector loops ---- */

void em_vec_loop(Em *e, LLVMValueRef n, int w, EmVecBody body, void *ctx) {
  if (LLVMIsAConstantInt(n)) {
    int64_t nc = LLVMConstIntGetSExtValue(n), nf = nc / w * w;
    if (nf == w) {
      body(e, em_i64(e, 0), NULL, w, ctx);
    } else if (nf > 0) {
      EmLoop l;
      em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, nf), w, 0, NULL);
      body(e, l.iv, NULL, w, ctx);
      em_loop_end(e, &l, NULL, NULL);
    }
    if (nc > nf) body(e, em_i64(e, nf), em_mask_const(e, w, (int)(nc - nf)), w, ctx);
    return;
  }
  LLVMValueRef nf = LLVMBuildAnd(e->b, n, em_i64(e, -(int64_t)w), "nfull");
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), nf, w, 0, NULL);
  body(e, l.iv, NULL, w, ctx);
  em_loop_end(e, &l, NULL, NULL);
  LLVMValueRef rem = em_sub(e, n, nf);
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntSGT, rem, em_i64(e, 0), ""));
  body(e, nf, em_mask_lt(e, w, rem), w, ctx);
  em_if_end(e, &f);
}
