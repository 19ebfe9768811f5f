/* spec_field.c: the typed accessors the spec loader is written in (see spec_field.h).
 *
 * Scalars are resolved by the YAML 1.2 core schema (ytree_scalar), so `"256"` is a string,
 * `1.5` is not an integer and `yes` is not a boolean.  Messages quote the offending text
 * and offer the nearest known word where one is close.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "spec_field.h"

int sf_fail(SCtx *c, int node, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ytree_verror(c->t, node, c->err, c->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

const char *sf_describe(SCtx *c, int node) {
  const YNode *n = &c->t->node[node];
  char q[128];
  if (n->kind == YN_SEQ) {
    snprintf(c->desc, sizeof c->desc, "a sequence of %d element%s", n->n, n->n == 1 ? "" : "s");
    return c->desc;
  }
  if (n->kind == YN_MAP) return "a mapping";
  YScalar k = ytree_scalar(c->t, node);
  if (k == YS_NULL) return "null";
  ytree_quote(n->text, n->len, q, sizeof q);
  snprintf(c->desc, sizeof c->desc, "%s'%s'", n->quoted ? "the string " : "", q);
  return c->desc;
}

/* Levenshtein distance, for "did you mean"; long words are simply far apart. */
static int edit_distance(const char *a, const char *b) {
  int la = (int)strlen(a), lb = (int)strlen(b), d[33][33];
  if (la > 32 || lb > 32) return 99;
  for (int i = 0; i <= la; i++) d[i][0] = i;
  for (int j = 0; j <= lb; j++) d[0][j] = j;
  for (int i = 1; i <= la; i++)
    for (int j = 1; j <= lb; j++) {
      int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return d[la][lb];
}

/* the closest word within 2 edits, or one that the word starts (vocab -> vocab_size);
 * nothing for words under 4 letters, where 2 edits is most of the word (f16 -> bf16) */
const char *sf_suggest(const char *word, const char *const *words) {
  const char *best = NULL;
  int bd = 3;
  if (strlen(word) < 4) return NULL;
  for (; words && *words; words++) {
    int d = edit_distance(word, *words);
    size_t lw = strlen(word);
    if (lw >= 3 && !strncmp(word, *words, lw)) d = 2;
    if (d < bd) bd = d, best = *words;
  }
  return best;
}

static int known(const char *key, const char *const *keys) {
  for (; *keys; keys++)
    if (!strcmp(key, *keys)) return 1;
  return 0;
}

static int unknown_key(SCtx *c, int key, const char *where, const char *const *keys) {
  const YNode *k = &c->t->node[key];
  char q[128], hint[80] = "";
  const char *near = sf_suggest(k->text, keys);
  ytree_quote(k->text, k->len, q, sizeof q);
  if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
  return sf_fail(c, key, "unknown key '%s' in %s%s", q, where, hint);
}

int sf_check_map(SCtx *c, int node, const char *where, const char *const *keys) {
  const YNode *m = &c->t->node[node];
  if (m->kind != YN_MAP)
    return sf_fail(c, node, "expected a mapping for %s, got %s", where, sf_describe(c, node));
  for (int i = 0; i + 1 < m->n; i += 2) {
    int key = m->kid[i];
    const YNode *k = &c->t->node[key];
    if (k->kind != YN_SCALAR || strlen(k->text) != k->len)
      return sf_fail(c, key, "keys in %s must be plain names, got %s", where,
                     sf_describe(c, key));
    if (keys && !known(k->text, keys)) return unknown_key(c, key, where, keys);
    for (int j = 0; j < i; j += 2)
      if (ytree_key_is(c->t, m->kid[j], k->text))
        return sf_fail(c, key, "duplicate key '%s' in %s", k->text, where);
  }
  return 0;
}

int sf_lookup(SCtx *c, int map, const char *where, const char *key, int required, int *node) {
  *node = map >= 0 ? ytree_get(c->t, map, key, NULL) : -1;
  if (*node >= 0 || !required) return 0;
  if (map < 0) {
    snprintf(c->err, c->errlen, "%s: error: missing required key '%s' in %s", c->t->file, key,
             where);
    return -1;
  }
  return sf_fail(c, map, "missing required key '%s' in %s", key, where);
}

int sf_at(SCtx *c, int map, const char *key) {
  int n = ytree_get(c->t, map, key, NULL);
  return n >= 0 ? n : map;
}

static const char *qtext(SCtx *c, int node) {
  const YNode *n = &c->t->node[node];
  ytree_quote(n->text, n->len, c->desc, sizeof c->desc);
  return c->desc;
}

static int range_error(SCtx *c, int node, const char *key, long long lo, long long hi) {
  if (lo <= INT_MIN && hi >= INT_MAX)
    return sf_fail(c, node, "'%s' is out of range, got '%s'", key, qtext(c, node));
  if (hi >= INT_MAX)
    return sf_fail(c, node, "'%s' must be >= %lld, got '%s'", key, lo, qtext(c, node));
  return sf_fail(c, node, "'%s' must be between %lld and %lld, got '%s'", key, lo, hi,
                 qtext(c, node));
}

int sf_as_int(SCtx *c, int node, const char *key, long long lo, long long hi, int *out) {
  if (ytree_scalar(c->t, node) != YS_INT)
    return sf_fail(c, node, "expected an integer for '%s', got %s", key, sf_describe(c, node));
  errno = 0;
  long long v = strtoll(c->t->node[node].text, NULL, 10);
  if (lo < INT_MIN) lo = INT_MIN;
  if (hi > INT_MAX) hi = INT_MAX;
  if (errno == ERANGE || v < lo || v > hi) return range_error(c, node, key, lo, hi);
  *out = (int)v;
  return 0;
}

static int as_num(SCtx *c, int node, const char *key, double *out) {
  YScalar k = ytree_scalar(c->t, node);
  if (k != YS_INT && k != YS_FLOAT)
    return sf_fail(c, node, "expected a number for '%s', got %s", key, sf_describe(c, node));
  const char *s = c->t->node[node].text;
  *out = strchr(s, 'n') || strchr(s, 'N') || strchr(s, 'i') || strchr(s, 'I')
             ? NAN : strtod(s, NULL);
  if (!isfinite(*out))
    return sf_fail(c, node, "'%s' must be a finite number, got '%s'", key, qtext(c, node));
  return 0;
}

int sf_as_word(SCtx *c, int node, const char *key, const char *const *words, int *out) {
  const YNode *n = &c->t->node[node];
  char list[160] = "", hint[80] = "";
  int k = ytree_scalar(c->t, node);
  for (int i = 0; words[i]; i++) {
    if ((k == YS_STR || k == YS_INT) && !strcmp(n->text, words[i])) return *out = i, 0;
    size_t o = strlen(list);
    snprintf(list + o, sizeof list - o, "%s%s", i == 0 ? "" : words[i + 1] ? ", " : " or ",
             words[i]);
  }
  const char *near = n->kind == YN_SCALAR ? sf_suggest(n->text, words) : NULL;
  if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
  return sf_fail(c, node, "'%s' must be %s, got %s%s", key, list, sf_describe(c, node), hint);
}

int sf_int(SCtx *c, int map, const char *where, const char *key, int required, long long lo,
           long long hi, int *out) {
  int node;
  if (sf_lookup(c, map, where, key, required, &node)) return -1;
  return node < 0 ? 0 : sf_as_int(c, node, key, lo, hi, out);
}

int sf_positive(SCtx *c, int map, const char *where, const char *key, int required,
                double *out) {
  int node;
  double v;
  if (sf_lookup(c, map, where, key, required, &node)) return -1;
  if (node < 0) return 0;
  if (as_num(c, node, key, &v)) return -1;
  if (!(v > 0)) return sf_fail(c, node, "'%s' must be > 0, got '%s'", key, qtext(c, node));
  *out = v;
  return 0;
}

int sf_number(SCtx *c, int map, const char *where, const char *key, int required,
              double *out) {
  int node;
  if (sf_lookup(c, map, where, key, required, &node)) return -1;
  return node < 0 ? 0 : as_num(c, node, key, out);
}

int sf_capacity(SCtx *c, int map, const char *where, int required, double *out) {
  int node;
  double v;
  if (sf_lookup(c, map, where, "capacity", required, &node)) return -1;
  if (node < 0) return 0;
  if (as_num(c, node, "capacity", &v)) return -1;
  if (!(v > 0 && v <= 1))
    return sf_fail(c, node, "'capacity' must be in (0, 1], got '%s'", qtext(c, node));
  *out = v;
  return 0;
}

int sf_bool(SCtx *c, int map, const char *where, const char *key, int required, int *out) {
  int node;
  if (sf_lookup(c, map, where, key, required, &node)) return -1;
  if (node < 0) return 0;
  if (ytree_scalar(c->t, node) != YS_BOOL)
    return sf_fail(c, node, "expected true or false for '%s', got %s", key,
                   sf_describe(c, node));
  *out = c->t->node[node].text[0] == 't' || c->t->node[node].text[0] == 'T';
  return 0;
}

int sf_str(SCtx *c, int map, const char *where, const char *key, int required,
           const char **out, int *node) {
  if (sf_lookup(c, map, where, key, required, node)) return -1;
  if (*node < 0) return 0;
  const YNode *n = &c->t->node[*node];
  YScalar k = ytree_scalar(c->t, *node);
  if (n->kind != YN_SCALAR || k == YS_NULL || strlen(n->text) != n->len)
    return sf_fail(c, *node, "expected a string for '%s', got %s", key, sf_describe(c, *node));
  *out = n->text;
  return 0;
}

int sf_word(SCtx *c, int map, const char *where, const char *key, int required,
            const char *const *words, int *out) {
  int node;
  if (sf_lookup(c, map, where, key, required, &node)) return -1;
  return node < 0 ? 0 : sf_as_word(c, node, key, words, out);
}
