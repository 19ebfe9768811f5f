/* kern_amx.c: the matmul family's many-row path on AMX tiles (amx-bf16: Sapphire Rapids and
 * later), for calls of at least the record's amx rows (kern_mm.h, ir/sched.h).
 *
 * Tiles: tmm0-3 accumulate C, 2 row blocks x 2 column blocks of 16 x 16 floats; tmm4-5 hold
 * A, 16 rows x 32 k of bf16 each; tmm6-7 hold B, 16 k pairs x 16 columns, read straight from
 * the packed panel (passes/schedule.h: a bf16 pair row is 32 words, so a B tile is 64 bytes of
 * each of 16 pair rows, stride 128).  matmul_silu_mul takes the gate's and the up's columns as
 * its two B tiles, half a panel at a time.  The tile configuration (palette 1, every tile 16
 * rows x 64 bytes) is a constant of the module, loaded once per task and released at its end.
 *
 * Work: items (row tile, output panel) as on the FMA path (mm_item), row tiles of mm_amx_mc
 * rows.  A task packs its row tile's rows into a bf16 buffer on its stack when the tile
 * changes (read in place, or through the index and RMS-normalised by norm_row as
 * matmul_norm_gather's FMA path does), rows past the last zeroed; then for each 32 rows: K/32
 * steps of 4 tile loads and 4 tdpbf16ps, the C tiles stored to a 32 x 32 float buffer, and
 * the epilogue (mm_store) per row and output vector from that buffer.
 *
 * Numerics: x is rounded to bf16 (to nearest even) as it is packed; products of bf16 are
 * exact and each tdpbf16ps adds them into the f32 accumulators in k order, so a result does
 * not depend on the tile, the item or the thread count; it differs from the FMA path's (x in
 * f32) by x's rounding: the rows of a call choose the path, never the threads. */
#include "kern_mm.h"

#define AMX_TILE_BYTES 64       /* a tile row: 16 floats, 32 bf16 */

/* The tile configuration: palette 1, tiles 0-7 of 16 rows x 64 bytes (one per module). */
static LLVMValueRef amx_config(CgCtx *c) {
  LLVMValueRef g = LLVMGetNamedGlobal(c->mod, "modc.amx.cfg");
  if (g) return g;
  LLVMValueRef b[64];
  for (int i = 0; i < 64; i++) b[i] = LLVMConstInt(c->t_i8, 0, 0);
  b[0] = LLVMConstInt(c->t_i8, 1, 0);
  for (int t = 0; t < 8; t++) {
    b[16 + 2 * t] = LLVMConstInt(c->t_i8, AMX_TILE_BYTES, 0); /* colsb, little-endian u16 */
    b[48 + t] = LLVMConstInt(c->t_i8, 16, 0);                 /* rows */
  }
  LLVMValueRef init = LLVMConstArray2(c->t_i8, b, 64);
  g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), "modc.amx.cfg");
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetAlignment(g, 64);
  return g;
}

static void amx_call(Em *e, const char *name, LLVMValueRef *args, int n) { em_intrin(e, name, NULL, 0, args, n); }
static LLVMValueRef tile(Em *e, int t) { return LLVMConstInt(e->c->t_i8, (unsigned long long)t, 0); }

static void amx_load(Em *e, int t, LLVMValueRef p, int64_t stride) {
  LLVMValueRef args[3] = {tile(e, t), p, em_i64(e, stride)};
  amx_call(e, "llvm.x86.tileloadd64", args, 3);
}

int64_t mm_amx_mc(const MM *m) {
  int64_t fit = SCHED_PACK_BYTES / (m->K * 2) / SCHED_AMX_ROWS * SCHED_AMX_ROWS;
  int64_t mc = m->s.mc / SCHED_AMX_ROWS * SCHED_AMX_ROWS;
  if (mc > fit) mc = fit;
  return mc < SCHED_AMX_ROWS ? SCHED_AMX_ROWS : mc;
}

/* K floats at src rounded to bf16 at dst (i16 elements) */
static void amx_round_row(Em *e, const MM *m, LLVMValueRef src, LLVMValueRef dst) {
  CgCtx *c = e->c;
  LLVMTypeRef bt = LLVMVectorType(LLVMBFloatTypeInContext(c->ctx), 16);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, m->K), 16, 0, NULL);
  LLVMValueRef v = LLVMBuildFPTrunc(e->b, em_vload(e, 16, gep_f32(e, src, l.iv), NULL), bt, "");
  LLVMSetAlignment(LLVMBuildStore(e->b, v, em_gep(e, c->t_i16, dst, l.iv)), 2);
  em_loop_end(e, &l, NULL, NULL);
}

/* Rows [r0, r1) of A into the bf16 buffer abuf (row r at (r - r0) * K), rows [r1, rend) zero;
 * fbuf: one f32 row for matmul_norm_gather's normalised row. */
static void amx_pack(Em *e, const MM *m, const KArgs *a, LLVMValueRef abuf, LLVMValueRef fbuf, LLVMValueRef r0,
                     LLVMValueRef r1, LLVMValueRef rend) {
  CgCtx *c = e->c;
  LLVMValueRef K = em_i64(e, m->K);
  EmLoop l;
  em_loop_begin(e, &l, r0, r1, 1, 0, NULL);
  LLVMValueRef src = gep_f32(e, a->p[0], em_mul(e, l.iv, K));
  if (m->src == SCHED_A_NORM_GATHER) {
    norm_row(e, m->norm, gep_f32(e, a->p[0], em_mul(e, mm_hrow(e, a->p[2], l.iv, a->r[0]), K)), a->p[3], fbuf);
    src = fbuf;
  }
  amx_round_row(e, m, src, em_gep(e, c->t_i16, abuf, em_mul(e, em_sub(e, l.iv, r0), K)));
  em_loop_end(e, &l, NULL, NULL);
  LLVMValueRef zbytes = em_mul(e, em_sub(e, rend, r1), em_i64(e, m->K * 2));
  LLVMValueRef args[4] = {em_gep(e, c->t_i16, abuf, em_mul(e, em_sub(e, r1, r0), K)), LLVMConstInt(c->t_i8, 0, 0),
                          zbytes, LLVMConstInt(c->t_i1, 0, 0)};
  LLVMTypeRef tys[2] = {c->t_ptr, c->t_i64};
  em_intrin(e, "llvm.memset", tys, 2, args, 4);
}

/* The 32 x 32 block of rows [rb, rb + 32) (A at ablk) and panel p, for B column block h of a
 * silu_mul (gate and up) or both column blocks of a single weight, into cbuf (stride 32). */
static void amx_block(Em *e, const MM *m, const KArgs *a, LLVMValueRef ablk, LLVMValueRef p, int h, LLVMValueRef cbuf) {
  CgCtx *c = e->c;
  int silu = m->ep == SCHED_MM_SILU_MUL;
  int64_t K = m->K, pstride = sched_panel_k(K, m->dt) * m->s.nr;
  LLVMValueRef wb[2];
  for (int j = 0; j < 2; j++) { /* B tile j: (weight operand, column block) */
    int s = silu ? j : 0, cb = silu ? h : j;
    wb[j] = em_gep(e, c->t_i16, a->p[1 + s], em_add(e, em_mul(e, p, em_i64(e, pstride)), em_i64(e, cb * 32)));
  }
  for (int t = 0; t < 4; t++) {
    LLVMValueRef z = tile(e, t);
    amx_call(e, "llvm.x86.tilezero", &z, 1);
  }
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, K), SCHED_AMX_K, 0, NULL);
  LLVMValueRef ak = em_gep(e, c->t_i16, ablk, l.iv);
  amx_load(e, 4, ak, K * 2);
  amx_load(e, 5, em_gep(e, c->t_i16, ak, em_i64(e, 16 * K)), K * 2);
  for (int j = 0; j < 2; j++) /* pair rows kk/2 .. kk/2 + 15: i16 element kk * nr */
    amx_load(e, 6 + j, em_gep(e, c->t_i16, wb[j], em_mul(e, l.iv, em_i64(e, m->s.nr))), m->s.nr * 4);
  for (int t = 0; t < 4; t++) { /* C[row block t/2][column block t%2] += A[t/2] B[t%2] */
    LLVMValueRef args[3] = {tile(e, t), tile(e, 4 + t / 2), tile(e, 6 + t % 2)};
    amx_call(e, "llvm.x86.tdpbf16ps", args, 3);
  }
  em_loop_end(e, &l, NULL, NULL);
  for (int t = 0; t < 4; t++) {
    LLVMValueRef args[3] = {tile(e, t), gep_f32(e, cbuf, em_i64(e, (t / 2) * 16 * 32 + (t % 2) * 16)), em_i64(e, 128)};
    amx_call(e, "llvm.x86.tilestored64", args, 3);
  }
}

/* rows [rb, rb + n) of a 32 x 32 block in cbuf through the epilogue: output panel p, column
 * block h of a silu_mul (its gate then its up in each cbuf row), else both */
static void amx_epilogue(Em *e, const MM *m, const KArgs *a, LLVMValueRef rb, LLVMValueRef n, LLVMValueRef p, int h,
                         LLVMValueRef cbuf) {
  int silu = m->ep == SCHED_MM_SILU_MUL;
  LLVMValueRef N = em_i64(e, m->N);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), n, 1, 0, NULL);
  MMRow o = mm_row(e, m, a, em_add(e, rb, l.iv));
  LLVMValueRef crow = gep_f32(e, cbuf, em_mul(e, l.iv, em_i64(e, 32)));
  for (int v = 0; v < (silu ? 1 : 2); v++) {
    LLVMValueRef col = em_add(e, em_mul(e, p, em_i64(e, 32)), em_i64(e, (silu ? h : v) * 16));
    LLVMValueRef mask = m->N % 32 ? em_mask_lt(e, 16, em_sub(e, N, col)) : NULL;
    LLVMValueRef y = em_vload(e, 16, gep_f32(e, crow, em_i64(e, v * 16)), NULL);
    LLVMValueRef up = silu ? em_vload(e, 16, gep_f32(e, crow, em_i64(e, 16)), NULL) : NULL;
    mm_store(e, m, &o, y, up, col, mask);
  }
  em_loop_end(e, &l, NULL, NULL);
}

void mm_amx_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const MM *m = vctx;
  CgCtx *c = e->c;
  int64_t mc = mm_amx_mc(m), R = SCHED_AMX_ROWS;
  LLVMValueRef u = em_i64(e, MM_UNIT), blocks;
  LLVMValueRef T = mm_row_tiles(e, m, mm_m(m, a), R, mc, &blocks);
  LLVMValueRef t0 = LLVMBuildSDiv(e->b, lo, u, ""), t1 = LLVMBuildSDiv(e->b, em_add(e, hi, em_i64(e, MM_UNIT - 1)), u, "");
  LLVMValueRef abuf = em_alloca(e, LLVMArrayType2(c->t_i16, (uint64_t)(mc * m->K)), "amx_a");
  LLVMValueRef cbuf = em_alloca(e, LLVMArrayType2(c->t_f32, 32 * 32), "amx_c");
  LLVMValueRef fbuf = m->src == SCHED_A_NORM_GATHER ? em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)m->K), "amx_row") : NULL;
  LLVMValueRef cfg = amx_config(c), none = em_i64(e, -1), rt, p, r0, r1;
  amx_call(e, "llvm.x86.ldtilecfg", &cfg, 1);
  EmLoop l;
  em_loop_begin(e, &l, t0, t1, 1, 1, &none);
  mm_item(e, m, a, l.iv, T, blocks, R, &rt, &p, &r0, &r1);
  LLVMValueRef Rv = em_i64(e, R);
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, rt, l.carry[0], ""));
  LLVMValueRef rend = em_add(e, r0, em_mul(e, LLVMBuildSDiv(e->b, em_add(e, em_sub(e, r1, r0), em_i64(e, R - 1)), Rv, ""), Rv));
  amx_pack(e, m, a, abuf, fbuf, r0, r1, rend);
  em_if_end(e, &f);
  EmLoop b;
  em_loop_begin(e, &b, r0, r1, R, 0, NULL);
  LLVMValueRef ablk = em_gep(e, c->t_i16, abuf, em_mul(e, em_sub(e, b.iv, r0), em_i64(e, m->K)));
  LLVMValueRef n = em_smin(e, em_sub(e, r1, b.iv), Rv);
  for (int h = 0; h < (m->ep == SCHED_MM_SILU_MUL ? 2 : 1); h++) {
    amx_block(e, m, a, ablk, p, h, cbuf);
    amx_epilogue(e, m, a, b.iv, n, p, h, cbuf);
  }
  em_loop_end(e, &b, NULL, NULL);
  em_loop_end(e, &l, &rt, NULL);
  amx_call(e, "llvm.x86.tilerelease", NULL, 0);
}
