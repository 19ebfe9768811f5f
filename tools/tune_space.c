/* tune_space.c: the groups of record fields `modc tune` moves, and their values (tune_space.h).
 *
 * matmul: tile rows mr (1..12; the rows per item follow, as near the same tile count as the
 *         new mr allows), rows per item mc (1..48 tiles) with least items (0 or 1..16 per
 *         thread) and prefetch as one group (they decide together how a call is cut for the
 *         threads and how its panels stream: measured, moving mc and items one at a time
 *         stopped 3-6% short of the sweep's best, and with prefetch a group of its own the
 *         search missed the sweep's best of dense12's down projection and MLP, items 16 per
 *         thread with prefetch off, by 7-15% side by side), tail rows, decode groups ku, par_min;
 *         amx stays the heuristic's: moving a call between AMX tiles and the FMA tiles changes
 *         its arithmetic (x rounded to bf16 or not), which the candidates' check against the
 *         heuristic's output (1e-5) would take for a wrong result;
 * attn:   query rows mr (2..16, qb following), rows per item qb, P.V vectors cv, decode rows
 *         per group dq, decode keys per block dkb, par_min.
 * The verifier decides which of these fit (registers, accumulators, the stack buffer).
 */
#include <string.h>
#include "tools/tune_space.h"

enum { MM_MR, MM_BLOCK, MM_TAIL, MM_KU, MM_PARMIN, MM_GROUPS };
enum { AT_MR, AT_QB, AT_CV, AT_DQ, AT_DKB, AT_PARMIN, AT_GROUPS };

static const char *const mm_names[MM_GROUPS] = {"mr", "mc,items,pf", "mr_tail", "ku", "par_min"};
static const char *const at_names[AT_GROUPS] = {"mr", "qb", "cv", "dq", "dkb", "par_min"};
static const int mm_paths[MM_GROUPS] = {TUNE_MANY, TUNE_MANY, TUNE_MANY, TUNE_ONE, TUNE_MANY | TUNE_ONE};
static const int at_paths[AT_GROUPS] = {TUNE_MANY, TUNE_MANY, TUNE_MANY, TUNE_ONE, TUNE_ONE, TUNE_MANY | TUNE_ONE};
static const int64_t par_mins[] = {0, 1 << 15, 1 << 17, 1 << 19, 1 << 21};

int tune_groups(SchedKind k) { return k == SK_MATMUL ? MM_GROUPS : k == SK_ATTN ? AT_GROUPS : 0; }

int tune_group_paths(SchedKind k, int g) {
  if (g < 0 || g >= tune_groups(k)) return 0;
  return k == SK_MATMUL ? mm_paths[g] : at_paths[g];
}

const char *tune_group_name(SchedKind k, int g) {
  if (g < 0 || g >= tune_groups(k)) return "?";
  return k == SK_MATMUL ? mm_names[g] : at_names[g];
}

typedef struct Moves {
  const Sched *cur;
  Sched *out;
  int n, max;
} Moves;

/* field by field (a struct's padding is not compared) */
int tune_same(const Sched *a, const Sched *b) {
  return a->kind == b->kind && a->vw == b->vw && a->regs == b->regs && a->nr == b->nr && a->mr == b->mr &&
         a->mr_tail == b->mr_tail && a->ku == b->ku && a->mc == b->mc && a->items == b->items && a->pf == b->pf &&
         a->amx == b->amx && a->par_min == b->par_min && a->kb == b->kb && a->cv == b->cv && a->qb == b->qb &&
         a->dq == b->dq && a->dkb == b->dkb;
}

/* s as a move, unless it is cur or already listed */
static void add(Moves *m, const Sched *s) {
  if (m->n >= m->max || tune_same(s, m->cur)) return;
  for (int i = 0; i < m->n; i++)
    if (tune_same(&m->out[i], s)) return;
  m->out[m->n++] = *s;
}

/* mc for tile rows mr keeping about the tiles per item of cur */
static int64_t mc_for(const Sched *cur, int64_t mr) {
  int64_t tiles = cur->mr > 0 ? cur->mc / cur->mr : 1;
  return (tiles > 0 ? tiles : 1) * mr;
}

static void mm_moves(Moves *m, int g, int threads) {
  static const int64_t tiles[] = {1, 2, 4, 8, 16, 24, 48};
  static const int64_t per[] = {0, 1, 2, 4, 8, 16};
  Sched s = *m->cur;
  switch (g) {
  case MM_MR: /* each tile height with the rows per item of cur's tile count, and with one
               * or two row tiles for all the rows (what streams the weights least often) */
    for (int64_t mr = 1; mr <= 12; mr++)
      for (int v = 0; v < 3; v++) {
        s = *m->cur, s.mr = mr, s.mc = v == 0 ? mc_for(m->cur, mr) : v == 1 ? 24 * mr : 48 * mr;
        if (v) s.items = 2 * threads;
        if (s.mr_tail > mr) s.mr_tail = mr >= 8 ? 4 : mr >= 4 ? 2 : 1;
        add(m, &s);
      }
    break;
  case MM_BLOCK: /* rows per item, least items and prefetch together: how a call is cut for
                  * the threads and how its panels stream */
    for (int pf = 0; pf < 2; pf++)
      for (size_t i = 0; i < sizeof tiles / sizeof *tiles; i++)
        for (size_t j = 0; j < sizeof per / sizeof *per; j++)
          s.mc = tiles[i] * m->cur->mr, s.items = per[j] * threads, s.pf = pf ? !m->cur->pf : m->cur->pf, add(m, &s);
    break;
  case MM_TAIL:
    for (int64_t t = 1; t <= m->cur->mr; t++) s.mr_tail = t, add(m, &s);
    break;
  case MM_KU:
    for (int64_t ku = 1; ku <= 8; ku *= 2) s.ku = ku, add(m, &s);
    break;
  case MM_PARMIN:
    for (size_t i = 0; i < sizeof par_mins / sizeof *par_mins; i++) s.par_min = par_mins[i], add(m, &s);
    break;
  }
}

static void attn_moves(Moves *m, int g) {
  Sched s = *m->cur;
  switch (g) {
  case AT_MR:
    for (int64_t mr = 2; mr <= 16; mr *= 2) {
      s = *m->cur, s.mr = mr;
      s.qb = m->cur->qb / mr * mr < mr ? mr : m->cur->qb / mr * mr;
      add(m, &s);
    }
    break;
  case AT_QB:
    for (int64_t q = 1; q * m->cur->mr <= 64; q *= 2) s.qb = q * m->cur->mr, add(m, &s);
    break;
  case AT_CV:
    for (int64_t cv = 1; cv <= 6; cv++) s.cv = cv, add(m, &s);
    break;
  case AT_DQ:
    for (int64_t dq = 1; dq <= 4; dq++) s.dq = dq, add(m, &s);
    break;
  case AT_DKB:
    for (int64_t b = 2; b <= 16; b *= 2) s.dkb = b, add(m, &s);
    break;
  case AT_PARMIN:
    for (size_t i = 0; i < sizeof par_mins / sizeof *par_mins; i++) s.par_min = par_mins[i], add(m, &s);
    break;
  }
}

int tune_moves(const Sched *cur, int g, int threads, Sched *out, int max) {
  Moves m = {cur, out, 0, max};
  if (cur->kind == SK_MATMUL) mm_moves(&m, g, threads > 0 ? threads : 1);
  if (cur->kind == SK_ATTN) attn_moves(&m, g);
  return m.n;
}

void tune_revert_paths(Sched *s, const Sched *def, int paths) {
  int many = paths & TUNE_MANY, one = paths & TUNE_ONE;
  if (s->kind == SK_MATMUL) {   /* mm_paths: mr, mc/items/pf, mr_tail, amx many-row; ku one-row; par_min both */
    if (many)
      s->mr = def->mr, s->mc = def->mc, s->items = def->items, s->pf = def->pf, s->mr_tail = def->mr_tail, s->amx = def->amx;
    if (one) s->ku = def->ku;
  }
  if (s->kind == SK_ATTN) {     /* at_paths: mr, qb, cv many-row; dq, dkb one-row; par_min both */
    if (many) s->mr = def->mr, s->qb = def->qb, s->cv = def->cv;
    if (one) s->dq = def->dq, s->dkb = def->dkb;
  }
  if (many || one) s->par_min = def->par_min;
}

int tune_differs_on(const Sched *a, const Sched *b, int paths) {
  Sched x = *a;
  tune_revert_paths(&x, b, paths);
  return !tune_same(&x, a);
}
