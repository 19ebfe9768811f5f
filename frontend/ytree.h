/* ytree.h: a small YAML node tree over libyaml, with source positions.
 *
 * libyaml's own document API drops the difference between `5` and `!!str 5`, resolves
 * aliases into shared nodes that may form cycles, and cannot say which command-line flag a
 * node came from.  The spec loader (spec.c) and the safetensors header reader
 * (safetensors.c) both need those things, so both read YAML through this tree.
 *
 * Nodes live in one array and refer to their children by index.  An alias becomes a node
 * of its own (so errors point at the alias) that shares the anchored node's text and
 * children, copied only if an override writes to it: no input can make the tree grow
 * faster than the file.  Anchors are registered only when their node is complete, which
 * rules out cycles.  A mapping's kids are key, value, key, value, ...
 * Only frontend/ includes yaml.h (STYLE.md), and only ytree.c within it.
 */
#ifndef MODC_YTREE_H
#define MODC_YTREE_H

#include <stdarg.h>
#include <stddef.h>

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } YKind;

/* What a scalar means under the YAML 1.2 core schema (YS_BAD: an explicit tag that the
 * text does not fit, e.g. `!!int abc`). */
typedef enum { YS_NULL, YS_BOOL, YS_INT, YS_FLOAT, YS_STR, YS_BAD } YScalar;

typedef struct YNode {
  YKind kind;
  char *text;               /* scalar text, NUL-terminated (NULL for collections) */
  size_t len;               /* bytes of text (it may hold an escaped NUL) */
  int quoted;               /* quoted or block scalar: always a string */
  char *tag;                /* explicit tag, expanded (tag:yaml.org,2002:int), or NULL */
  int line, col;            /* 1-based start position */
  const char *dflag;        /* the "-D key=value" text this node came from, or NULL */
  int *kid;                 /* [n] child node indices; a mapping's are key, value pairs */
  int n, cap;
  int shared;               /* an alias: text, tag and kid belong to the anchored node */
  int aliased;              /* some alias shares this node's kid array */
} YNode;

typedef struct YTree {
  const char *file;         /* the path as given, for messages */
  const char *inner;        /* set for a document inside a file (the safetensors header):
                             * messages read "FILE: error: INNER: MSG (line L, column C)" */
  YNode *node;              /* [n] */
  int n, cap;
  int **garbage;            /* [n_garbage] kid arrays replaced while aliases still use them */
  int n_garbage;
} YTree;

void ytree_init(YTree *t, const char *file);
void ytree_free(YTree *t);

/* Parse one YAML document from buf into t.  *root is its node, or -1 for an empty stream.
 * dflag NULL: positions are in t->file; otherwise every node carries dflag.
 * Returns 0, or -1 with a located message in err (libyaml's own words). */
int ytree_load(YTree *t, const char *buf, size_t len, const char *dflag, int *root,
               char *err, size_t errlen);

/* Building, for overrides.  ytree_own gives a shared (alias) node its own copies before
 * its kids are written; ytree_append does it itself. */
int ytree_add(YTree *t, YKind kind, const char *text, const char *dflag);
void ytree_append(YTree *t, int parent, int kid);
void ytree_own(YTree *t, int node);

/* Look a key up in a mapping: index of the value (and of the key in *key_at), or -1. */
int ytree_get(const YTree *t, int map, const char *key, int *key_at);
int ytree_key_is(const YTree *t, int key, const char *s);

YScalar ytree_scalar(const YTree *t, int node);

/* "FILE:LINE:COL: error: MSG" at node (or "<command line>: error: -D X: MSG" for a node
 * that came from an override; node -1 gives "FILE: error: MSG"; see also inner).
 * Always returns -1. */
int ytree_error(const YTree *t, int node, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int ytree_verror(const YTree *t, int node, char *err, size_t errlen, const char *fmt,
                 va_list ap);

/* Quote text for a message: control bytes as \xNN, cut short with "..." to fit buf. */
void ytree_quote(const char *s, size_t len, char *buf, size_t buflen);

#endif
