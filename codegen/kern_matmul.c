/* kern_matmul.c: the matmul family, everything a #matmul record schedules (kern.h). */
#include "kern_mm.h"

/* ---- matmul family: out[R,N] = x[R,K] W^T, matmul_add (+ r), matmul_silu_mul, and the
 * routed forms of fuse-routing: matmul_norm_gather, matmul_add_gather, matmul_scatter_gate ----
 *
 * Outer-product form over weights pre-packed in panels (passes/schedule.h: panel p holds
 * output columns [p*NR, p*NR+NR) as [K][NR]).  A register tile is mr rows x ns panel
 * streams; every k step loads NR/vw vectors of each stream's panel row and broadcasts one x
 * element per row (an embedded-broadcast FMA operand on AVX-512), so the tile's mr*ns*nv
 * accumulators stay in registers over all of K.  The epilogue (store, + residual, or
 * silu(gate) * up, + a residual row read through the index, the scaled scatter into h's row
 * through the index) runs on the registers; columns past N (the zero padding of the last
 * panel) are masked off.
 *
 * A rows: read in place, or (matmul_norm_gather) packed per work item: the item's rows are
 * read through the index from h and RMS-normalised by norm_row (the rmsnorm kernel's own
 * arithmetic, so the values are bit-identical to the unfused pair) into a buffer on the
 * task's stack, repacked only when a task moves on to another row tile.
 *
 * Numerics: on the many-row path each output is one llvm.fma chain over k = 0..K-1 in order,
 * whatever the tile shape, the row count or the thread that computes it; the one-row path
 * has its own fixed order (below).  Neither depends on the thread count.
 *
 * Work: many rows: items (row tile of mc rows, output panel), row-tile-major, so a task's x
 * rows stay in L2 while panels stream past and each panel is reused by every register tile
 * of the row tile (large M splits over rows and columns, a routed block's 64 rows over
 * columns).  One row (decode): items are output panels, each read as one sequential stream
 * with gemv_ku accumulator groups over k (so that row's sums are grouped differently from a
 * many-row call's: a decode step may round differently from a prefill, never differently
 * between thread counts); each weight byte read once, both threads splitting the panels.  Items are
 * scaled by MM_UNIT in the parallel_for range so the runtime's grain (16) never serialises
 * a matrix of few panels. */

/* Where a tile's A rows are: row r at base + (r - row0) * K. */
typedef struct MMA {
  LLVMValueRef base, row0;
} MMA;

/* Row k of a bf16 panel as nv <vw x float>, from its pair row at p (schedule.h): the words
 * [v*vw, v*vw+vw), << 16 for an even k, & 0xffff0000 for an odd one (exact widening).  odd:
 * k's parity, known when the code is built. */
static void mm_bf16_row(Em *e, const MM *m, LLVMValueRef p, int odd, LLVMValueRef *out) {
  CgCtx *c = e->c;
  int vw = m->s.vw;
  LLVMTypeRef wt = LLVMVectorType(c->t_i32, (unsigned)vw), ft = LLVMVectorType(c->t_f32, (unsigned)vw);
  for (int v = 0; v < m->s.nv; v++) {
    LLVMValueRef w = LLVMBuildLoad2(e->b, wt, gep_i32(e, p, em_i64(e, v * vw)), "");
    LLVMSetAlignment(w, 4);
    w = odd ? LLVMBuildAnd(e->b, w, em_splat(e, em_i32(e, (int32_t)0xffff0000u), vw), "")
            : LLVMBuildShl(e->b, w, em_splat(e, em_i32(e, 16), vw), "");
    out[v] = LLVMBuildBitCast(e->b, w, ft, "");
  }
}

/* One k step of a tile at k = kk (of parity odd) into the accumulator group acc (mr x ns x
 * nv vectors). */
static void mm_kstep(Em *e, const MM *m, LLVMValueRef *acc, const LLVMValueRef *carry, LLVMValueRef xb,
                     const LLVMValueRef *wb, int mr, int ns, LLVMValueRef kk, int odd) {
  int vw = m->s.vw, nv = m->s.nv;
  LLVMTypeRef wt = elem_type(e->c, m->dt);
  /* f32: row kk; bf16: the pair row that holds kk (element kk - odd of a [K][nr] view) */
  LLVMValueRef wv[EM_MAXCARRY], woff = em_mul(e, m->dt == DT_BF16 ? em_sub(e, kk, em_i64(e, odd)) : kk, em_i64(e, m->s.nr));
  for (int s = 0; s < ns; s++) {
    LLVMValueRef p = em_gep(e, wt, wb[s], woff);
    if (m->dt == DT_BF16) {
      mm_bf16_row(e, m, p, odd, wv + s * nv);
      continue;
    }
    for (int v = 0; v < nv; v++) wv[s * nv + v] = em_vload(e, vw, gep_f32(e, p, em_i64(e, v * vw)), NULL);
  }
  for (int i = 0; i < mr; i++) {
    LLVMValueRef xs = em_load(e, e->c->t_f32, gep_f32(e, xb, em_add(e, kk, em_i64(e, i * m->K))));
    LLVMValueRef xv = em_splat(e, xs, vw);
    for (int q = 0; q < ns * nv; q++) acc[i * ns * nv + q] = em_fma(e, xv, wv[q], carry[i * ns * nv + q]);
  }
}

/* Prefetch (into L2) rows [kk, kk + rows) of the panel after each stream's, so the next
 * panel arrives from memory while this one is being reused from cache (x86 prefetches never
 * fault, so the one past the last panel is harmless).  kk is even where rows pair (bf16). */
static void mm_prefetch_next(Em *e, const MM *m, const LLVMValueRef *wb, int ns, LLVMValueRef kk, int rows) {
  CgCtx *c = e->c;
  int64_t es = dtype_size(m->dt), rowb = m->s.nr * es, pbytes = sched_panel_k(m->K, m->dt) * rowb;
  LLVMTypeRef pty = c->t_ptr;
  for (int s = 0; s < ns; s++) {
    LLVMValueRef base = em_gep(e, c->t_i8, wb[s], em_add(e, em_mul(e, kk, em_i64(e, rowb)), em_i64(e, pbytes)));
    for (int64_t off = 0; off < rows * rowb; off += 64) {
      LLVMValueRef args[4] = {em_gep(e, c->t_i8, base, em_i64(e, off)), em_i32(e, 0), em_i32(e, 2), em_i32(e, 1)};
      em_intrin(e, "llvm.prefetch", &pty, 1, args, 4);
    }
  }
}

LLVMValueRef mm_hrow(Em *e, LLVMValueRef idx, LLVMValueRef r, LLVMValueRef hrows) {
  return clamp_row(e, em_sext64(e, em_load(e, e->c->t_i32, gep_i32(e, idx, r))), hrows);
}

MMRow mm_row(Em *e, const MM *m, const KArgs *a, LLVMValueRef r) {
  LLVMValueRef N = em_i64(e, m->N), own = em_mul(e, r, N);
  MMRow o = {gep_f32(e, a->out, own), NULL, NULL, NULL};
  if (m->ep == SCHED_MM_ADD) o.res = gep_f32(e, a->p[2], own);
  if (m->ep == SCHED_MM_ADD_GATHER) o.res = gep_f32(e, a->p[2], em_mul(e, mm_hrow(e, a->p[3], r, a->r[2]), N));
  if (m->ep == SCHED_MM_SCATTER) {
    LLVMValueRef hr = mm_hrow(e, a->p[4], r, a->r[3]), hoff = em_mul(e, hr, N);
    LLVMValueRef sc = em_load(e, e->c->t_f32, gep_f32(e, a->p[5], hr));
    o.res = gep_f32(e, a->p[2], own);
    o.out = gep_f32(e, a->out, hoff);
    o.h = gep_f32(e, a->p[3], hoff);
    o.g = m->sig ? sigmoid(e, sc) : sc;
  }
  return o;
}

void mm_store(Em *e, const MM *m, const MMRow *o, LLVMValueRef y, LLVMValueRef up, LLVMValueRef col,
              LLVMValueRef mask) {
  int vw = m->s.vw;
  if (o->res) y = em_fadd(e, y, em_vload(e, vw, gep_f32(e, o->res, col), mask));
  if (m->ep == SCHED_MM_SILU_MUL) y = em_fmul(e, silu(e, y), up);
  if (m->ep == SCHED_MM_SCATTER) { /* x + g (y - x), x = h[idx[r]]: scatter_gate's arithmetic */
    LLVMValueRef x = em_vload(e, vw, gep_f32(e, o->h, col), mask);
    y = em_fadd(e, x, em_fmul(e, em_splat(e, o->g, vw), em_fsub(e, y, x)));
  }
  em_vstore(e, y, gep_f32(e, o->out, col), mask);
}

/* Rows [r0, r0+mr) x output panels [p0, p0+npo): the tile, k loop and epilogue.  ku > 1 (the
 * one-row path): ku accumulator groups take k = ku*j + g, then a tail over the last K % ku
 * into group 0, then the groups are added in a fixed tree; so one panel row after another is
 * read as one sequential stream with ku independent FMA chains per vector.  bf16 rows come
 * in pairs: the loop takes at least two k per trip (both into group 0 when ku = 1: the same
 * chain), so each k's parity is known where the code is built. */
static void mm_tile(Em *e, const MM *m, const KArgs *a, const MMA *A, LLVMValueRef r0, int mr, LLVMValueRef p0,
                    int npo, int ku, int pf) {
  CgCtx *c = e->c;
  int vw = m->s.vw, nv = m->s.nv, nr = m->s.nr, per = m->ep == SCHED_MM_SILU_MUL ? 2 : 1;
  int ns = npo * per, ng = mr * ns * nv, nacc = ng * ku, step = m->dt == DT_BF16 && ku == 1 ? 2 : ku;
  int64_t K = m->K, pstride = sched_panel_k(K, m->dt) * nr, kmain = K / step * step;
  LLVMTypeRef wt = elem_type(c, m->dt);
  LLVMValueRef xb = gep_f32(e, A->base, em_mul(e, em_sub(e, r0, A->row0), em_i64(e, K)));
  LLVMValueRef wb[16];
  for (int s = 0; s < ns; s++) { /* stream s: output panel p0 + s/per, weight operand 1 + s%per */
    LLVMValueRef p = em_add(e, p0, em_i64(e, s / per));
    wb[s] = em_gep(e, wt, a->p[1 + s % per], em_mul(e, p, em_i64(e, pstride)));
  }
  LLVMValueRef acc[EM_MAXCARRY];
  for (int q = 0; q < nacc; q++) acc[q] = em_vzero(e, vw);
  if (kmain > 0) {
    EmLoop l;
    em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, kmain), step, nacc, acc);
    memcpy(acc, l.carry, sizeof(LLVMValueRef) * nacc);
    for (int j = 0; j < step; j++) {
      int g = j % ku;
      mm_kstep(e, m, acc + g * ng, acc + g * ng, xb, wb, mr, ns, em_add(e, l.iv, em_i64(e, j)), j & 1);
    }
    if (pf) mm_prefetch_next(e, m, wb, ns, l.iv, step);
    em_loop_end(e, &l, acc, NULL);
    memcpy(acc, l.carry, sizeof(LLVMValueRef) * nacc);
  }
  for (int64_t kk = kmain; kk < K; kk++) mm_kstep(e, m, acc, acc, xb, wb, mr, ns, em_i64(e, kk), (int)(kk & 1));
  for (int w = 1; w < ku; w *= 2) /* fixed tree over the groups: (0+1)+(2+3) ... */
    for (int g = 0; g + w < ku; g += 2 * w)
      for (int q = 0; q < ng; q++) acc[g * ng + q] = em_fadd(e, acc[g * ng + q], acc[(g + w) * ng + q]);
  /* epilogue: per row, output panel, vector */
  LLVMValueRef N = em_i64(e, m->N);
  for (int i = 0; i < mr; i++) {
    MMRow o = mm_row(e, m, a, em_add(e, r0, em_i64(e, i)));
    for (int q = 0; q < npo; q++)
      for (int v = 0; v < nv; v++) {
        LLVMValueRef col = em_add(e, em_mul(e, em_add(e, p0, em_i64(e, q)), em_i64(e, nr)), em_i64(e, v * vw));
        LLVMValueRef mask = m->N % nr ? em_mask_lt(e, vw, em_sub(e, N, col)) : NULL;
        LLVMValueRef up = per == 2 ? acc[(i * ns + q * per + 1) * nv + v] : NULL;
        mm_store(e, m, &o, acc[(i * ns + q * per) * nv + v], up, col, mask);
      }
  }
}

/* rows [r0, r1) of one output panel: tiles of mr rows, then mr_tail, then single rows */
static void mm_rows(Em *e, const MM *m, const KArgs *a, const MMA *A, LLVMValueRef r0, LLVMValueRef r1, LLVMValueRef p) {
  int steps[3] = {m->s.mr, m->s.mr_tail, 1};
  LLVMValueRef lo = r0;
  for (int t = 0; t < 3; t++) {
    if (t > 0 && (steps[t] >= steps[t - 1])) continue;
    LLVMValueRef st = em_i64(e, steps[t]);
    LLVMValueRef hi = t == 2 ? r1 : em_add(e, lo, em_mul(e, LLVMBuildSDiv(e->b, em_sub(e, r1, lo), st, ""), st));
    EmLoop l;
    em_loop_begin(e, &l, lo, hi, steps[t], 0, NULL);
    mm_tile(e, m, a, A, l.iv, steps[t], p, 1, 1, t == 0 && m->s.pf);
    em_loop_end(e, &l, NULL, NULL);
    lo = hi;
  }
}

/* The row tiles of a call: ceil(blocks / (mc / mr)) of them over its ceil(rows / mr) blocks
 * (more where the record asks for items and the blocks allow); tile t takes blocks [t*blocks/T,
 * (t+1)*blocks/T) (mm_item), so tiles differ by at most one block and an even split of the
 * items over threads is an even split of the work. */
LLVMValueRef mm_row_tiles(Em *e, const MM *m, LLVMValueRef rows, int64_t mr, int64_t mc, LLVMValueRef *blocks) {
  LLVMValueRef bpt = em_i64(e, mc / mr);
  *blocks = LLVMBuildSDiv(e->b, em_add(e, rows, em_i64(e, mr - 1)), em_i64(e, mr), "blocks");
  LLVMValueRef T = LLVMBuildSDiv(e->b, em_add(e, *blocks, em_sub(e, bpt, em_i64(e, 1))), bpt, "rtiles");
  if (m->s.items <= m->s.panels) return T;
  /* the record's least item count: ceil(items / panels) tiles, at most one per block */
  LLVMValueRef want = em_smin(e, em_i64(e, (m->s.items + m->s.panels - 1) / m->s.panels), *blocks);
  return em_smax(e, T, want);
}

void mm_item(Em *e, const MM *m, const KArgs *a, LLVMValueRef t, LLVMValueRef T, LLVMValueRef blocks, int64_t mr,
             LLVMValueRef *rt, LLVMValueRef *p, LLVMValueRef *r0, LLVMValueRef *r1) {
  LLVMValueRef P = em_i64(e, m->s.panels), R = em_i64(e, mr);
  *rt = LLVMBuildSDiv(e->b, t, P, "rtile");
  *p = em_sub(e, t, em_mul(e, *rt, P));
  LLVMValueRef b0 = LLVMBuildSDiv(e->b, em_mul(e, *rt, blocks), T, "");
  LLVMValueRef b1 = LLVMBuildSDiv(e->b, em_mul(e, em_add(e, *rt, em_i64(e, 1)), blocks), T, "");
  *r0 = em_mul(e, b0, R);
  *r1 = em_smin(e, mm_m(m, a), em_mul(e, b1, R));
}

/* The A rows of a task: in place, or a stack buffer of `rows` packed rows (matmul_norm_gather). */
static MMA mm_a(Em *e, const MM *m, const KArgs *a, int64_t rows) {
  MMA A = {a->p[0], em_i64(e, 0)};
  if (m->src == SCHED_A_NORM_GATHER)
    A.base = em_alloca(e, LLVMArrayType2(e->c->t_f32, (uint64_t)(rows * m->K)), "apack");
  return A;
}

/* Pack rows [r0, r1) into A: row r = rmsnorm(h[idx[r]], w), h = operand 0, idx 2, w 3. */
static void mm_pack(Em *e, const MM *m, const KArgs *a, MMA *A, LLVMValueRef r0, LLVMValueRef r1) {
  EmLoop l;
  em_loop_begin(e, &l, r0, r1, 1, 0, NULL);
  LLVMValueRef src = gep_f32(e, a->p[0], em_mul(e, mm_hrow(e, a->p[2], l.iv, a->r[0]), em_i64(e, m->K)));
  norm_row(e, m->norm, src, a->p[3], gep_f32(e, A->base, em_mul(e, em_sub(e, l.iv, r0), em_i64(e, m->K))));
  em_loop_end(e, &l, NULL, NULL);
  A->row0 = r0;
}

/* many rows: items [lo, hi) / MM_UNIT of (row tile, output panel), row-tile-major; a packed
 * A is refilled whenever the item's row tile differs from the last one's */
static void mm_gemm_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const MM *m = vctx;
  LLVMValueRef u = em_i64(e, MM_UNIT), blocks;
  LLVMValueRef T = mm_row_tiles(e, m, mm_m(m, a), m->s.mr, m->s.mc, &blocks);
  LLVMValueRef t0 = LLVMBuildSDiv(e->b, lo, u, ""), t1 = LLVMBuildSDiv(e->b, em_add(e, hi, em_i64(e, MM_UNIT - 1)), u, "");
  MMA A = mm_a(e, m, a, m->s.mc);
  LLVMValueRef none = em_i64(e, -1), rt, p, r0, r1;
  EmLoop l;
  em_loop_begin(e, &l, t0, t1, 1, 1, &none);
  mm_item(e, m, a, l.iv, T, blocks, m->s.mr, &rt, &p, &r0, &r1);
  if (m->src == SCHED_A_NORM_GATHER) {
    EmIf f;
    em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, rt, l.carry[0], ""));
    mm_pack(e, m, a, &A, r0, r1);
    em_if_end(e, &f);
    A.row0 = r0;
  }
  mm_rows(e, m, a, &A, r0, r1, p);
  em_loop_end(e, &l, &rt, NULL);
}

/* one row: output panels [lo, hi) / MM_UNIT, one after another (a task's panels are one
 * contiguous stretch of the packed weights), gemv_ku accumulator groups over k */
static void mm_gemv_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const MM *m = vctx;
  LLVMValueRef u = em_i64(e, MM_UNIT);
  LLVMValueRef p0 = LLVMBuildSDiv(e->b, lo, u, ""), p1 = LLVMBuildSDiv(e->b, em_add(e, hi, em_i64(e, MM_UNIT - 1)), u, "");
  MMA A = mm_a(e, m, a, 1);
  if (m->src == SCHED_A_NORM_GATHER) mm_pack(e, m, a, &A, em_i64(e, 0), em_i64(e, 1));
  EmLoop l;
  em_loop_begin(e, &l, p0, p1, 1, 0, NULL);
  mm_tile(e, m, a, &A, em_i64(e, 0), 1, l.iv, 1, m->s.gemv_ku, 0);
  em_loop_end(e, &l, NULL, NULL);
}

/* The schedule for this node: its record (the scheduling pass chose it for the target, and
 * its panel width is the weight node's). */
static MM mm_schedule(const Kern *k) {
  MM m;
  memset(&m, 0, sizeof m);
  const Node *w = &k->g->n[k->n->in[1]];
  m.ep = sched_epilogue(k->n->op);
  m.src = k->n->op == OP_MATMUL_NORM_GATHER ? SCHED_A_NORM_GATHER : SCHED_A_ROWS;
  m.K = cdim(k, k->in[1], 1);
  m.N = cdim(k, k->in[1], 0);
  m.dt = k->in[1]->dt;
  for (int i = 1; i <= (m.ep == SCHED_MM_SILU_MUL ? 2 : 1); i++) {
    const Node *wi = &k->g->n[k->n->in[i]];
    if (wi->op != OP_WEIGHT || strcmp(attr_s(wi, "layout", ""), "panel") || attr_i(wi, "nr", 0) != attr_i(w, "nr", 0))
      kdie(k, "operand %d is not a panel-packed weight", i);
    if (k->in[i]->dt != m.dt) kdie(k, "gate and up weights differ in dtype");
  }
  if (m.src == SCHED_A_NORM_GATHER) m.norm = (Norm){m.K, norm_eps(k), (int)ksched(k)->vw, NULL, NULL, NULL, NULL};
  if (m.ep == SCHED_MM_SCATTER) {
    const char *gate = attr_s(k->n, "gate", "raw");
    m.sig = !strcmp(gate, "sigmoid");
    if (!m.sig && strcmp(gate, "raw")) kdie(k, "gate \"%s\"", gate);
  }
  const Sched *r = ksched(k);
  if (r->nr != attr_i(w, "nr", 0) || r->vw <= 0 || r->nr % r->vw || r->nr / r->vw > 16)
    kdie(k, "record nr = %lld, vw = %lld for a weight packed with nr = %lld", (long long)r->nr, (long long)r->vw,
        (long long)attr_i(w, "nr", 0));
  m.s = sched_mm_expand(r, m.N, m.ep);
  return m;
}

LLVMValueRef k_matmul(Kern *k) {
  MM m = mm_schedule(k);
  if (m.dt != DT_F32 && m.dt != DT_BF16) kdie(k, "weight dtype %s", dtype_name(m.dt));
  if (cdim(k, k->in[0], 1) != m.K) kdie(k, "x has %lld columns, W %lld", (long long)cdim(k, k->in[0], 1), (long long)m.K);
  int per = m.ep == SCHED_MM_SILU_MUL ? 2 : 1;
  if (m.s.mr < 1 || m.s.mr_tail < 1 || m.s.mc < m.s.mr || m.s.mr * m.s.np * m.s.nv > EM_MAXCARRY ||
      m.s.gemv_ku * per * m.s.nv > EM_MAXCARRY || m.s.gemv_ku < 1)
    kdie(k, "register tile too large");
  if (m.s.amx > 0 && !(k->c->desc.features & TF_AMX_BF16))
    kdie(k, "record amx = %lld for a target without amx-bf16 (%s)", (long long)m.s.amx, k->c->desc.cpu);
  if (m.s.amx > 0 && !sched_amx_fits(m.K, m.dt, m.s.nr, m.s.vw, &k->c->desc))
    kdie(k, "record amx = %lld: AMX tiles need bf16 weights, nr = 32, vw = 16, K a multiple of 32", (long long)m.s.amx);
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  if (m.ep == SCHED_MM_SCATTER) /* the rows that skip the block: h as it was */
    copy_unless_inplace(&e, a.out, a.p[3], em_mul(&e, a.rows, em_i64(&e, m.N * 4)));
  LLVMValueRef M = mm_m(&m, &a), work = em_mul(&e, M, em_i64(&e, m.N * m.K * per));
  LLVMValueRef P = em_i64(&e, m.s.panels), U = em_i64(&e, MM_UNIT);
  Kern kv = *k, km = *k, ka = *k;
  snprintf(kv.name, sizeof kv.name, "%.240s.gemv", k->name);
  snprintf(km.name, sizeof km.name, "%.240s.gemm", k->name);
  snprintf(ka.name, sizeof ka.name, "%.240s.amx", k->name);
  EmIf f, g;
  em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntEQ, M, em_i64(&e, 1), ""));
  par_for(&e, &kv, &a, em_mul(&e, P, U), work, mm_gemv_body, &m);
  em_if_else(&e, &f);
  LLVMValueRef blocks, tiles;
  if (m.s.amx > 0) { /* enough rows: AMX tiles */
    em_if_begin(&e, &g, LLVMBuildICmp(e.b, LLVMIntSGE, M, em_i64(&e, m.s.amx), ""));
    tiles = mm_row_tiles(&e, &m, M, SCHED_AMX_ROWS, mm_amx_mc(&m), &blocks);
    par_for(&e, &ka, &a, em_mul(&e, em_mul(&e, tiles, P), U), work, mm_amx_body, &m);
    em_if_else(&e, &g);
  }
  tiles = mm_row_tiles(&e, &m, M, m.s.mr, m.s.mc, &blocks);
  par_for(&e, &km, &a, em_mul(&e, em_mul(&e, tiles, P), U), work, mm_gemm_body, &m);
  if (m.s.amx > 0) em_if_end(&e, &g);
  em_if_end(&e, &f);
  return kend(&e);
}

