/* e2e_util.h: helpers the end-to-end tests share (test_e2e.c, tests/cross/test_cross.c). */
#ifndef MODC_E2E_UTIL_H
#define MODC_E2E_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "frontend/graph.h"
#include "frontend/spec.h"

/* The packed blob of a weights file modc compile wrote (mmapped, past its header), or NULL. */
const uint8_t *e2e_map_blob(const char *path);
/* The weight layout modc compile packed for spec s: panel widths follow its target (triple,
 * CPU, threads).  0, or -1 with err set. */
int e2e_layout(const Spec *s, WLayout *l, char *err, size_t n);
/* max |a - b| / max |b| over n values */
double e2e_rel_err(const float *a, const double *b, int64_t n);

#endif
