/* kern_attn.c: attention and kv_attention, causal by position with an online softmax, in
 * two forms chosen per call by its row count (see below); both are scheduled by the node's
 * #attn record. */
#include "kern.h"

/* Vector c of a head of hd floats in vectors of vw: the mask of its lanes inside the head,
 * for the last, partial vector (NULL for whole ones).  Both forms read heads this way. */
static LLVMValueRef head_mask(Em *e, int64_t hd, int vw, int c) {
  int64_t nv = (hd + vw - 1) / vw;
  if (c < nv - 1 || hd % vw == 0) return NULL;
  return em_mask_const(e, vw, (int)(hd % vw));
}

/* ---- attention: causal by position, online softmax ----
 *
 * Two forms.  A call with at least a register block of rows (prefill, routed blocks) goes
 * to the blocked form further down (fa_*); one with fewer (a decode step) to this one, in
 * which each row takes its dot products with the keys directly (no key transposes to share).
 * Positions need not be sorted in either (a key block is skipped by comparing positions, not
 * by assuming an order).
 * One work item is (group of BQ consecutive query rows, query head); the rows of a group
 * share the key loop, so their independent dependency chains (dot products, exp, the
 * output update) overlap.  Keys go in blocks of B: the block's positions are compared first
 * and a block that no row of the group sees is skipped; otherwise each row reduces its B
 * dot products (one vector accumulator each, over hd) together into a <B x float> of
 * scores, and its running max m, running sum l and output accumulator are rescaled by
 * exp(m_old - m_new).  A row that sees none of a processed block keeps its state unchanged
 * (as if the block had been skipped for it), so a row's result does not depend on its
 * group: the R % BQ rows left over are items of one row each.  Groups are visited zig-zag
 * (0, last, 1, last-1, ...) so that contiguous chunks of items carry equal causal work. */

#define ATTN_MAXQ 4

typedef struct Attn {
  int kv;                   /* kv_attention */
  int64_t layer, H, Hk, hd;
  int B;                    /* keys per block */
  int bq;                   /* query rows per item */
  int vw, nv;               /* vectors per head (the last masked when hd % vw) */
} Attn;

/* The keys an item runs over, and its query rows. */
typedef struct AttnKeys {
  LLVMValueRef kb, vb;      /* key / value of cache row 0 for the kv head */
  LLVMValueRef kpos, nk;    /* i32 positions of the keys, their count */
  LLVMValueRef q[ATTN_MAXQ], o[ATTN_MAXQ]; /* each row's head */
  LLVMValueRef pos[ATTN_MAXQ];             /* i32 position of each query row */
} AttnKeys;



/* positions of keys j0..j0+B (INT32_MAX past the end) */
static LLVMValueRef attn_kpos(Em *e, const Attn *t, const AttnKeys *k, LLVMValueRef j0, LLVMValueRef *inb) {
  LLVMTypeRef vt = LLVMVectorType(e->c->t_i32, (unsigned)t->B);
  LLVMTypeRef tys[2] = {vt, e->c->t_ptr};
  *inb = em_mask_lt(e, t->B, em_sub(e, k->nk, j0));
  LLVMValueRef args[4] = {gep_i32(e, k->kpos, j0), em_i32(e, 4), *inb, em_splat(e, em_i32(e, INT32_MAX), t->B)};
  return em_intrin(e, "llvm.masked.load", tys, 2, args, 4);
}

/* One row's scores for the block: scaled dots, -inf where the key is not visible. */
static LLVMValueRef attn_scores(Em *e, const Attn *t, LLVMValueRef kb, const LLVMValueRef *q,
                                const LLVMValueRef *rows, LLVMValueRef vis) {
  LLVMValueRef d[64];
  for (int jj = 0; jj < t->B; jj++) {
    d[jj] = em_vzero(e, t->vw);
    for (int c = 0; c < t->nv; c++) {
      LLVMValueRef kv = em_vload(e, t->vw, gep_f32(e, kb, em_add(e, rows[jj], em_i64(e, c * t->vw))), head_mask(e, t->hd, t->vw, c));
      d[jj] = em_fma(e, q[c], kv, d[jj]);
    }
  }
  LLVMValueRef s = em_fmul(e, em_sum_tree(e, d, t->B), em_splat(e, em_f32(e, 1.0 / sqrt((double)t->hd)), t->B));
  return LLVMBuildSelect(e->b, vis, s, em_splat(e, em_f32(e, -INFINITY), t->B), "scores");
}

/* The block's update of every row's state st[r] = (m, l, acc[nv]). */
static void attn_block(Em *e, const Attn *t, const AttnKeys *k, LLVMValueRef q[][16],
                       LLVMValueRef j0, const LLVMValueRef *vis, LLVMValueRef st[][EM_MAXCARRY]) {
  int B = t->B, vw = t->vw, ns = 2 + t->nv;
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd), rows[64], p[ATTN_MAXQ], old[ATTN_MAXQ][EM_MAXCARRY], dead[ATTN_MAXQ];
  LLVMValueRef last = em_sub(e, k->nk, em_i64(e, 1));
  for (int jj = 0; jj < B; jj++) rows[jj] = em_mul(e, em_smin(e, em_add(e, j0, em_i64(e, jj)), last), kw);
  for (int r = 0; r < t->bq; r++) {
    memcpy(old[r], st[r], sizeof(LLVMValueRef) * ns);
    LLVMValueRef s = attn_scores(e, t, k->kb, q[r], rows, vis[r]);
    LLVMValueRef bm = em_hmax(e, s);
    dead[r] = LLVMBuildFCmp(e->b, LLVMRealOEQ, bm, em_f32(e, -INFINITY), "unseen");
    LLVMValueRef mn = em_fmax(e, st[r][0], bm);
    LLVMValueRef corr = em_vexp(e, em_fsub(e, st[r][0], mn));
    p[r] = em_vexp(e, em_fsub(e, s, em_splat(e, mn, B)));
    st[r][0] = mn;
    st[r][1] = em_fadd(e, em_fmul(e, st[r][1], corr), em_hsum(e, p[r]));
    for (int c = 0; c < t->nv; c++) st[r][2 + c] = em_fmul(e, st[r][2 + c], em_splat(e, corr, vw));
  }
  for (int jj = 0; jj < B; jj++)
    for (int c = 0; c < t->nv; c++) {
      LLVMValueRef vv = em_vload(e, vw, gep_f32(e, k->vb, em_add(e, rows[jj], em_i64(e, c * vw))), head_mask(e, t->hd, t->vw, c));
      for (int r = 0; r < t->bq; r++) {
        LLVMValueRef pj = em_splat(e, LLVMBuildExtractElement(e->b, p[r], em_i32(e, jj), ""), vw);
        st[r][2 + c] = em_fma(e, pj, vv, st[r][2 + c]);
      }
    }
  for (int r = 0; r < t->bq; r++)
    for (int i = 0; i < ns; i++) st[r][i] = LLVMBuildSelect(e->b, dead[r], old[r][i], st[r][i], "");
}

/* Skip the block (state unchanged) unless some row sees one of its keys. */
static void attn_key_loop(Em *e, const Attn *t, const AttnKeys *k, LLVMValueRef q[][16],
                          LLVMValueRef st[][EM_MAXCARRY]) {
  int ns = 2 + t->nv, nc = t->bq * ns;
  LLVMValueRef flat[EM_MAXCARRY], vis[ATTN_MAXQ], inb, any = NULL;
  for (int r = 0; r < t->bq; r++) memcpy(flat + r * ns, st[r], sizeof(LLVMValueRef) * ns);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), k->nk, t->B, nc, flat);
  LLVMValueRef kp = attn_kpos(e, t, k, l.iv, &inb);
  LLVMTypeRef bits = LLVMIntTypeInContext(e->c->ctx, (unsigned)t->B);
  for (int r = 0; r < t->bq; r++) {
    vis[r] = LLVMBuildAnd(e->b, inb, LLVMBuildICmp(e->b, LLVMIntSLE, kp, em_splat(e, k->pos[r], t->B), ""), "visible");
    LLVMValueRef v = LLVMBuildBitCast(e->b, vis[r], bits, "");
    any = any ? LLVMBuildOr(e->b, any, v, "") : v;
  }
  LLVMBasicBlockRef from = LLVMGetInsertBlock(e->b), work = em_block(e, "keys"), join = em_block(e, "next");
  LLVMBuildCondBr(e->b, LLVMBuildICmp(e->b, LLVMIntNE, any, LLVMConstNull(bits), "any"), work, join);
  LLVMPositionBuilderAtEnd(e->b, work);
  for (int r = 0; r < t->bq; r++) memcpy(st[r], l.carry + r * ns, sizeof(LLVMValueRef) * ns);
  attn_block(e, t, k, q, l.iv, vis, st);
  LLVMBasicBlockRef wend = LLVMGetInsertBlock(e->b);
  LLVMBuildBr(e->b, join);
  LLVMPositionBuilderAtEnd(e->b, join);
  for (int i = 0; i < nc; i++) {
    LLVMValueRef phi = LLVMBuildPhi(e->b, LLVMTypeOf(l.carry[i]), "");
    LLVMValueRef v[2] = {l.carry[i], st[i / ns][i % ns]};
    LLVMBasicBlockRef bb[2] = {from, wend};
    LLVMAddIncoming(phi, v, bb, 2);
    flat[i] = phi;
  }
  em_loop_end(e, &l, flat, NULL);
  for (int r = 0; r < t->bq; r++) memcpy(st[r], l.carry + r * ns, sizeof(LLVMValueRef) * ns);
}

/* the item's rows over all keys; out = acc / l (0 where no key was visible) */
static void attn_rows(Em *e, const Attn *t, const AttnKeys *k) {
  LLVMValueRef q[ATTN_MAXQ][16], st[ATTN_MAXQ][EM_MAXCARRY];
  for (int r = 0; r < t->bq; r++) {
    for (int c = 0; c < t->nv; c++)
      q[r][c] = em_vload(e, t->vw, gep_f32(e, k->q[r], em_i64(e, c * t->vw)), head_mask(e, t->hd, t->vw, c));
    st[r][0] = em_f32(e, -INFINITY);
    st[r][1] = em_f32(e, 0.0);
    for (int c = 0; c < t->nv; c++) st[r][2 + c] = em_vzero(e, t->vw);
  }
  attn_key_loop(e, t, k, q, st);
  for (int r = 0; r < t->bq; r++) {
    LLVMValueRef l = st[r][1];
    LLVMValueRef seen = LLVMBuildFCmp(e->b, LLVMRealOGT, l, em_f32(e, 0.0), "");
    LLVMValueRef inv = LLVMBuildSelect(e->b, seen, em_fdiv(e, em_f32(e, 1.0), l), em_f32(e, 0.0), "");
    for (int c = 0; c < t->nv; c++)
      em_vstore(e, em_fmul(e, st[r][2 + c], em_splat(e, inv, t->vw)), gep_f32(e, k->o[r], em_i64(e, c * t->vw)), head_mask(e, t->hd, t->vw, c));
  }
}

LLVMValueRef layer_ptr(Em *e, LLVMValueRef exec, int field, int64_t layer, LLVMTypeRef ty) {
  return em_load(e, ty, em_gep(e, ty, em_exec_field(e, exec, field), em_i64(e, layer)));
}

/* kv_attention's tasks are shared by every layer (one copy of the code, not n_layers): the
 * layer's kernel hands them its cache in the operand slots the append has consumed, k and
 * v rows -> the cache's K and V, their row counts -> the cache length and (as an integer)
 * the cache's positions; q, pos and out stay as they are. */
static KArgs cache_args(Em *e, const KArgs *a, int64_t layer) {
  CgCtx *c = e->c;
  KArgs ca = *a;
  ca.p[1] = layer_ptr(e, a->exec, EXEC_KV_K, layer, c->t_ptr);
  ca.p[2] = layer_ptr(e, a->exec, EXEC_KV_V, layer, c->t_ptr);
  ca.r[1] = layer_ptr(e, a->exec, EXEC_KV_LEN, layer, c->t_i64);
  ca.r[2] = LLVMBuildPtrToInt(e->b, layer_ptr(e, a->exec, EXEC_KV_POS, layer, c->t_ptr), c->t_i64, "kpos");
  return ca;
}

/* The keys' positions and count: the cache's (cache_args) or this call's own rows. */
static void attn_key_range(Em *e, int kv, const KArgs *a, LLVMValueRef *kpos, LLVMValueRef *nk) {
  *kpos = kv ? LLVMBuildIntToPtr(e->b, a->r[2], e->c->t_ptr, "kpos") : a->p[3];
  *nk = kv ? a->r[1] : a->rows;
}

/* Query group of item gi of ngroups: 0, n-1, 1, n-2, ... so that a thread's contiguous items
 * pair short causal groups with long ones (balanced work). */
static LLVMValueRef balanced_group(Em *e, LLVMValueRef gi, LLVMValueRef ngroups) {
  LLVMValueRef half = LLVMBuildLShr(e->b, gi, em_i64(e, 1), "");
  LLVMValueRef odd = LLVMBuildTrunc(e->b, gi, e->c->t_i1, "");
  return LLVMBuildSelect(e->b, odd, em_sub(e, em_sub(e, ngroups, em_i64(e, 1)), half), half, "group");
}

/* The rows of item group g: BQ rows from g*BQ for the first R/BQ groups, then one row each. */
static void attn_group(Em *e, const Attn *t, const KArgs *a, AttnKeys *k, LLVMValueRef g,
                       LLVMValueRef h, int bq) {
  CgCtx *c = e->c;
  LLVMValueRef nfull = LLVMBuildSDiv(e->b, a->rows, em_i64(e, t->bq), "");
  LLVMValueRef i0 = bq > 1 ? em_mul(e, g, em_i64(e, bq)) : em_add(e, em_mul(e, nfull, em_i64(e, t->bq)), em_sub(e, g, nfull));
  Attn tt = *t;
  tt.bq = bq;
  for (int r = 0; r < bq; r++) {
    LLVMValueRef i = em_add(e, i0, em_i64(e, r));
    LLVMValueRef qo = em_add(e, em_mul(e, i, em_i64(e, t->H * t->hd)), em_mul(e, h, em_i64(e, t->hd)));
    k->q[r] = gep_f32(e, a->p[0], qo);
    k->o[r] = gep_f32(e, a->out, qo);
    k->pos[r] = em_load(e, c->t_i32, gep_i32(e, a->p[3], i));
  }
  attn_rows(e, &tt, k);
}

static void attn_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const Attn *t = vctx;
  AttnKeys k;
  LLVMValueRef H = em_i64(e, t->H), hd = em_i64(e, t->hd), kb = a->p[1], vb = a->p[2];
  attn_key_range(e, t->kv, a, &k.kpos, &k.nk);
  LLVMValueRef bq = em_i64(e, t->bq), nfull = LLVMBuildSDiv(e->b, a->rows, bq, "full");
  LLVMValueRef ngroups = em_add(e, nfull, LLVMBuildSRem(e->b, a->rows, bq, "")), ilo, ihi;
  span_items(e, lo, hi, &ilo, &ihi);
  EmLoop l;
  em_loop_begin(e, &l, ilo, ihi, 1, 0, NULL);
  LLVMValueRef gi = LLVMBuildUDiv(e->b, l.iv, H, "gi"), h = em_sub(e, l.iv, em_mul(e, gi, H));
  LLVMValueRef g = balanced_group(e, gi, ngroups);
  LLVMValueRef kvh = LLVMBuildUDiv(e->b, h, em_i64(e, t->H / t->Hk), "kvh");
  k.kb = gep_f32(e, kb, em_mul(e, kvh, hd));
  k.vb = gep_f32(e, vb, em_mul(e, kvh, hd));
  if (t->bq == 1) {
    attn_group(e, t, a, &k, g, h, 1);
  } else {
    EmIf f;
    em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntSLT, g, nfull, ""));
    attn_group(e, t, a, &k, g, h, t->bq);
    em_if_else(e, &f);
    attn_group(e, t, a, &k, g, h, 1);
    em_if_end(e, &f);
  }
  em_loop_end(e, &l, NULL, NULL);
}

/* ---- attention over blocks of query rows: keys transposed, scores as a small matmul ----
 *
 * With at least MR query rows (prefill, a routed block, a session's prefill) the scores of
 * MR rows against a block of NB = 2 vectors of keys are a register-blocked matmul over hd:
 * the key block is transposed once per item (vw x vw shuffle transposes into kt[hd][NB] on
 * the stack) and shared by all the item's row blocks, each step loading the NB/vw key
 * vectors of one head coordinate and broadcasting one q element per row.  Each row's
 * online-softmax update is vector-wide over the key block (em_vexp: no libm call per lane);
 * its probabilities go to a small stack buffer and P.V accumulates into the rows' output
 * accumulators (a stack buffer, MR rows x CV vectors in registers at a time, one broadcast
 * probability per row and key).  Work items are (head, query block of QB rows), head-major
 * (a thread's share is whole heads where it can be) and zig-zag over the blocks of a head,
 * each spread over ITEM_SPAN indices; a key block that no row of the item (then of a row
 * block) sees is skipped.
 * A row's arithmetic depends on its own position and the keys only: a processed key block
 * it sees none of leaves its state exactly as it was (correction exp(0) = 1, probabilities
 * exp(-inf) = 0, or all zero while it has seen nothing), the rows past the last full row
 * block go one at a time with the same operation order, and the running sum is a vector
 * reduced by the fixed tree at the end.  So results do not depend on QB or the threads. */

#define FA_NH 2             /* key vectors per block */

typedef struct Fa {
  int kv;                   /* kv_attention: keys from the layer's cache */
  int64_t layer, H, Hk, hd;
  int vw, nv, NB;           /* vector width, vectors per head, keys per block (FA_NH * vw) */
  int MR, CV;               /* rows per register block, output vectors per P.V pass */
  int64_t qbmax, ohd;       /* most rows per item; an accumulator row (nv * vw floats) */
} Fa;

/* One item's keys, stack buffers and current key block. */
typedef struct FaItem {
  LLVMValueRef kb, vb, kpos, nk;     /* keys and values of the kv head, positions, count */
  LLVMValueRef kt, ob, mb, lb, pb, cb; /* kt[hd][NB], o[qb][ohd], m[qb], l[qb][vw], p[MR][NB], corr[MR] */
  LLVMValueRef q, out, pos;          /* the query head of row 0, its output, row positions */
  LLVMValueRef q0;                   /* the item's first row */
  LLVMValueRef j0, kp[FA_NH], inb[FA_NH]; /* key block: first key, positions, in range */
} FaItem;



static LLVMValueRef shuf2(Em *e, LLVMValueRef a, LLVMValueRef b, const int *idx, int n) {
  LLVMValueRef m[64];
  for (int i = 0; i < n; i++) m[i] = em_i32(e, idx[i]);
  return LLVMBuildShuffleVector(e->b, a, b, LLVMConstVector(m, (unsigned)n), "");
}

/* In-register transpose of w vectors of w lanes: at distance d = w/2 .. 1, rows i and i + d
 * swap their off-diagonal d x d blocks. */
static void transpose(Em *e, LLVMValueRef *a, int w) {
  int lo[64], hi[64];
  for (int d = w / 2; d >= 1; d /= 2)
    for (int i = 0; i < w; i++) {
      if (i & d) continue;
      for (int k = 0; k < w; k++) {
        lo[k] = k & d ? w + k - d : k;
        hi[k] = k & d ? w + k : k + d;
      }
      LLVMValueRef x = shuf2(e, a[i], a[i + d], lo, w), y = shuf2(e, a[i], a[i + d], hi, w);
      a[i] = x, a[i + d] = y;
    }
}

/* kt[c][jj] = k[min(j0 + jj, nk - 1)][c]: the key block, head coordinates major */
static void fa_transpose(Em *e, const Fa *t, const FaItem *it) {
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd), last = em_sub(e, it->nk, em_i64(e, 1)), v[16];
  for (int hh = 0; hh < FA_NH; hh++)
    for (int cc = 0; cc < t->nv; cc++) {
      for (int i = 0; i < t->vw; i++) {
        LLVMValueRef j = em_smin(e, em_add(e, it->j0, em_i64(e, hh * t->vw + i)), last);
        v[i] = em_vload(e, t->vw, gep_f32(e, it->kb, em_add(e, em_mul(e, j, kw), em_i64(e, cc * t->vw))), head_mask(e, t->hd, t->vw, cc));
      }
      transpose(e, v, t->vw);
      for (int i = 0; i < t->vw && cc * t->vw + i < t->hd; i++)
        em_vstore(e, v[i], gep_f32(e, it->kt, em_i64(e, (cc * t->vw + i) * t->NB + hh * t->vw)), NULL);
    }
}

/* S[r][hh] = q_r . k_j over the block's keys: an mr x FA_NH block of accumulators over hd */
static void fa_scores(Em *e, const Fa *t, const FaItem *it, const LLVMValueRef *qr, int mr, LLVMValueRef *S) {
  LLVMValueRef acc[EM_MAXCARRY];
  int na = mr * FA_NH;
  for (int i = 0; i < na; i++) acc[i] = em_vzero(e, t->vw);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, t->hd), 1, na, acc);
  memcpy(acc, l.carry, sizeof(LLVMValueRef) * na);
  LLVMValueRef kv[FA_NH];
  for (int hh = 0; hh < FA_NH; hh++)
    kv[hh] = em_vload(e, t->vw, gep_f32(e, it->kt, em_add(e, em_mul(e, l.iv, em_i64(e, t->NB)), em_i64(e, hh * t->vw))), NULL);
  for (int r = 0; r < mr; r++) {
    LLVMValueRef qb = em_splat(e, em_load(e, e->c->t_f32, gep_f32(e, qr[r], l.iv)), t->vw);
    for (int hh = 0; hh < FA_NH; hh++) acc[r * FA_NH + hh] = em_fma(e, qb, kv[hh], acc[r * FA_NH + hh]);
  }
  em_loop_end(e, &l, acc, NULL);
  memcpy(S, l.carry, sizeof(LLVMValueRef) * na);
}

/* mr floats at p: a float when mr == 1, else an <mr x float> */
static LLVMValueRef fa_lanes_load(Em *e, LLVMValueRef p, int mr) {
  return mr == 1 ? em_load(e, e->c->t_f32, p) : em_vload(e, mr, p, NULL);
}

static void fa_lanes_store(Em *e, LLVMValueRef v, LLVMValueRef p, int mr) {
  if (mr == 1) em_store(e, v, p);
  else em_vstore(e, v, p, NULL);
}

static LLVMValueRef fa_lane(Em *e, LLVMValueRef v, int mr, int r) {
  return mr == 1 ? v : LLVMBuildExtractElement(e->b, v, em_i32(e, r), "");
}

/* The online-softmax update of row slots slot0 .. slot0 + mr by their scores s[r][FA_NH]
 * (-inf where not visible): the rows' maxima, m and the corrections of the old state as
 * mr-lane vectors (one tree, one exp for all rows); each row's probabilities to p[r], its
 * running sum l updated, the corrections to corr[]. */
static void fa_softmax(Em *e, const Fa *t, const FaItem *it, LLVMValueRef slot0, int mr, LLVMValueRef s[][FA_NH]) {
  LLVMValueRef rmx[16];
  for (int r = 0; r < mr; r++) {
    rmx[r] = s[r][0];
    for (int hh = 1; hh < FA_NH; hh++) rmx[r] = em_fmax(e, rmx[r], s[r][hh]);
  }
  LLVMValueRef mp = gep_f32(e, it->mb, slot0), mo = fa_lanes_load(e, mp, mr);
  LLVMValueRef mn = em_fmax(e, mo, em_max_tree(e, rmx, mr));
  LLVMValueRef ninf = em_f32(e, -INFINITY), zero = em_f32(e, 0.0);
  if (mr > 1) ninf = em_splat(e, ninf, mr), zero = em_splat(e, zero, mr);
  /* nothing seen yet: subtract 0, so that exp(-inf - 0) = 0 rather than exp(NaN) */
  LLVMValueRef ms = LLVMBuildSelect(e->b, LLVMBuildFCmp(e->b, LLVMRealOEQ, mn, ninf, ""), zero, mn, "");
  LLVMValueRef corr = em_vexp(e, em_fsub(e, mo, ms));
  fa_lanes_store(e, mn, mp, mr);
  fa_lanes_store(e, corr, it->cb, mr);
  for (int r = 0; r < mr; r++) {
    LLVMValueRef msr = em_splat(e, fa_lane(e, ms, mr, r), t->vw), psum = NULL;
    for (int hh = 0; hh < FA_NH; hh++) {
      LLVMValueRef p = em_vexp(e, em_fsub(e, s[r][hh], msr));
      em_vstore(e, p, gep_f32(e, it->pb, em_i64(e, r * t->NB + hh * t->vw)), NULL);
      psum = psum ? em_fadd(e, psum, p) : p;
    }
    LLVMValueRef lp = gep_f32(e, it->lb, em_mul(e, em_add(e, slot0, em_i64(e, r)), em_i64(e, t->vw)));
    LLVMValueRef lv = em_vload(e, t->vw, lp, NULL);
    em_vstore(e, em_fadd(e, em_fmul(e, lv, em_splat(e, fa_lane(e, corr, mr, r), t->vw)), psum), lp, NULL);
  }
}

/* o[slot0 + r][c0 .. c0 + cw vectors) = o * corr[r] + sum over the block's keys of p[r][j] v_j */
static void fa_pv(Em *e, const Fa *t, const FaItem *it, LLVMValueRef slot0, int mr, int c0, int cw) {
  LLVMValueRef acc[EM_MAXCARRY], op[16];
  int na = mr * cw;
  for (int r = 0; r < mr; r++) {
    op[r] = gep_f32(e, it->ob, em_add(e, em_mul(e, em_add(e, slot0, em_i64(e, r)), em_i64(e, t->ohd)), em_i64(e, c0 * t->vw)));
    LLVMValueRef corr = em_splat(e, em_load(e, e->c->t_f32, gep_f32(e, it->cb, em_i64(e, r))), t->vw);
    for (int v = 0; v < cw; v++)
      acc[r * cw + v] = em_fmul(e, em_vload(e, t->vw, gep_f32(e, op[r], em_i64(e, v * t->vw)), NULL), corr);
  }
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd), last = em_sub(e, it->nk, em_i64(e, 1));
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), em_i64(e, t->NB), 1, na, acc);
  memcpy(acc, l.carry, sizeof(LLVMValueRef) * na);
  LLVMValueRef row = em_mul(e, em_smin(e, em_add(e, it->j0, l.iv), last), kw), vv[16];
  for (int v = 0; v < cw; v++)
    vv[v] = em_vload(e, t->vw, gep_f32(e, it->vb, em_add(e, row, em_i64(e, (c0 + v) * t->vw))), head_mask(e, t->hd, t->vw, c0 + v));
  for (int r = 0; r < mr; r++) {
    LLVMValueRef p = em_load(e, e->c->t_f32, gep_f32(e, it->pb, em_add(e, em_i64(e, r * t->NB), l.iv)));
    p = em_splat(e, p, t->vw);
    for (int v = 0; v < cw; v++) acc[r * cw + v] = em_fma(e, p, vv[v], acc[r * cw + v]);
  }
  em_loop_end(e, &l, acc, NULL);
  for (int r = 0; r < mr; r++)
    for (int v = 0; v < cw; v++) em_vstore(e, l.carry[r * cw + v], gep_f32(e, op[r], em_i64(e, v * t->vw)), NULL);
}

/* Row slots slot0 .. slot0 + mr against the current key block, unless none of them sees it. */
static void fa_rows(Em *e, const Fa *t, const FaItem *it, LLVMValueRef slot0, int mr) {
  CgCtx *c = e->c;
  LLVMValueRef qr[16], vis[16][FA_NH], any = NULL;
  LLVMTypeRef bits = LLVMIntTypeInContext(c->ctx, (unsigned)t->vw);
  for (int r = 0; r < mr; r++) {
    LLVMValueRef row = em_add(e, it->q0, em_add(e, slot0, em_i64(e, r)));
    qr[r] = gep_f32(e, it->q, em_mul(e, row, em_i64(e, t->H * t->hd)));
    LLVMValueRef p = em_splat(e, em_load(e, c->t_i32, gep_i32(e, it->pos, row)), t->vw);
    for (int hh = 0; hh < FA_NH; hh++) {
      vis[r][hh] = LLVMBuildAnd(e->b, it->inb[hh], LLVMBuildICmp(e->b, LLVMIntSLE, it->kp[hh], p, ""), "visible");
      LLVMValueRef b = LLVMBuildBitCast(e->b, vis[r][hh], bits, "");
      any = any ? LLVMBuildOr(e->b, any, b, "") : b;
    }
  }
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, any, LLVMConstNull(bits), "any"));
  LLVMValueRef S[EM_MAXCARRY];
  fa_scores(e, t, it, qr, mr, S);
  LLVMValueRef scale = em_splat(e, em_f32(e, 1.0 / sqrt((double)t->hd)), t->vw);
  LLVMValueRef ninf = em_splat(e, em_f32(e, -INFINITY), t->vw);
  LLVMValueRef s[16][FA_NH];
  for (int r = 0; r < mr; r++)
    for (int hh = 0; hh < FA_NH; hh++)
      s[r][hh] = LLVMBuildSelect(e->b, vis[r][hh], em_fmul(e, S[r * FA_NH + hh], scale), ninf, "scores");
  fa_softmax(e, t, it, slot0, mr, s);
  int npass = (t->nv + t->CV - 1) / t->CV;
  for (int ps = 0, c0 = 0; ps < npass; ps++) {
    int cw = (t->nv - c0 + (npass - ps) - 1) / (npass - ps);
    fa_pv(e, t, it, slot0, mr, c0, cw);
    c0 += cw;
  }
  em_if_end(e, &f);
}

/* positions of the block's keys (INT32_MAX past the end) and which are in range */
static void fa_key_block(Em *e, const Fa *t, FaItem *it, LLVMValueRef j0) {
  LLVMTypeRef vt = LLVMVectorType(e->c->t_i32, (unsigned)t->vw), tys[2] = {vt, e->c->t_ptr};
  it->j0 = j0;
  for (int hh = 0; hh < FA_NH; hh++) {
    LLVMValueRef jh = em_add(e, j0, em_i64(e, hh * t->vw));
    it->inb[hh] = em_mask_lt(e, t->vw, em_sub(e, it->nk, jh));
    LLVMValueRef args[4] = {gep_i32(e, it->kpos, jh), em_i32(e, 4), it->inb[hh], em_splat(e, em_i32(e, INT32_MAX), t->vw)};
    it->kp[hh] = em_intrin(e, "llvm.masked.load", tys, 2, args, 4);
  }
}

/* The item's state before the first key: m = -inf, l = 0, o = 0; returns the largest
 * position of its rows. */
static LLVMValueRef fa_init(Em *e, const Fa *t, const FaItem *it, LLVMValueRef nrows) {
  LLVMValueRef qmax = em_i32(e, INT32_MIN);
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), nrows, 1, 1, &qmax);
  em_store(e, em_f32(e, -INFINITY), gep_f32(e, it->mb, l.iv));
  em_vstore(e, em_vzero(e, t->vw), gep_f32(e, it->lb, em_mul(e, l.iv, em_i64(e, t->vw))), NULL);
  for (int c = 0; c < t->nv; c++)
    em_vstore(e, em_vzero(e, t->vw), gep_f32(e, it->ob, em_add(e, em_mul(e, l.iv, em_i64(e, t->ohd)), em_i64(e, c * t->vw))), NULL);
  LLVMValueRef p = em_load(e, e->c->t_i32, gep_i32(e, it->pos, em_add(e, it->q0, l.iv)));
  LLVMValueRef nx = LLVMBuildSelect(e->b, LLVMBuildICmp(e->b, LLVMIntSGT, p, l.carry[0], ""), p, l.carry[0], "");
  em_loop_end(e, &l, &nx, NULL);
  return l.carry[0];
}

/* out row = o / l (0 where the row saw no key) */
static void fa_finish(Em *e, const Fa *t, const FaItem *it, LLVMValueRef nrows) {
  EmLoop l;
  em_loop_begin(e, &l, em_i64(e, 0), nrows, 1, 0, NULL);
  LLVMValueRef sum = em_hsum(e, em_vload(e, t->vw, gep_f32(e, it->lb, em_mul(e, l.iv, em_i64(e, t->vw))), NULL));
  LLVMValueRef seen = LLVMBuildFCmp(e->b, LLVMRealOGT, sum, em_f32(e, 0.0), "");
  LLVMValueRef inv = em_splat(e, LLVMBuildSelect(e->b, seen, em_fdiv(e, em_f32(e, 1.0), sum), em_f32(e, 0.0), ""), t->vw);
  LLVMValueRef o = gep_f32(e, it->out, em_mul(e, em_add(e, it->q0, l.iv), em_i64(e, t->H * t->hd)));
  for (int c = 0; c < t->nv; c++) {
    LLVMValueRef acc = em_vload(e, t->vw, gep_f32(e, it->ob, em_add(e, em_mul(e, l.iv, em_i64(e, t->ohd)), em_i64(e, c * t->vw))), NULL);
    em_vstore(e, em_fmul(e, acc, inv), gep_f32(e, o, em_i64(e, c * t->vw)), head_mask(e, t->hd, t->vw, c));
  }
  em_loop_end(e, &l, NULL, NULL);
}

/* One item: rows [q0, q0 + nrows) of query head h over every key block one of them sees. */
static void fa_item(Em *e, const Fa *t, FaItem *it, LLVMValueRef nrows) {
  LLVMValueRef qmax = fa_init(e, t, it, nrows);
  LLVMValueRef mr = em_i64(e, t->MR), nfull = em_mul(e, LLVMBuildSDiv(e->b, nrows, mr, ""), mr);
  LLVMTypeRef bits = LLVMIntTypeInContext(e->c->ctx, (unsigned)t->vw);
  EmLoop lk, ls, lr;
  em_loop_begin(e, &lk, em_i64(e, 0), it->nk, t->NB, 0, NULL);
  fa_key_block(e, t, it, lk.iv);
  LLVMValueRef any = NULL, qm = em_splat(e, qmax, t->vw);
  for (int hh = 0; hh < FA_NH; hh++) {
    LLVMValueRef v = LLVMBuildAnd(e->b, it->inb[hh], LLVMBuildICmp(e->b, LLVMIntSLE, it->kp[hh], qm, ""), "");
    v = LLVMBuildBitCast(e->b, v, bits, "");
    any = any ? LLVMBuildOr(e->b, any, v, "") : v;
  }
  EmIf f;
  em_if_begin(e, &f, LLVMBuildICmp(e->b, LLVMIntNE, any, LLVMConstNull(bits), "seen"));
  fa_transpose(e, t, it);
  em_loop_begin(e, &ls, em_i64(e, 0), nfull, t->MR, 0, NULL);
  fa_rows(e, t, it, ls.iv, t->MR);
  em_loop_end(e, &ls, NULL, NULL);
  em_loop_begin(e, &lr, nfull, nrows, 1, 0, NULL);
  fa_rows(e, t, it, lr.iv, 1);
  em_loop_end(e, &lr, NULL, NULL);
  em_if_end(e, &f);
  em_loop_end(e, &lk, NULL, NULL);
  fa_finish(e, t, it, nrows);
}

static void fa_body(Em *e, const KArgs *a, LLVMValueRef lo, LLVMValueRef hi, const void *vctx) {
  const Fa *t = vctx;
  CgCtx *c = e->c;
  FaItem it;
  LLVMValueRef hd = em_i64(e, t->hd), kb = a->p[1], vb = a->p[2];
  attn_key_range(e, t->kv, a, &it.kpos, &it.nk);
  it.kt = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->hd * t->NB)), "kt");
  it.ob = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->qbmax * t->ohd)), "o");
  it.mb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)t->qbmax), "m");
  it.lb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->qbmax * t->vw)), "l");
  it.pb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)(t->MR * t->NB)), "p");
  it.cb = em_alloca(e, LLVMArrayType2(c->t_f32, (uint64_t)t->MR), "corr");
  it.pos = a->p[3];
  LLVMValueRef qb = em_i64(e, t->qbmax), ilo, ihi;
  LLVMValueRef ngroups = LLVMBuildSDiv(e->b, em_add(e, a->rows, em_i64(e, t->qbmax - 1)), qb, "");
  span_items(e, lo, hi, &ilo, &ihi);
  EmLoop l;
  em_loop_begin(e, &l, ilo, ihi, 1, 0, NULL);
  /* head-major: a thread's contiguous items are whole heads, each with all its query blocks */
  LLVMValueRef h = LLVMBuildUDiv(e->b, l.iv, ngroups, "h"), gi = em_sub(e, l.iv, em_mul(e, h, ngroups));
  LLVMValueRef g = balanced_group(e, gi, ngroups);
  LLVMValueRef kvh = LLVMBuildUDiv(e->b, h, em_i64(e, t->H / t->Hk), "kvh");
  it.kb = gep_f32(e, kb, em_mul(e, kvh, hd));
  it.vb = gep_f32(e, vb, em_mul(e, kvh, hd));
  it.q = gep_f32(e, a->p[0], em_mul(e, h, hd));
  it.out = gep_f32(e, a->out, em_mul(e, h, hd));
  it.q0 = em_mul(e, g, qb);
  fa_item(e, t, &it, em_smin(e, qb, em_sub(e, a->rows, it.q0)));
  em_loop_end(e, &l, NULL, NULL);
}

/* The schedule (DESIGN section 8): MR x FA_NH score accumulators plus FA_NH key vectors and
 * a broadcast in the registers (32 with AVX-512, 16 below), MR x CV output accumulators in
 * P.V; QB bounded so an item's accumulators stay in L1. */
static Fa fa_schedule(const Attn *a, const Kern *k) {
  const Sched *r = ksched(k);
  Fa t;
  t.kv = a->kv, t.layer = a->layer, t.H = a->H, t.Hk = a->Hk, t.hd = a->hd;
  t.vw = (int)r->vw;
  t.nv = (int)((t.hd + t.vw - 1) / t.vw);
  t.NB = (int)r->kb;
  t.MR = (int)r->mr;
  t.CV = (int)r->cv;
  t.ohd = (int64_t)t.nv * t.vw;
  t.qbmax = r->qb;
  if (t.NB != FA_NH * t.vw || t.MR < 1 || t.MR > 16 || t.CV < 1 || t.qbmax < t.MR || t.qbmax % t.MR ||
      (t.qbmax > t.MR && t.qbmax * t.ohd > SCHED_ATTN_ACC_ELEMS))
    kdie(k, "attention record does not fit (kb %d, mr %d, cv %d, qb %lld)", t.NB, t.MR, t.CV, (long long)t.qbmax);
  return t;
}

/* kv_attention's append: this call's k, v rows and positions go to the layer's cache */
static void kv_append(Em *e, const Attn *t, const KArgs *a) {
  CgCtx *c = e->c;
  LLVMValueRef kw = em_i64(e, t->Hk * t->hd);
  LLVMValueRef lenp = em_gep(e, c->t_i64, em_exec_field(e, a->exec, EXEC_KV_LEN), em_i64(e, t->layer));
  LLVMValueRef len = em_load(e, c->t_i64, lenp);
  LLVMValueRef bytes = em_mul(e, em_mul(e, a->rows, kw), em_i64(e, 4));
  LLVMValueRef kc = layer_ptr(e, a->exec, EXEC_KV_K, t->layer, c->t_ptr);
  LLVMValueRef vc = layer_ptr(e, a->exec, EXEC_KV_V, t->layer, c->t_ptr);
  LLVMValueRef pc = layer_ptr(e, a->exec, EXEC_KV_POS, t->layer, c->t_ptr);
  em_memcpy(e, gep_f32(e, kc, em_mul(e, len, kw)), a->p[1], bytes);
  em_memcpy(e, gep_f32(e, vc, em_mul(e, len, kw)), a->p[2], bytes);
  em_memcpy(e, gep_i32(e, pc, len), a->p[3], em_mul(e, a->rows, em_i64(e, 4)));
  em_store(e, em_add(e, len, a->rows), lenp);
}

LLVMValueRef k_attention(Kern *k) {
  Attn t;
  t.kv = k->n->op == OP_KV_ATTENTION;
  t.layer = attr_i(k->n, "layer", -1);
  t.H = attr_i(k->n, "heads", 0);
  t.Hk = attr_i(k->n, "kv_heads", t.H);
  int64_t qc = ccols(k, k->in[0]), kc = ccols(k, k->in[1]);
  if (t.H <= 0 || t.Hk <= 0 || t.H % t.Hk || qc % t.H) kdie(k, "bad heads / kv_heads");
  t.hd = qc / t.H;
  if (kc != t.Hk * t.hd || ccols(k, k->in[2]) != kc) kdie(k, "k/v width disagrees with kv_heads*hd");
  if (t.kv && t.layer < 0) kdie(k, "no layer attribute");
  /* a head in at most 16 vectors (wider than the registers on small targets: LLVM splits) */
  if (t.hd > 1024) kdie(k, "head dim %lld above 1024", (long long)t.hd);
  const Sched *r = ksched(k);
  t.vw = sched_attn_decode_vw(t.hd, (int)r->vw);
  t.nv = (int)((t.hd + t.vw - 1) / t.vw);
  t.B = (int)r->dkb;
  t.bq = (int)r->dq;
  if (t.B < 1 || t.B > 16 || t.bq < 1 || t.bq > ATTN_MAXQ) kdie(k, "attention record's dkb %d / dq %d", t.B, t.bq);
  Em e;
  KArgs a;
  kbegin(&e, k, &a);
  Kern kt = *k; /* the tasks' name: a kv_attention's without its layer (cache_args) */
  if (t.kv) {
    kv_append(&e, &t, &a);
    a = cache_args(&e, &a, t.layer);
    snprintf(kt.name, sizeof kt.name, "k_kv_attention_h%lld_kv%lld_hd%lld", (long long)t.H, (long long)t.Hk,
             (long long)t.hd);
    size_t len = strlen(kt.name);
    record_suffix(r, kt.name + len, sizeof kt.name - len);
  }
  /* keys: the whole cache after the append (decode spreads its heads over the threads) */
  LLVMValueRef keys = t.kv ? a.r[1] : a.rows;
  LLVMValueRef work = em_mul(&e, em_mul(&e, a.rows, keys), em_i64(&e, t.H * t.hd * 2));
  Fa fa = fa_schedule(&t, k);
  Kern kb = kt;
  snprintf(kb.name, sizeof kb.name, "%.240s.blocks", kt.name);
  EmIf f;
  em_if_begin(&e, &f, LLVMBuildICmp(e.b, LLVMIntSGE, a.rows, em_i64(&e, fa.MR), "blocks"));
  LLVMValueRef items = LLVMBuildSDiv(e.b, em_add(&e, a.rows, em_i64(&e, fa.qbmax - 1)), em_i64(&e, fa.qbmax), "");
  par_for(&e, &kb, &a, em_mul(&e, items, em_i64(&e, t.H * ITEM_SPAN)), work, fa_body, &fa);
  em_if_else(&e, &f);
  /* fewer rows than a register block (a decode step): each row's dot products directly */
  LLVMValueRef bq = em_i64(&e, t.bq);
  LLVMValueRef groups = em_add(&e, LLVMBuildSDiv(e.b, a.rows, bq, ""), LLVMBuildSRem(e.b, a.rows, bq, ""));
  par_for(&e, &kt, &a, em_mul(&e, groups, em_i64(&e, t.H * ITEM_SPAN)), work, attn_body, &t);
  em_if_end(&e, &f);
  return kend(&e);
}

