/* dtype.c: names and sizes of the element types, expanded from the MODC_DTYPES table in
 * dtype.h so that the enum, the text names and the byte sizes cannot drift apart.
 * dtype_name of an out-of-range value gives "invalid" (never NULL), so printers of
 * broken IR still print something readable. */
#include <string.h>
#include "dtype.h"

static const char *const dt_names[DT_COUNT] = {
#define X(e, s, b) [e] = s,
  MODC_DTYPES(X)
#undef X
};

static const int dt_sizes[DT_COUNT] = {
#define X(e, s, b) [e] = b,
  MODC_DTYPES(X)
#undef X
};

const char *dtype_name(DType t) {
  if ((unsigned)t >= DT_COUNT) return "invalid";
  return dt_names[t];
}

int dtype_size(DType t) {
  if ((unsigned)t >= DT_COUNT) return 0;
  return dt_sizes[t];
}

int dtype_parse(const char *s, DType *out) {
  for (int t = 0; t < DT_COUNT; t++) {
    if (strcmp(s, dt_names[t]) == 0) {
      *out = (DType)t;
      return 0;
    }
  }
  return -1;
}
