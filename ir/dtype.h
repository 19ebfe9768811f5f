/* dtype.h: element types shared by every stage (spec, safetensors, IR, codegen).
 * One table, expanded wherever a per-dtype column is needed. */
#ifndef MODC_DTYPE_H
#define MODC_DTYPE_H

/* X(enum, text, bytes) */
#define MODC_DTYPES(X) \
  X(DT_F32,  "f32",  4)  \
  X(DT_BF16, "bf16", 2)  \
  X(DT_F16,  "f16",  2)  \
  X(DT_I32,  "i32",  4)

typedef enum {
#define X(e, s, b) e,
  MODC_DTYPES(X)
#undef X
  DT_COUNT
} DType;

const char *dtype_name(DType t);  /* "f32", ... */
int dtype_size(DType t);          /* bytes per element */
int dtype_parse(const char *s, DType *out); /* 0 on success, -1 if unknown */

#endif
