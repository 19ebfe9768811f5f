/* tune_space.h: the schedule records `modc tune` tries for a kernel (tune_space.c).
 *
 * The space is cut into groups of fields that act together (a matmul's register tile rows;
 * rows per work item with least work items and prefetch; tail tile; decode accumulator groups;
 * the one-thread threshold; attention's query blocks, P.V vectors, decode groups and key blocks).
 * The search moves one group at a time from the best record so far (coordinate descent),
 * trying every value the group offers that the verifier accepts; the exhaustive sweep walks
 * the product of the many-row groups.  Values come from the target model and the threads:
 * register tiles within the registers, items in multiples of the threads.
 */
#ifndef MODC_TUNE_SPACE_H
#define MODC_TUNE_SPACE_H

#include "ir/sched.h"

#define TUNE_MAX_MOVES 96

/* Groups of kind k, and whether group g matters on the many-row path (rows > 1) or on the
 * one-row path (decode): TUNE_MANY, TUNE_ONE or both. */
enum { TUNE_MANY = 1, TUNE_ONE = 2 };
int tune_groups(SchedKind k);
int tune_group_paths(SchedKind k, int g);
const char *tune_group_name(SchedKind k, int g);

/* The records that differ from cur in group g (cur itself excluded), at most max; threads
 * the count the library runs with.  Validity is the caller's to check (the verifier). */
int tune_moves(const Sched *cur, int g, int threads, Sched *out, int max);
/* The fields of s that a group on one of `paths` (TUNE_MANY, TUNE_ONE) moves, set back to
 * def's: a group on both paths goes back for either. */
void tune_revert_paths(Sched *s, const Sched *def, int paths);
/* Do a and b differ in a field that a group on one of `paths` moves?  (When not, a call on
 * that path runs the same code with either.) */
int tune_differs_on(const Sched *a, const Sched *b, int paths);
/* Are a and b the same record (every field)? */
int tune_same(const Sched *a, const Sched *b);

#endif
