/* ytree.c: libyaml events into a YTree (see ytree.h), and the located error messages
 * that every frontend diagnostic goes through.
 *
 * The builder keeps a stack of open collections (bounded, so no input can recurse us into
 * the ground) and a table of anchors that are complete.  Everything is bounds-checked; a
 * failed allocation aborts, since the compiler cannot do anything useful after one.
 */
#include "ytree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YT_MAX_DEPTH 64

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) {
    fprintf(stderr, "modc: out of memory\n");
    abort();
  }
  return p;
}

static char *xstrndup(const char *s, size_t n) {
  char *d = xrealloc(NULL, n + 1);
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

void ytree_init(YTree *t, const char *file) {
  memset(t, 0, sizeof *t);
  t->file = file;
}

void ytree_free(YTree *t) {
  for (int i = 0; i < t->n; i++) {
    if (t->node[i].shared) continue;
    free(t->node[i].text);
    free(t->node[i].tag);
    free(t->node[i].kid);
  }
  for (int i = 0; i < t->n_garbage; i++) free(t->garbage[i]);
  free(t->garbage);
  t->garbage = NULL;
  t->n_garbage = 0;
  free(t->node);
  t->node = NULL;
  t->n = t->cap = 0;
}

int ytree_add(YTree *t, YKind kind, const char *text, const char *dflag) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    t->node = xrealloc(t->node, (size_t)t->cap * sizeof *t->node);
  }
  YNode *n = &t->node[t->n];
  memset(n, 0, sizeof *n);
  n->kind = kind;
  n->dflag = dflag;
  n->line = n->col = 1;
  if (kind == YN_SCALAR) {
    n->len = text ? strlen(text) : 0;
    n->text = xstrndup(text ? text : "", n->len);
  }
  return t->n++;
}

/* A node about to be written gets its own kid array: an alias's copy of its target's, or
 * for a target of aliases a fresh one (the old stays alive for them until ytree_free). */
void ytree_own(YTree *t, int node) {
  YNode *n = &t->node[node];
  if (!n->shared && !n->aliased) return;
  if (n->aliased && !n->shared && n->kid) {
    t->garbage = xrealloc(t->garbage, (size_t)(t->n_garbage + 1) * sizeof *t->garbage);
    t->garbage[t->n_garbage++] = n->kid;
  }
  if (n->shared) {
    n->text = n->text ? xstrndup(n->text, n->len) : NULL;
    n->tag = n->tag ? xstrndup(n->tag, strlen(n->tag)) : NULL;
  }
  if (n->kid) {
    int *k = xrealloc(NULL, (size_t)n->cap * sizeof *k);
    memcpy(k, n->kid, (size_t)n->n * sizeof *k);
    n->kid = k;
  }
  n->shared = n->aliased = 0;
}

void ytree_append(YTree *t, int parent, int kid) {
  ytree_own(t, parent);
  YNode *p = &t->node[parent];
  if (p->n == p->cap) {
    p->cap = p->cap ? 2 * p->cap : 8;
    p->kid = xrealloc(p->kid, (size_t)p->cap * sizeof *p->kid);
  }
  p->kid[p->n++] = kid;
}

int ytree_key_is(const YTree *t, int key, const char *s) {
  const YNode *k = &t->node[key];
  return k->kind == YN_SCALAR && k->len == strlen(s) && memcmp(k->text, s, k->len) == 0;
}

int ytree_get(const YTree *t, int map, const char *key, int *key_at) {
  const YNode *m = &t->node[map];
  if (m->kind != YN_MAP) return -1;
  for (int i = 0; i + 1 < m->n; i += 2) {
    if (ytree_key_is(t, m->kid[i], key)) {
      if (key_at) *key_at = m->kid[i];
      return m->kid[i + 1];
    }
  }
  return -1;
}

/* ---- scalar resolution (YAML 1.2 core schema, decimal only) ---- */

static int is_digits(const char *s) {
  if (!(*s >= '0' && *s <= '9')) return 0;
  while (*s >= '0' && *s <= '9') s++;
  return *s == 0;
}

static int match_int(const char *s) {
  if (*s == '-' || *s == '+') s++;
  return is_digits(s);
}

/* [-+]? ( . [0-9]+ | [0-9]+ ( . [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?  or .inf / .nan */
static int match_float(const char *s) {
  int neg = *s == '-';
  if (*s == '-' || *s == '+') s++;
  if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF")) return 1;
  if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN")) return !neg;
  int digits = 0;
  while (*s >= '0' && *s <= '9') s++, digits++;
  if (*s == '.') {
    s++;
    while (*s >= '0' && *s <= '9') s++, digits++;
  }
  if (!digits) return 0;
  if (*s == 'e' || *s == 'E') {
    s++;
    if (*s == '-' || *s == '+') s++;
    return is_digits(s);
  }
  return *s == 0;
}

static int one_of(const char *s, const char *const *words) {
  for (; *words; words++)
    if (!strcmp(s, *words)) return 1;
  return 0;
}

static YScalar plain_class(const char *s) {
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
  static const char *const bools[] = {"true", "True", "TRUE", "false", "False", "FALSE", NULL};
  if (one_of(s, nulls)) return YS_NULL;
  if (one_of(s, bools)) return YS_BOOL;
  if (match_int(s)) return YS_INT;
  if (match_float(s)) return YS_FLOAT;
  return YS_STR;
}

static YScalar tagged_class(const char *tag, const char *s) {
  static const char *const names[] = {"str", "null", "bool", "int", "float"};
  static const YScalar cls[] = {YS_STR, YS_NULL, YS_BOOL, YS_INT, YS_FLOAT};
  const char *pre = "tag:yaml.org,2002:";
  if (strncmp(tag, pre, strlen(pre)) != 0) return YS_STR; /* "!" and local tags */
  for (int i = 0; i < 5; i++) {
    if (strcmp(tag + strlen(pre), names[i]) != 0) continue;
    if (cls[i] == YS_STR) return YS_STR;
    YScalar got = plain_class(s);
    if (got == cls[i] || (cls[i] == YS_FLOAT && got == YS_INT)) return cls[i];
    return YS_BAD;
  }
  return YS_STR;
}

YScalar ytree_scalar(const YTree *t, int node) {
  const YNode *n = &t->node[node];
  if (n->kind != YN_SCALAR) return YS_BAD;
  if (strlen(n->text) != n->len) return YS_STR; /* embedded NUL */
  if (n->tag) return tagged_class(n->tag, n->text);
  return n->quoted ? YS_STR : plain_class(n->text);
}

/* ---- messages ---- */

void ytree_quote(const char *s, size_t len, char *buf, size_t buflen) {
  size_t o = 0;
  if (!buflen) return;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (o + 8 >= buflen) { /* room for one escape and "..." */
      snprintf(buf + o, buflen - o, "...");
      return;
    }
    if (c < 0x20 || c == 0x7f)
      o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
    else
      buf[o++] = (char)c;
  }
  buf[o] = 0;
}

int ytree_verror(const YTree *t, int node, char *err, size_t errlen, const char *fmt,
                 va_list ap) {
  char msg[768];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (node >= 0 && t->node[node].dflag)
    snprintf(err, errlen, "<command line>: error: -D %s: %s", t->node[node].dflag, msg);
  else if (node >= 0 && t->inner)
    snprintf(err, errlen, "%s: error: %s: %s (line %d, column %d)", t->file, t->inner, msg,
             t->node[node].line, t->node[node].col);
  else if (node >= 0)
    snprintf(err, errlen, "%s:%d:%d: error: %s", t->file, t->node[node].line,
             t->node[node].col, msg);
  else
    snprintf(err, errlen, "%s: error: %s", t->file, msg);
  return -1;
}

int ytree_error(const YTree *t, int node, char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ytree_verror(t, node, err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* A message at an explicit position (libyaml errors, before any node exists). */
static int error_at(const YTree *t, const char *dflag, size_t line, size_t col, char *err,
                    size_t errlen, const char *msg) {
  if (dflag)
    snprintf(err, errlen, "<command line>: error: -D %s: %s", dflag, msg);
  else if (t->inner)
    snprintf(err, errlen, "%s: error: %s: %s (line %zu, column %zu)", t->file, t->inner, msg,
             line, col);
  else
    snprintf(err, errlen, "%s:%zu:%zu: error: %s", t->file, line, col, msg);
  return -1;
}

/* Reader errors carry a byte offset, not a mark: count lines and characters up to it. */
static void offset_to_mark(const char *buf, size_t len, size_t off, size_t *line, size_t *col) {
  *line = *col = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    if (buf[i] == '\n')
      ++*line, *col = 1;
    else if (((unsigned char)buf[i] & 0xC0) != 0x80)
      ++*col;
  }
}

static int parser_error(const YTree *t, const yaml_parser_t *p, const char *buf, size_t len,
                        const char *dflag, char *err, size_t errlen) {
  char msg[512];
  size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
  const char *problem = p->problem ? p->problem : "invalid YAML";
  if (p->error == YAML_READER_ERROR) {
    offset_to_mark(buf, len, p->problem_offset, &line, &col);
    snprintf(msg, sizeof msg, "%s (byte 0x%02x)", problem, p->problem_value & 0xff);
  } else if (p->context && !dflag && !t->inner) {
    snprintf(msg, sizeof msg, "%s (%s at %zu:%zu)", problem, p->context,
             p->context_mark.line + 1, p->context_mark.column + 1);
  } else {
    snprintf(msg, sizeof msg, "%s", problem);
  }
  return error_at(t, dflag, line, col, err, errlen, msg);
}

/* ---- the builder ---- */

typedef struct Anchor {
  char *name;
  int node;
} Anchor;

typedef struct Builder {
  YTree *t;
  const char *dflag;
  int stack[YT_MAX_DEPTH];  /* open collections */
  char *anchor[YT_MAX_DEPTH]; /* their anchors, registered when they close */
  int depth;
  Anchor *anchors;
  int n_anchors;
  int root, docs;
} Builder;

static void add_anchor(Builder *b, const unsigned char *name, int node) {
  if (!name) return;
  b->anchors = xrealloc(b->anchors, (size_t)(b->n_anchors + 1) * sizeof *b->anchors);
  b->anchors[b->n_anchors].name = xstrndup((const char *)name, strlen((const char *)name));
  b->anchors[b->n_anchors++].node = node;
}

static int find_anchor(const Builder *b, const char *name) {
  for (int i = b->n_anchors - 1; i >= 0; i--)
    if (!strcmp(b->anchors[i].name, name)) return b->anchors[i].node;
  return -1;
}

static void attach(Builder *b, int node) {
  if (b->depth == 0)
    b->root = node;
  else
    ytree_append(b->t, b->stack[b->depth - 1], node);
}

static int new_node(Builder *b, YKind kind, const yaml_event_t *e) {
  int i = ytree_add(b->t, kind, NULL, b->dflag);
  b->t->node[i].line = (int)e->start_mark.line + 1;
  b->t->node[i].col = (int)e->start_mark.column + 1;
  return i;
}

static int on_scalar(Builder *b, const yaml_event_t *e) {
  int i = new_node(b, YN_SCALAR, e);
  YNode *n = &b->t->node[i];
  free(n->text);
  n->len = e->data.scalar.length;
  n->text = xstrndup((const char *)e->data.scalar.value, n->len);
  n->quoted = e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
  if (e->data.scalar.tag)
    n->tag = xstrndup((const char *)e->data.scalar.tag, strlen((char *)e->data.scalar.tag));
  attach(b, i);
  add_anchor(b, e->data.scalar.anchor, i);
  return 0;
}

static int on_open(Builder *b, YKind kind, const unsigned char *anchor, const yaml_event_t *e,
                   char *err, size_t errlen) {
  if (b->depth == YT_MAX_DEPTH)
    return error_at(b->t, b->dflag, e->start_mark.line + 1, e->start_mark.column + 1, err,
                    errlen, "collections nested too deeply");
  int i = new_node(b, kind, e);
  attach(b, i);
  b->anchor[b->depth] = anchor ? xstrndup((const char *)anchor, strlen((char *)anchor)) : NULL;
  b->stack[b->depth++] = i;
  return 0;
}

static void on_close(Builder *b) {
  b->depth--;
  add_anchor(b, (unsigned char *)b->anchor[b->depth], b->stack[b->depth]);
  free(b->anchor[b->depth]);
  b->anchor[b->depth] = NULL;
}

static int on_alias(Builder *b, const yaml_event_t *e, char *err, size_t errlen) {
  const char *name = (const char *)e->data.alias.anchor;
  int target = find_anchor(b, name);
  if (target < 0) {
    char msg[256], q[96];
    ytree_quote(name, strlen(name), q, sizeof q);
    snprintf(msg, sizeof msg, "alias '*%s' names no complete anchor above it", q);
    return error_at(b->t, b->dflag, e->start_mark.line + 1, e->start_mark.column + 1, err,
                    errlen, msg);
  }
  int i = ytree_add(b->t, YN_SCALAR, NULL, b->dflag);
  YNode *n = &b->t->node[i];
  free(n->text);
  b->t->node[target].aliased = 1;
  *n = b->t->node[target];
  n->shared = 1;
  n->aliased = 0;
  n->dflag = b->dflag;
  n->line = (int)e->start_mark.line + 1;
  n->col = (int)e->start_mark.column + 1;
  attach(b, i);
  return 0;
}

/* One event; returns 1 at the end of the stream, 0 to go on, -1 on error. */
static int on_event(Builder *b, const yaml_event_t *e, char *err, size_t errlen) {
  switch (e->type) {
  case YAML_STREAM_END_EVENT: return 1;
  case YAML_DOCUMENT_START_EVENT:
    if (b->docs++ == 0) return 0;
    return error_at(b->t, b->dflag, e->start_mark.line + 1, e->start_mark.column + 1, err,
                    errlen, "expected a single YAML document, found a second one");
  case YAML_SCALAR_EVENT: return on_scalar(b, e);
  case YAML_ALIAS_EVENT: return on_alias(b, e, err, errlen);
  case YAML_SEQUENCE_START_EVENT:
    return on_open(b, YN_SEQ, e->data.sequence_start.anchor, e, err, errlen);
  case YAML_MAPPING_START_EVENT:
    return on_open(b, YN_MAP, e->data.mapping_start.anchor, e, err, errlen);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT: on_close(b); return 0;
  default: return 0;
  }
}

static void builder_free(Builder *b) {
  for (int i = 0; i < b->n_anchors; i++) free(b->anchors[i].name);
  free(b->anchors);
  for (int i = 0; i < b->depth; i++) free(b->anchor[i]);
}

int ytree_load(YTree *t, const char *buf, size_t len, const char *dflag, int *root,
               char *err, size_t errlen) {
  Builder b = {.t = t, .dflag = dflag, .root = -1};
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return ytree_error(t, -1, err, errlen, "out of memory");
  yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
  int rc = 0;
  while (rc == 0) {
    yaml_event_t e;
    if (!yaml_parser_parse(&p, &e)) {
      rc = parser_error(t, &p, buf, len, dflag, err, errlen);
      break;
    }
    rc = on_event(&b, &e, err, errlen);
    yaml_event_delete(&e);
  }
  yaml_parser_delete(&p);
  builder_free(&b);
  *root = b.root;
  return rc < 0 ? -1 : 0;
}
