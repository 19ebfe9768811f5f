/* records.h: tuning records files, the JSON form of the records in passes/tuning.h
 * (DESIGN section 8), which `modc tune` writes and `modc compile --tuning FILE` reads:
 *
 *   {"modc_tuning": 1, "modc": VERSION, "cpu": NAME, "features": "+avx2,...", "threads": N,
 *    "records": [{"kernel": KEY, "schedule": {"kind": "matmul", "vw": 16, ...}, "ms": T,
 *                 "default_ms": T0}, ...]}
 *
 * "schedule" holds every field of its kind (ir/sched.h's table), nothing else; records are
 * sorted by key, one per kernel.  The file is tied to the CPU it was tuned on: compiling for
 * another CPU name or feature set is refused (records_check_target).  Only tools/ uses this
 * (it is the one place that includes jansson.h); the compiler proper sees a Tuning.
 *
 * Every function returns 0, or -1 with a message in err that starts with the file's name
 * (the caller adds "modc: error: ").
 */
#ifndef MODC_RECORDS_H
#define MODC_RECORDS_H

#include <stddef.h>
#include "passes/tuning.h"

/* The format version this modc reads and writes ("modc_tuning"). */
#define RECORDS_FORMAT 1

/* Read path into t (overwritten; empty on error).  Refuses anything but a well-formed file
 * of format version 1: located syntax errors ("FILE:LINE:COL: ..."), wrong or missing
 * fields, a schedule of an unknown kind or with a missing, unknown, non-integer or negative
 * field, a key too long for KKEY_MAX, a kernel with two records.  t comes back sorted, with
 * hits NULL. */
int records_read(const char *path, Tuning *t, char *err, size_t n);

/* Write t to path ("-": stdout): the same Tuning gives the same bytes (records sorted by key,
 * a key twice keeps the lower ms, fields in the table's order, ms to 6 significant digits).
 * Written to a temporary file renamed over path, so a failure leaves path as it was.  An
 * empty t->version writes this modc's MODC_VERSION. */
int records_write(const char *path, const Tuning *t, char *err, size_t n);

/* Are records read from path usable for a compile for cpu with features (LLVM names, as in
 * codegen's CgTarget)?  Features compare as sets; an error names both CPUs and the first
 * features that differ. */
int records_check_target(const Tuning *t, const char *path, const char *cpu, const char *features,
                         char *err, size_t n);

/* Add src's records (read from srcpath) to dst: both must have the same cpu, features and
 * thread count (an empty dst takes src's).  A kernel in both keeps the record of lower ms. */
int records_merge(Tuning *dst, const Tuning *src, const char *srcpath, char *err, size_t n);

/* What a compile made of t (after the passes counted t->hits): kernel nodes that took a
 * record, records used, and the keys of the unused ones ("KEY, KEY, ...": the first few)
 * into unused.  Returns the number of unused records. */
int records_usage(const Tuning *t, int *nodes, int *used, char *unused, size_t n);

/* modc tune --merge A.json B.json ... -o OUT.json: argv are tune's arguments (after "tune",
 * holding "--merge").  Prints errors itself; returns the exit status. */
int records_merge_main(int argc, char **argv);

#endif
