/* schedule.c: the schedule heuristics and the schedule pass (schedule.h).
 *
 * Register budget.  A matmul's many-row micro-kernel keeps mr x np x nv accumulators (nv =
 * nr / vw vectors per panel row, np weight streams), loads np x nv weight vectors per k step
 * and broadcasts one x element per row: from memory as an FMA operand on AVX-512 (no
 * register), into a register elsewhere.  Everything must fit the target's vector registers
 * (32 zmm, 16 ymm/xmm, 32 NEON q), with at most 24 accumulators (measured on Zen 5,
 * PERFORMANCE.md: 12 x 32 and 14 x 32 both run at peak; more buys nothing).  So AVX-512 gets
 * 12 x 32 (24 + 2 registers), AVX2 6 x 16 (12 + 2 + 1: the BLIS/OpenBLAS Haswell shape),
 * SSE 6 x 8, NEON 12 x 8.  Panels are two vectors wide for that reason (sched_panel_nr).
 * A tile needs its accumulators plus either one k step's weight vectors and a broadcast or
 * every row's broadcast and one weight vector (ir/sched.h: sched_mm_regs), and one register
 * is left spare.  matmul_silu_mul reads two weights (gate, up) side by side: over 16-wide
 * panels AVX2 fits only 2 x 16 x 2 (8 accumulators; 3 x 16 x 2 fills all 16 registers and
 * ran at 1.45-1.75x its time), which ran at 45% of the FMA peak on a Zen 3.  So on fewer
 * than 32 registers gate and up are packed one vector wide and the tile is 6 x 8 x 2 (12
 * accumulators, 2 weight vectors, 1 broadcast): that kernel's share of dense12's forward
 * fell from 459 to 263 ms a call, the forward 1.42x and 1.31x faster (Zen 3, 2 threads,
 * `modc bench --vs`, both orders).
 *
 * Cache blocking.  A work item's x rows (mc x K floats) stay in half of the core's L2 while
 * the panels stream past, each panel reused by every register tile of the item; mc is at
 * most 24 register tiles, and matmul_norm_gather's packed rows fit SCHED_PACK_BYTES.  On
 * more than two cores a call is cut into at least 8 items per core where its rows allow
 * (row tiles then hold fewer rows than mc): a routed block's 64 rows x 24 panels would
 * otherwise leave 16 threads with 1 or 2 items each.  Each output's arithmetic does not
 * depend on its tile, so this changes no result.
 *
 * Decode (one row): each panel is read as one sequential stream with ku accumulator groups
 * over k, enough independent FMA chains (ku x np x nv >= 2 x 4: two pipes of latency 4) to
 * keep loads in flight, within the accumulator budget.
 *
 * Attention: MR query rows x 2 key vectors of scores (32 registers: 8 rows, 16: 4), MR x CV
 * output accumulators in P.V, and an item's output rows (qb x head) within 32 KiB.
 */
#include <stdlib.h>
#include <string.h>
#include "../frontend/safetensors.h"
#include "schedule.h"
#include "tuning.h"

#define PAR_MIN_WORK (1 << 17)  /* work (multiply-adds, bytes) below which one thread runs */
/* Attention's work unit (2 x rows x keys x heads x head dim) runs far below a GEMM's rate: a
 * decode step's kv_attention over 65 keys of 12 heads (100K) took 16 us on one thread, ~7% of
 * dense12's 16-thread decode step.  On more than two cores its heads spread over the threads
 * from 1/8 of PAR_MIN_WORK (~11 such keys): decode 0.957 and 0.959 of the time at 16 threads
 * (the GPU machine's Xeon, weights mapped, both orders), 1.0 at 4.  On two, from 1/8 it cost
 * 1.6-2.7% (Zen 5 VM, mapped, both orders): there half of 16 us did not pay for waking the
 * other thread; two cores take PAR_MIN_FEW below. */
#define ATTN_PAR_MIN_MANY (PAR_MIN_WORK / 8)
/* On one or two cores the pool's spinning partner costs well under a microsecond a call, so a
 * one-row matmul or a decode step's attention is split from 32K multiply-adds (a 128 x 256 f32
 * weight): pair_dense's decode step (d_model 256, 4 heads) took 0.84-0.91 of its time at the
 * old PAR_MIN_WORK, pair_mod12drr25p's 0.90-0.95 (`modc bench A --vs B`, 2-core Zen 3 VM, both
 * orders).  Models of d_model 768 and up are over either bound. */
#define PAR_MIN_FEW (1 << 15)
#define MAX_ACC 24
#define AMX_MIN_ROWS 32         /* one AMX tile set's rows: fewer take the FMA tiles */

int sched_amx_fits(int64_t K, DType dt, int nr, int64_t vw, const TargetDesc *t) {
  return (t->features & TF_AMX_BF16) && sched_amx_layout(K, dt == DT_BF16, nr, vw) && sched_amx_pack_fits(K);
}

int sched_panel_nr(int64_t N, int64_t K, DType dt, int streams, const TargetDesc *t) {
  (void)K, (void)dt;
  TargetDesc def;
  if (!t) target_default(&def), t = &def;
  if (N <= t->vw || (streams > 1 && t->vregs < 32)) return t->vw;
  return 2 * t->vw;
}

int sched_weight_streams(const char *name) {
  return st_name_ends(name, ".mlp.gate_proj.weight") || st_name_ends(name, ".mlp.up_proj.weight") ? 2 : 1;
}

int sched_pack_fits(int64_t K) { return K > 0 && K <= SCHED_PACK_BYTES / (12 * 4); }

SchedEpilogue sched_epilogue(Op op) {
  switch (op) {
  case OP_MATMUL_ADD: return SCHED_MM_ADD;
  case OP_MATMUL_SILU_MUL: return SCHED_MM_SILU_MUL;
  case OP_MATMUL_ADD_GATHER: return SCHED_MM_ADD_GATHER;
  case OP_MATMUL_SCATTER_GATE: return SCHED_MM_SCATTER;
  default: return SCHED_MM;
  }
}

static int64_t pow2_floor(int64_t v, int64_t cap) {
  int64_t p = 1;
  while (p * 2 <= v && p * 2 <= cap) p *= 2;
  return p;
}

/* a target of one or two cores (known: 0 means unknown) */
static int few_cores(const TargetDesc *t) { return t->cores > 0 && t->cores <= 2; }

/* x rows of one work item: half the L2, whole register tiles, at most 16 of them */
static int64_t mm_rows_per_item(int64_t K, int64_t mr, SchedA a, const TargetDesc *t) {
  int64_t l2 = t->l2 > 0 ? t->l2 : 1024 * 1024, kb = K * 4 > 0 ? K * 4 : 1;
  int64_t mc = l2 / 2 / kb / mr * mr;
  if (mc > 24 * mr) mc = 24 * mr;
  if (a == SCHED_A_NORM_GATHER && mc * kb > SCHED_PACK_BYTES) mc = SCHED_PACK_BYTES / kb / mr * mr;
  return mc < mr ? mr : mc;
}

Sched sched_matmul(int64_t N, int64_t K, DType dt, SchedEpilogue ep, SchedA a, int nr, const TargetDesc *t) {
  (void)N;
  Sched s;
  memset(&s, 0, sizeof s);
  s.kind = SK_MATMUL;
  s.vw = t->vw, s.regs = t->vregs, s.nr = nr;
  while (s.vw > 4 && nr % s.vw) s.vw /= 2; /* weights packed narrower than the target's vectors */
  int64_t nv = nr / s.vw > 0 ? nr / s.vw : 1, np = ep == SCHED_MM_SILU_MUL ? 2 : 1;
  s.mr = 1; /* the most rows whose tile fits the registers, at most MAX_ACC accumulators */
  while (s.mr < 12 && (s.mr + 1) * np * nv <= MAX_ACC && sched_mm_regs(s.mr + 1, np, nv, s.vw) < t->vregs) s.mr++;
  int64_t budget = t->vregs - np * nv - (s.vw < 16); /* one-row path: accumulators beside a row's weights */
  if (budget > MAX_ACC) budget = MAX_ACC;
  s.mr_tail = s.mr >= 8 ? 4 : s.mr >= 4 ? 2 : 1;
  s.ku = pow2_floor(budget / (np * nv) > 0 ? budget / (np * nv) : 1, 8);
  s.mc = mm_rows_per_item(K, s.mr, a, t);
  s.items = t->cores > 2 ? 8 * t->cores : 0;
  s.pf = 1;
  s.amx = sched_amx_fits(K, dt, nr, s.vw, t) ? AMX_MIN_ROWS : 0;
  s.par_min = few_cores(t) ? PAR_MIN_FEW : PAR_MIN_WORK;
  return s;
}

Sched sched_attention(int64_t hd, const TargetDesc *t) {
  Sched s;
  memset(&s, 0, sizeof s);
  s.kind = SK_ATTN;
  s.vw = t->vw, s.regs = t->vregs;
  s.kb = 2 * s.vw;
  s.mr = t->vregs >= 32 && s.vw >= 8 ? 8 : 4; /* the rows' maxima reduce as one vw-lane tree */
  s.cv = (t->vregs >= 32 ? 24 : 12) / s.mr;
  int64_t ohd = (hd + s.vw - 1) / s.vw * s.vw;
  s.qb = SCHED_ATTN_ACC_ELEMS / (ohd > 0 ? ohd : 1) / s.mr * s.mr;
  if (s.qb < s.mr) s.qb = s.mr;
  if (s.qb > 64) s.qb = 64;
  int dvw = sched_attn_decode_vw(hd, t->vw);
  int64_t dnv = (hd + dvw - 1) / dvw;
  s.dq = dnv <= 4 ? 4 : dnv <= 8 ? 2 : 1;
  s.dkb = dnv <= 4 ? dvw : dvw / 2;
  if (s.dkb > 16) s.dkb = 16;
  s.par_min = t->cores > 2 ? ATTN_PAR_MIN_MANY : few_cores(t) ? PAR_MIN_FEW : PAR_MIN_WORK;
  return s;
}

Sched sched_elementwise(const TargetDesc *t) {
  Sched s;
  memset(&s, 0, sizeof s);
  s.kind = SK_EW;
  s.vw = t->vw;
  s.par_min = PAR_MIN_WORK;
  return s;
}

MMSched sched_mm_expand(const Sched *r, int64_t N, SchedEpilogue ep) {
  MMSched m;
  m.vw = (int)r->vw, m.nr = (int)r->nr;
  m.nv = m.nr / m.vw;
  m.mr = (int)r->mr, m.mr_tail = (int)r->mr_tail;
  m.np = ep == SCHED_MM_SILU_MUL ? 2 : 1;
  m.gemv_ku = (int)r->ku, m.pf = (int)r->pf;
  m.mc = r->mc;
  m.items = r->items;
  m.amx = r->amx;
  m.panels = (N + m.nr - 1) / m.nr;
  return m;
}

/* ---- the pass ---- */

static int matmul_record(Graph *g, int i, const TargetDesc *t, char *err, size_t errlen) {
  Node *n = &g->n[i];
  const Node *w = &g->n[n->in[1]];
  int64_t nr = attr_i(w, "nr", 0);
  if (w->op != OP_WEIGHT || strcmp(attr_s(w, "layout", ""), "panel") || nr <= 0 || w->ty.rank != 2) {
    snprintf(err, errlen, "schedule: %%%d (%s): its weight operand %%%d is not panel-packed (layout = \"panel\", nr)",
             i, op_names[n->op], n->in[1]);
    return -1;
  }
  SchedA a = n->op == OP_MATMUL_NORM_GATHER ? SCHED_A_NORM_GATHER : SCHED_A_ROWS;
  n->sched = sched_matmul(w->ty.dim[0], w->ty.dim[1], w->ty.dt, sched_epilogue(n->op), a, (int)nr, t);
  return 0;
}

/* The tuning record of node i's key onto the node (1), or nothing to apply (0), or -1: the
 * record does not fit the kernel (the error names the key). */
static int tuned_record(Graph *g, int i, const Tuning *tu, char *err, size_t errlen) {
  char key[KKEY_MAX], why[512];
  if (!tu || kernel_key(g, i, key, sizeof key)) return 0;
  const TuneRecord *r = tuning_find(tu, key);
  if (!r) return 0;
  Node *n = &g->n[i];
  if (r->sched.kind != sched_kind_for(n->op)) {
    snprintf(err, errlen, "schedule: tuning record for %s is a #%s record; the kernel takes #%s", key,
             sched_kind_names[r->sched.kind], sched_kind_names[sched_kind_for(n->op)]);
    return -1;
  }
  n->sched = r->sched;
  if (graph_verify(g, why, sizeof why)) {
    snprintf(err, errlen, "schedule: tuning record for %s does not fit its kernel: %s", key, why);
    return -1;
  }
  if (tu->hits) tu->hits[r - tu->r]++;
  return 1;
}

/* The heuristic's record on every kernel node without one; given[i] = 1 for those that had one. */
static int heuristic_records(Graph *g, const TargetDesc *t, char *given, char *err, size_t errlen) {
  for (int i = 0; i < g->len; i++) {
    Node *n = &g->n[i];
    SchedKind k = sched_kind_for(n->op);
    given[i] = n->sched.kind != SK_NONE;
    if (k == SK_NONE || given[i]) continue;
    if (n->ty.rank < 1) {
      snprintf(err, errlen, "schedule: %%%d (%s): type not inferred", i, op_names[n->op]);
      return -1;
    }
    if (k == SK_MATMUL && matmul_record(g, i, t, err, errlen)) return -1;
    if (k == SK_ATTN) {
      int64_t H = attr_i(n, "heads", 0), C = n->ty.dim[n->ty.rank - 1];
      n->sched = sched_attention(H > 0 ? C / H : C, t);
    }
    if (k == SK_EW) n->sched = sched_elementwise(t);
  }
  return 0;
}

int pass_schedule(Graph *g, const TargetDesc *t, const Tuning *tu, char *err, size_t errlen) {
  TargetDesc def;
  if (!t) target_default(&def), t = &def;
  char *given = calloc((size_t)g->len + 1, 1);
  if (!given) {
    snprintf(err, errlen, "schedule: out of memory");
    return -1;
  }
  int rc = heuristic_records(g, t, given, err, errlen);
  /* a shape no heuristic record fits (hand-written IR: a packed matmul wider than the stack
   * buffer, say) is refused here rather than handed to codegen */
  char why[512];
  if (!rc && graph_verify(g, why, sizeof why)) {
    snprintf(err, errlen, "schedule: no record fits: %s", why);
    rc = -1;
  }
  /* tuning records replace the heuristic's one node at a time, each checked against its
   * kernel; records given in the IR text stay */
  for (int i = 0; !rc && tu && i < g->len; i++)
    if (!given[i] && tuned_record(g, i, tu, err, errlen) < 0) rc = -1;
  free(given);
  return rc;
}
