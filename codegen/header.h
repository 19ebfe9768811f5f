/* header.h: the generated <name>.h, the C interface shipped beside lib<name>.so. */
#ifndef MODC_CODEGEN_HEADER_H
#define MODC_CODEGEN_HEADER_H

#include <stddef.h>
#include <stdio.h>
#include "../frontend/spec.h"

/* Write the header for the model s to path: the whole ABI declaration set of runtime/modc.h
 * (so users need only this one file) and the model's constants as <NAME>_* macros.
 * Deterministic: the same spec gives the same bytes.  0, or -1 with err filled. */
int cg_write_header(const Spec *s, const char *path, char *err, size_t errlen);

/* Write dir/modc.h (the ABI alone) and dir/<name>.pc (pkg-config: -I and -L the folder, an
 * rpath, -l:lib, where lib is the library's file name; paths from ${pcfiledir}, so the
 * folder can move).  0, or -1 with err filled. */
int cg_write_build_files(const Spec *s, const char *dir, const char *lib, char *err, size_t errlen);

#endif
