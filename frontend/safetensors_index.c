/* safetensors_index.c: a Hugging Face shard index as one StFile (DESIGN section 3).
 *
 * NAME.safetensors.index.json is {"metadata": {...}, "weight_map": {tensor: shard file}},
 * the shard files relative to the index's folder.  Each shard is opened (mapped, checked) as
 * a safetensors file of its own; nothing is copied.  The index's table is the union of the
 * shards' tables, and the two must agree exactly: every mapped tensor is in its shard, every
 * tensor of a shard is mapped to it, no tensor is mapped twice.  Errors name the index and,
 * for a shard's own defect, the shard.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "ytree.h"

#define INDEX_SUFFIX ".index.json"
#define INDEX_MAX_BYTES (64 << 20)

typedef struct Index {
  StFile *f;                /* the index: path, shards, merged table */
  YTree t;
  int map;                  /* the weight_map node */
  char *err;
  size_t errlen;
} Index;

int st_is_index(const char *path) {
  size_t n = strlen(path), k = strlen(INDEX_SUFFIX);
  return n > k && !strcmp(path + n - k, INDEX_SUFFIX);
}

static int ifail(Index *x, int node, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ifail(Index *x, int node, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  ytree_verror(&x->t, node, x->err, x->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long len = -1;
  if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) >= 0 && len <= INDEX_MAX_BYTES && !fseek(f, 0, SEEK_SET) &&
      (buf = malloc((size_t)len + 1)) && fread(buf, 1, (size_t)len, f) == (size_t)len) {
    buf[len] = 0, *n = (size_t)len;
  } else {
    free(buf), buf = NULL;
  }
  if (f) fclose(f);
  return buf;
}

/* the weight_map mapping: every key a tensor name once, every value a file name */
static int load_map(Index *x) {
  size_t n = 0;
  int root;
  char *text = read_all(x->f->path, &n);
  if (!text) return ifail(x, -1, "cannot read the shard index: %s", errno ? strerror(errno) : "too large");
  int rc = ytree_load(&x->t, text, n, NULL, &root, x->err, x->errlen);
  free(text);
  if (rc) return -1;
  if (root < 0 || x->t.node[root].kind != YN_MAP) return ifail(x, root, "a shard index is a JSON object");
  x->map = ytree_get(&x->t, root, "weight_map", NULL);
  if (x->map < 0 || x->t.node[x->map].kind != YN_MAP)
    return ifail(x, x->map < 0 ? root : x->map, "a shard index needs a \"weight_map\" object {tensor: file}");
  const YNode *m = &x->t.node[x->map];
  for (int i = 0; i + 1 < m->n; i += 2) {
    const YNode *k = &x->t.node[m->kid[i]], *v = &x->t.node[m->kid[i + 1]];
    if (k->kind != YN_SCALAR || v->kind != YN_SCALAR || !v->quoted || !*v->text || strchr(v->text, '/') ||
        strlen(v->text) != v->len)
      return ifail(x, m->kid[i + 1], "weight_map values are shard file names in the index's folder");
    for (int j = 0; j < i; j += 2)
      if (!strcmp(x->t.node[m->kid[j]].text, k->text))
        return ifail(x, m->kid[i], "tensor '%s' is mapped twice", k->text);
  }
  return 0;
}

/* open shard `name` (once: the shards so far are searched first); its index or -1 */
static int shard_of(Index *x, const char *name, int node) {
  StFile *f = x->f;
  const char *slash = strrchr(f->path, '/');
  char path[1024], inner[1024];
  for (int i = 0; i < f->nshard; i++) {
    const char *p = strrchr(f->shard[i].path, '/');
    if (!strcmp(p ? p + 1 : f->shard[i].path, name)) return i;
  }
  int dir = slash ? (int)(slash - f->path + 1) : 0;
  if (snprintf(path, sizeof path, "%.*s%s", dir, f->path, name) >= (int)sizeof path)
    return ifail(x, node, "shard path too long"), -1;
  if (st_is_index(path)) return ifail(x, node, "shard '%s' is itself an index", name), -1;
  StFile *s = realloc(f->shard, (size_t)(f->nshard + 1) * sizeof *s);
  if (!s) return ifail(x, node, "out of memory"), -1;
  f->shard = s;
  if (st_open(path, &f->shard[f->nshard], inner, sizeof inner))
    return ifail(x, node, "shard '%s': %s", name, inner), -1;
  return f->nshard++;
}

/* the merged table: each mapped tensor from its shard; then no shard may hold more */
static int merge(Index *x) {
  StFile *f = x->f;
  const YNode *m = &x->t.node[x->map];
  long total = 0;
  f->t = calloc((size_t)(m->n / 2 + 1), sizeof *f->t);
  if (!f->t) return ifail(x, -1, "out of memory");
  for (int i = 0; i + 1 < m->n; i += 2) {
    const char *name = x->t.node[m->kid[i]].text, *file = x->t.node[m->kid[i + 1]].text;
    int s = shard_of(x, file, m->kid[i + 1]);
    if (s < 0) return -1;
    const StTensor *t = st_find(&f->shard[s], name);
    if (!t) return ifail(x, m->kid[i], "tensor '%s' is mapped to '%s', which does not hold it", name, file);
    f->t[f->n++] = *t;
  }
  for (int s = 0; s < f->nshard; s++) total += f->shard[s].n;
  for (int s = 0; s < f->nshard && total != f->n; s++)
    for (int j = 0; j < f->shard[s].n; j++) {
      const StTensor *t = st_find(f, f->shard[s].t[j].name);
      if (!t || t->data != f->shard[s].t[j].data)
        return ifail(x, -1, "shard '%s' holds tensor '%s', which the index does not map to it",
                     strrchr(f->shard[s].path, '/') ? strrchr(f->shard[s].path, '/') + 1 : f->shard[s].path,
                     f->shard[s].t[j].name);
    }
  return 0;
}

int st_open_index(const char *path, StFile *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  snprintf(out->path, sizeof out->path, "%s", path);
  Index x = {.f = out, .err = err, .errlen = errlen};
  ytree_init(&x.t, out->path);
  int rc = load_map(&x) || merge(&x) ? -1 : 0;
  ytree_free(&x.t);
  if (rc) st_close(out);
  return rc;
}
