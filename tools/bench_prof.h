/* bench_prof.h: `modc bench --profile`, the runtime's MODC_PROFILE table read back and named
 * (tools/bench_prof.c). */
#ifndef MODC_TOOLS_BENCH_PROF_H
#define MODC_TOOLS_BENCH_PROF_H

#include <stddef.h>
#include <stdio.h>

/* A fresh empty file in $TMPDIR (else /tmp) named into path[n], and MODC_PROFILE set to it,
 * before the library is opened; 0, or 1 with a message printed. */
int prof_begin(char *path, size_t n);
/* After the model is closed: the table in path, named from lib's symbols, printed as where the
 * time went (graphs, kernels, dispatch and join, imbalance; by kind and the top kernels),
 * with its totals as profile.* lines on kv when not NULL; the file is removed.  0, or 1 with
 * a message printed. */
int prof_report(const char *path, const char *lib, int threads, FILE *kv);

#endif
