/* spec_field.h: private to the spec loader (spec.c, spec_field.c, spec_override.c).
 *
 * Typed accessors over the YAML tree: each looks a key up in a mapping (or takes a node),
 * checks its type and range, and either stores the value or writes the located error and
 * returns -1.  An optional key that is absent leaves *out untouched (that is the default)
 * and sets *node to -1.  `where` names the enclosing mapping for messages: "the spec",
 * "'model'", "'routing.per_layer.3'".
 */
#ifndef MODC_SPEC_FIELD_H
#define MODC_SPEC_FIELD_H

#include <stdio.h>
#include "spec.h"
#include "ytree.h"

typedef struct SCtx {
  YTree *t;
  Spec *s;
  char *err;
  size_t errlen;
  char desc[160];           /* sf_describe's buffer */
} SCtx;

int sf_fail(SCtx *c, int node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *sf_describe(SCtx *c, int node); /* "'1.5'", "the string '5'", "a mapping", ... */
const char *sf_suggest(const char *word, const char *const *words); /* closest, or NULL */

/* node must be a mapping whose keys are distinct scalars from keys (NULL: any scalars) */
int sf_check_map(SCtx *c, int node, const char *where, const char *const *keys);
int sf_lookup(SCtx *c, int map, const char *where, const char *key, int required, int *node);
int sf_at(SCtx *c, int map, const char *key); /* the key's value node, or map if absent */

int sf_as_int(SCtx *c, int node, const char *key, long long lo, long long hi, int *out);
int sf_as_word(SCtx *c, int node, const char *key, const char *const *words, int *out);

int sf_int(SCtx *c, int map, const char *where, const char *key, int required, long long lo,
           long long hi, int *out);
int sf_positive(SCtx *c, int map, const char *where, const char *key, int required,
                double *out);                                        /* finite, > 0 */
int sf_number(SCtx *c, int map, const char *where, const char *key, int required,
              double *out);                                          /* finite */
int sf_capacity(SCtx *c, int map, const char *where, int required, double *out); /* (0, 1] */
int sf_bool(SCtx *c, int map, const char *where, const char *key, int required, int *out);
int sf_str(SCtx *c, int map, const char *where, const char *key, int required,
           const char **out, int *node);
int sf_word(SCtx *c, int map, const char *where, const char *key, int required,
            const char *const *words, int *out);

/* Graft one "key.path=value" override into the tree under root (spec_override.c). */
int spec_override(SCtx *c, int root, const char *def);

#endif
