/* spec_override.c: "-D key.path=value" overrides, grafted into the spec's YAML tree.
 *
 * The value is parsed as YAML (so `routing.layers=[1,2]` and `compile.shapes=[[1,64]]`
 * work), and every node it creates remembers the flag's text.  Path segments walk
 * mappings by key, creating missing mappings on the way, and sequences by index.  Nothing
 * is validated here: the finished tree goes through the same checks as a file, and an
 * unknown or ill-typed key made by a flag is reported as "<command line>: error: -D ...".
 */
#include <stdlib.h>
#include <string.h>

#include "spec_field.h"

#define MAX_PATH_SEGMENTS 16

static int cmdline_error(SCtx *c, const char *def, const char *msg) {
  snprintf(c->err, c->errlen, "<command line>: error: -D %s: %s", def, msg);
  return -1;
}

/* key.path -> segments (in buf); -1 on an empty segment */
static int split_path(char *buf, char **seg) {
  int n = 0;
  for (char *p = buf;; p++) {
    char *dot = strchr(p, '.');
    if (dot) *dot = 0;
    if (!*p || n == MAX_PATH_SEGMENTS) return -1;
    seg[n++] = p;
    if (!dot) return n;
    p = dot;
  }
}

static int seq_index(const char *s, int n) {
  char *end;
  if (!(*s >= '0' && *s <= '9')) return -1;
  long i = strtol(s, &end, 10);
  return *end || i >= n ? -1 : (int)i;
}

/* set map[key] = value, adding the key if the map lacks it; returns the value */
static int set_key(SCtx *c, int map, const char *key, int value, const char *def) {
  ytree_own(c->t, map);
  YNode *m = &c->t->node[map];
  for (int i = 0; i + 1 < m->n; i += 2)
    if (ytree_key_is(c->t, m->kid[i], key)) {
      if (value >= 0) m->kid[i + 1] = value;
      return m->kid[i + 1];
    }
  int k = ytree_add(c->t, YN_SCALAR, key, def);
  if (value < 0) value = ytree_add(c->t, YN_MAP, NULL, def);
  ytree_append(c->t, map, k);
  ytree_append(c->t, map, value);
  return value;
}

/* one step of the walk: the child of cur named seg (set to value when value >= 0) */
static int step(SCtx *c, int cur, const char *seg, int value, const char *def,
                const char *prefix) {
  ytree_own(c->t, cur);
  YNode *n = &c->t->node[cur];
  char msg[512];
  if (n->kind == YN_MAP) return set_key(c, cur, seg, value, def);
  int i = n->kind == YN_SEQ ? seq_index(seg, n->n) : -1;
  if (i >= 0) {
    if (value >= 0) n->kid[i] = value;
    return n->kid[i];
  }
  if (n->kind == YN_SEQ)
    snprintf(msg, sizeof msg, "'%s' is a sequence of %d; '%s' is not an index in it", prefix,
             n->n, seg);
  else
    snprintf(msg, sizeof msg, "cannot set '%s' inside '%s', which is a scalar", seg, prefix);
  cmdline_error(c, def, msg);
  return -1;
}

static int parse_value(SCtx *c, const char *text, const char *def) {
  int v;
  if (ytree_load(c->t, text, strlen(text), def, &v, c->err, c->errlen)) return -1;
  return v >= 0 ? v : ytree_add(c->t, YN_SCALAR, "", def);
}

int spec_override(SCtx *c, int root, const char *def) {
  const char *eq = strchr(def, '=');
  char path[512], prefix[512] = "", *seg[MAX_PATH_SEGMENTS];
  if (!eq || eq == def) return cmdline_error(c, def, "expected key.path=value");
  if ((size_t)(eq - def) >= sizeof path) return cmdline_error(c, def, "key path is too long");
  snprintf(path, sizeof path, "%.*s", (int)(eq - def), def);
  int n = split_path(path, seg);
  if (n < 0) return cmdline_error(c, def, "malformed key path (an empty or excess segment)");
  int v = parse_value(c, eq + 1, def);
  if (v < 0) return -1;
  for (int i = 0, cur = root; i < n; i++) {
    cur = step(c, cur, seg[i], i == n - 1 ? v : -1, def, i ? prefix : "the spec");
    if (cur < 0) return -1;
    size_t o = strlen(prefix);
    snprintf(prefix + o, sizeof prefix - o, "%s%s", o ? "." : "", seg[i]);
  }
  return 0;
}
