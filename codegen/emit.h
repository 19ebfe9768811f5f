/* emit.h: small LLVM IR builders that kernels.c writes its loop nests with.
 *
 * An Em is a builder positioned inside one function of the CgCtx's module.  The helpers
 * cover what every kernel needs: constants, typed pointer arithmetic, counted loops with a
 * phi induction variable and loop-carried values, <vw x float> loads and stores (plain or
 * masked), llvm.fma, and horizontal sums by a fixed halving tree.  The tree is the one
 * numerical contract here: em_sum_tree reduces any number of accumulators lane by lane in
 * exactly the order em_hsum reduces one, so a kernel may reduce a block of outputs together
 * or one at a time and get bit-identical results (what keeps results independent of how work
 * is split over threads and register blocks).
 *
 * Only codegen/ includes this (it includes llvm-c through cg.h).
 */
#ifndef MODC_EMIT_H
#define MODC_EMIT_H

#include <stdint.h>
#include "cg.h"

#define EM_MAXCARRY 40

typedef struct Em {
  CgCtx *c;
  LLVMBuilderRef b;
  LLVMValueRef fn;          /* the function being built */
} Em;

/* Create an internal function `name` of type fty with an entry block; e is positioned there.
 * Free with em_done. */
void em_begin(Em *e, CgCtx *c, const char *name, LLVMTypeRef fty);
void em_done(Em *e);
LLVMBasicBlockRef em_block(Em *e, const char *name);

/* constants */
LLVMValueRef em_i64(Em *e, int64_t v);
LLVMValueRef em_i32(Em *e, int32_t v);
LLVMValueRef em_f32(Em *e, double v);
LLVMValueRef em_f64(Em *e, double v);
LLVMTypeRef em_vty(Em *e, LLVMTypeRef elem, int n);   /* <n x elem> */
LLVMValueRef em_splat(Em *e, LLVMValueRef s, int n);
LLVMValueRef em_vzero(Em *e, int n);                   /* <n x float> zeroes */

/* i64 arithmetic (nsw), min/max, compare-and-select */
LLVMValueRef em_add(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_sub(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_mul(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_smin(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_smax(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_sext64(Em *e, LLVMValueRef v);         /* i32 -> i64 */

/* float arithmetic, scalar or vector (no fast-math flags: IEEE rounding of each op) */
LLVMValueRef em_fadd(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_fsub(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_fmul(Em *e, LLVMValueRef a, LLVMValueRef b);
LLVMValueRef em_fdiv(Em *e, LLVMValueRef a, LLVMValueRef b);

/* p + i elements of type ty (i: i64) */
LLVMValueRef em_gep(Em *e, LLVMTypeRef ty, LLVMValueRef p, LLVMValueRef i);
LLVMValueRef em_load(Em *e, LLVMTypeRef ty, LLVMValueRef p);
/* stack slot of type ty in the function's entry block (so loops do not grow the stack) */
LLVMValueRef em_alloca(Em *e, LLVMTypeRef ty, const char *name);
void em_store(Em *e, LLVMValueRef v, LLVMValueRef p);
/* exec->field (EXEC_* of cg.h), loaded as ptr or i64 */
LLVMValueRef em_exec_field(Em *e, LLVMValueRef exec, int field);

/* intrinsics: llvm.<name> overloaded on ty (NULL: not overloaded) */
LLVMValueRef em_intrin(Em *e, const char *name, LLVMTypeRef *tys, int ntys, LLVMValueRef *args,
                       int nargs);
/* a*b+c, rounded once (llvm.fma); on x86 without FMA3, llvm.fmuladd (two roundings there) */
LLVMValueRef em_fma(Em *e, LLVMValueRef a, LLVMValueRef b, LLVMValueRef c);
LLVMValueRef em_exp(Em *e, LLVMValueRef x);              /* llvm.exp on f32 or <n x f32> */
/* exp inline on f32 or <n x f32> (no libm call per lane, so it stays vectorised): range
 * reduction x = k ln2 + r and a degree-6 polynomial for e^r, scaled by 2^k as two exact powers
 * of two so that subnormal results are rounded once.  Within 2 ulp of exp for every float
 * (tests/codegen/test_vexp.c measures it); exp(-inf) = 0 and exp(x < -104) = 0 exactly,
 * exp(0) = 1, x > 89 gives +inf, NaN stays NaN. */
LLVMValueRef em_vexp(Em *e, LLVMValueRef x);
LLVMValueRef em_fmax(Em *e, LLVMValueRef a, LLVMValueRef b); /* llvm.maxnum */
LLVMValueRef em_sqrt(Em *e, LLVMValueRef x);
LLVMValueRef em_memcpy(Em *e, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes);
LLVMValueRef em_memmove(Em *e, LLVMValueRef dst, LLVMValueRef src, LLVMValueRef bytes);

/* Counted loop: for (iv = lo; iv < hi; iv += step), signed.  ncarry values are carried
 * through the loop (phis, initial values init[]).  After em_loop_begin the builder is in the
 * body; l->carry[] are the current values.  em_loop_end closes the body with next[] (may be
 * NULL when ncarry == 0) and next_iv (NULL: iv + step); afterwards the builder is after the
 * loop and l->carry[] are the final values. */
typedef struct EmLoop {
  LLVMBasicBlockRef head, body, exit;
  LLVMValueRef iv, hi;
  int64_t step;
  int ncarry;
  LLVMValueRef carry[EM_MAXCARRY];
} EmLoop;
void em_loop_begin(Em *e, EmLoop *l, LLVMValueRef lo, LLVMValueRef hi, int64_t step, int ncarry,
                   const LLVMValueRef *init);
void em_loop_end(Em *e, EmLoop *l, const LLVMValueRef *next, LLVMValueRef next_iv);

/* if (cond) { ... } [else { ... }]: em_if_begin positions the builder in the then-block;
 * em_if_else switches to the else-block; em_if_end joins. */
typedef struct EmIf {
  LLVMBasicBlockRef then_bb, else_bb, join;
  int has_else;
} EmIf;
void em_if_begin(Em *e, EmIf *f, LLVMValueRef cond);
void em_if_else(Em *e, EmIf *f);
void em_if_end(Em *e, EmIf *f);

/* Vectors of floats.  mask: NULL (all lanes) or an <n x i1>; masked-off lanes load as 0
 * and are not stored.  Element pointers are 4-byte aligned only. */
LLVMValueRef em_vload(Em *e, int n, LLVMValueRef p, LLVMValueRef mask);
void em_vstore(Em *e, LLVMValueRef v, LLVMValueRef p, LLVMValueRef mask);
/* n bf16 at p widened to <n x float> (bits << 16: exact) */
LLVMValueRef em_vload_bf16(Em *e, int n, LLVMValueRef p, LLVMValueRef mask);
/* n elements of dtype dt (DT_F32 or DT_BF16) at p as <n x float> */
LLVMValueRef em_vload_dt(Em *e, int dt, int n, LLVMValueRef p, LLVMValueRef mask);
/* <n x i1> with lanes [0, cnt) set; cnt an i64 value or constant */
LLVMValueRef em_mask_lt(Em *e, int n, LLVMValueRef cnt);
LLVMValueRef em_mask_const(Em *e, int n, int cnt);

/* The halving tree: lanes [0,w/2) + [w/2,w) until one lane is left.  em_hsum reduces one
 * vector to a float; em_sum_tree reduces n vectors (n a power of two, n <= width) to an
 * <n x float> of their sums (a float when n == 1), each lane computed exactly as em_hsum
 * would.  em_hmax: the maximum of the lanes. */
LLVMValueRef em_hsum(Em *e, LLVMValueRef v);
LLVMValueRef em_sum_tree(Em *e, const LLVMValueRef *v, int n);
LLVMValueRef em_hmax(Em *e, LLVMValueRef v);
/* em_max_tree: n vectors to an <n x float> of their maxima (a float when n == 1), as em_sum_tree */
LLVMValueRef em_max_tree(Em *e, const LLVMValueRef *v, int n);

/* Vector loop over [0, n) elements (n: i64 value, may be constant) in steps of w lanes; body
 * is called once for full vectors (mask NULL) and once for the remainder (with a lane mask),
 * with off = the element offset of the step.  With a constant n the remainder is a constant
 * mask (or absent). */
typedef void (*EmVecBody)(Em *e, LLVMValueRef off, LLVMValueRef mask, int w, void *ctx);
void em_vec_loop(Em *e, LLVMValueRef n, int w, EmVecBody body, void *ctx);

#endif
