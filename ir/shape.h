/* shape.h: type inference of one node from its operands and attributes (chibicc's add_type).
 * Used by the infer-shapes pass and by the verifier, so the rules exist once. */
#ifndef MODC_SHAPE_H
#define MODC_SHAPE_H

#include <stddef.h>
#include "ir.h"

/* The type node i must have, given its operands' types.  Inputs and weights keep the type
 * they were built with.  Returns 0, or -1 with "%IDX (op): why" in err. */
int shape_infer_node(const Graph *g, int i, Type *out, char *err, size_t errlen);

#endif
