/* schedule.c: the matmul schedule heuristic (schedule.h).
 *
 * Register budget: AVX-512 has 32 vector registers, AVX2 and SSE 16.  The micro-kernel keeps
 * mr x np x nv accumulators, broadcasts one x element per row (an embedded-broadcast operand
 * of the FMA on AVX-512, so no register) and loads np x nv weight vectors per k step.
 * Measured on Zen 5 (PERFORMANCE.md): 12 x 32 (24 accumulators) runs at peak.
 */
#include "schedule.h"

int sched_panel_nr(int64_t N, int64_t K, DType dt) {
  (void)K, (void)dt;
  return N <= 16 ? 16 : 32;
}

/* accumulators the target's registers hold beside the weight vectors */
static int acc_budget(int vw) { return vw >= 16 ? 24 : vw == 8 ? 12 : 8; }

/* the largest register tile on any target is 12 rows */
int sched_pack_fits(int64_t K) { return K > 0 && K <= SCHED_PACK_BYTES / (12 * 4); }

MMSched sched_matmul(int64_t M, int64_t N, int64_t K, DType dt, int vw, int nr, SchedEpilogue ep, SchedA a) {
  (void)dt;
  MMSched s;
  s.vw = vw;
  s.nr = nr;
  s.nv = nr / vw > 0 ? nr / vw : 1;
  s.np = ep == SCHED_MM_SILU_MUL ? 2 : 1;
  int per_row = s.np * s.nv, budget = acc_budget(vw);
  s.mr = budget / per_row > 0 ? budget / per_row : 1;
  if (s.mr > 12) s.mr = 12;
  s.mr_tail = s.mr >= 8 ? 4 : s.mr >= 4 ? 2 : 1;
  /* decode: one panel at a time as one sequential stream (several panels side by side would
   * be several streams a multiple of 4 KiB apart, which alias in L1), with enough independent
   * FMA chains (ku groups over k) to keep loads in flight */
  int g = budget / per_row;
  s.gemv_ku = g >= 8 ? 8 : g >= 4 ? 4 : g >= 2 ? 2 : 1;
  /* x rows of one work item: mc x K floats in about 512 KiB of L2 (half of it, beside the
   * panel being reused), whole register tiles; each panel is fetched once per row tile */
  int64_t mc = (512 * 1024) / (K * 4 > 0 ? K * 4 : 1);
  mc = mc / s.mr * s.mr;
  if (mc < s.mr) mc = s.mr;
  if (mc > 24 * s.mr) mc = 24 * s.mr;
  if (a == SCHED_A_NORM_GATHER && mc * K * 4 > SCHED_PACK_BYTES) /* the packed rows: on the stack */
    mc = SCHED_PACK_BYTES / (K * 4) / s.mr * s.mr;
  if (mc < s.mr) mc = s.mr;
  if (M > 0 && mc > (M + s.mr - 1) / s.mr * s.mr) mc = (M + s.mr - 1) / s.mr * s.mr;
  s.mc = mc;
  s.kc = K;
  s.panels = (N + nr - 1) / nr;
  return s;
}
