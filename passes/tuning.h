/* tuning.h: tuning records in memory, what `modc tune` writes and `modc compile --tuning`
 * applies (DESIGN section 8).
 *
 * A record names a kernel by its key (passes/kkey.h) and holds the schedule record every
 * node of that key takes instead of the heuristic's.  The schedule pass applies them
 * (pass_schedule with PassOptions.tuning): a record that does not fit its kernel is an error
 * naming the key.  Reading and writing the JSON file, and refusing records of another CPU,
 * is tools/records.c's work; nothing here knows the file format.
 */
#ifndef MODC_TUNING_H
#define MODC_TUNING_H

#include "../ir/sched.h"
#include "kkey.h"

typedef struct TuneRecord {
  char key[KKEY_MAX];       /* kernel key */
  Sched sched;              /* the record its nodes take */
  double ms, default_ms;    /* measured: with this record, with the heuristic's (weighted per call) */
} TuneRecord;

typedef struct Tuning {
  char cpu[64];             /* LLVM CPU name the records were tuned on */
  char features[4096];      /* LLVM feature string of that CPU */
  char version[32];         /* modc version that wrote them */
  int threads;              /* threads they were timed with */
  int n, cap;
  TuneRecord *r;            /* [n], sorted by key, keys distinct */
  int *hits;                /* [n] or NULL: kernel nodes that took record i (the schedule pass counts) */
} Tuning;

/* Record of key, or NULL (binary search: r sorted by key). */
const TuneRecord *tuning_find(const Tuning *t, const char *key);
/* Append a record (keeps no order; tuning_sort after). 0, or -1 out of memory. */
int tuning_add(Tuning *t, const char *key, const Sched *s, double ms, double default_ms);
/* Sort by key; a key twice keeps the record with the lower ms (on a tie, the one whose
 * record sorts first: the result never depends on the input's order). */
void tuning_sort(Tuning *t);
void tuning_free(Tuning *t);

#endif
