/* safetensors.c: reading a safetensors file (st_open, st_close, st_find, st_name_ends, st_get_f32).
 *
 * The file is mapped read-only.  Its JSON header goes through libyaml (JSON is YAML flow
 * syntax) by way of ytree; the one JSON form libyaml rejects, a \uD83D\uDE00 surrogate
 * pair, is rewritten to YAML's \U0001F600 first.  Then every tensor entry is checked on
 * its own (dtype, shape, offsets within the data, size agreeing with shape and dtype) and
 * all of them together (unique names, no overlapping byte ranges).  Writing and the
 * conversions live in safetensors_write.c; the spec's tensor list in safetensors_spec.c.
 * Data are read as little-endian, which is what every target modc runs on is.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safetensors.h"
#include "ytree.h"

typedef struct Reader {
  StFile *f;
  YTree t;
  char *err;
  size_t errlen;
  uint64_t data_size;       /* bytes after the header */
  const uint8_t *data;
} Reader;

static int fail(Reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Reader *r, const char *fmt, ...) {
  char msg[768], q[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ytree_quote(msg, strlen(msg), q, sizeof q); /* names from the file may hold anything */
  snprintf(r->err, r->errlen, "%s: error: %s", r->f->path, q);
  return -1;
}

/* ---- the header as YAML ---- */

static int hex4(const char *s, unsigned *v) {
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return 0;
    *v = *v * 16 + (unsigned)d;
  }
  return 1;
}

/* Copy of the header with JSON surrogate pairs as YAML \U escapes (never longer). */
static char *unsurrogate(const char *h, size_t n, size_t *outn) {
  char *o = malloc(n + 1);
  size_t j = 0;
  unsigned hi, lo;
  if (!o) return NULL;
  for (size_t i = 0; i < n;) {
    if (h[i] == '\\' && i + 12 <= n && h[i + 1] == 'u' && hex4(h + i + 2, &hi) &&
        hi >= 0xD800 && hi < 0xDC00 && h[i + 6] == '\\' && h[i + 7] == 'u' &&
        hex4(h + i + 8, &lo) && lo >= 0xDC00 && lo < 0xE000) {
      j += (size_t)sprintf(o + j, "\\U%08X", 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
      i += 12;
    } else if (h[i] == '\\' && i + 1 < n) {
      o[j++] = h[i++];
      o[j++] = h[i++];
    } else {
      o[j++] = h[i++];
    }
  }
  *outn = j;
  return o;
}

static int parse_header(Reader *r, const char *h, size_t n, int *root) {
  size_t i = 0, len;
  while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n')) i++;
  if (i == n || h[i] != '{') return fail(r, "header is not JSON (it does not start with '{')");
  char *copy = unsurrogate(h, n, &len);
  if (!copy) return fail(r, "out of memory");
  int rc = ytree_load(&r->t, copy, len, NULL, root, r->err, r->errlen);
  free(copy);
  if (rc) return -1;
  if (*root < 0 || r->t.node[*root].kind != YN_MAP)
    return fail(r, "header is not a JSON object");
  return 0;
}

/* ---- one tensor entry ---- */

static int parse_u64(const YTree *t, int node, uint64_t *v) {
  const YNode *n = &t->node[node];
  if (ytree_scalar(t, node) != YS_INT || n->text[0] == '-' || n->text[0] == '+') return -1;
  errno = 0;
  *v = strtoull(n->text, NULL, 10);
  return errno == ERANGE ? -1 : 0;
}

static int entry_dtype(Reader *r, StTensor *x, int node) {
  const YNode *n = &r->t.node[node];
  static const char *const names[] = {"F32", "BF16", "F16"};
  static const DType types[] = {DT_F32, DT_BF16, DT_F16};
  char q[96];
  if (n->kind == YN_SCALAR)
    for (int i = 0; i < 3; i++)
      if (!strcmp(n->text, names[i])) return x->dtype = types[i], 0;
  if (n->kind != YN_SCALAR) return fail(r, "tensor '%s' has a dtype that is not a string", x->name);
  ytree_quote(n->text, n->len, q, sizeof q);
  return fail(r, "tensor '%s' has unsupported dtype '%s' (modc reads F32, BF16 and F16)",
              x->name, q);
}

static int entry_shape(Reader *r, StTensor *x, int node) {
  const YNode *n = &r->t.node[node];
  if (n->kind != YN_SEQ) return fail(r, "tensor '%s' has a shape that is not a list", x->name);
  if (n->n > ST_MAXRANK)
    return fail(r, "tensor '%s' has rank %d; modc reads at most rank %d", x->name, n->n,
                ST_MAXRANK);
  x->rank = n->n;
  for (int i = 0; i < n->n; i++) {
    uint64_t d;
    if (parse_u64(&r->t, n->kid[i], &d) || d > ((uint64_t)1 << 40))
      return fail(r, "tensor '%s' has a shape that is not a list of sizes", x->name);
    x->shape[i] = (int64_t)d;
  }
  return 0;
}

static int entry_offsets(Reader *r, StTensor *x, int node) {
  const YNode *n = &r->t.node[node];
  if (n->kind != YN_SEQ || n->n != 2 || parse_u64(&r->t, n->kid[0], &x->begin) ||
      parse_u64(&r->t, n->kid[1], &x->end))
    return fail(r, "tensor '%s' has data_offsets that are not a [begin, end] pair", x->name);
  if (x->begin > x->end)
    return fail(r, "tensor '%s' has data_offsets [%llu, %llu] that end before they begin",
                x->name, (unsigned long long)x->begin, (unsigned long long)x->end);
  if (x->end > r->data_size)
    return fail(r, "tensor '%s' has data_offsets [%llu, %llu] past the end of the data "
                "(%llu bytes); is the file truncated?", x->name,
                (unsigned long long)x->begin, (unsigned long long)x->end,
                (unsigned long long)r->data_size);
  return 0;
}

static const char *st_dtype(DType t) {
  return t == DT_F32 ? "F32" : t == DT_BF16 ? "BF16" : "F16";
}

/* shape product times element size must be exactly the byte range */
static int entry_size(Reader *r, StTensor *x) {
  uint64_t n = 1;
  for (int i = 0; i < x->rank; i++)
    if (__builtin_mul_overflow(n, (uint64_t)x->shape[i], &n)) n = UINT64_MAX;
  uint64_t bytes = x->end - x->begin, want;
  if (__builtin_mul_overflow(n, (uint64_t)dtype_size(x->dtype), &want) || want != bytes)
    return fail(r, "tensor '%s' has %llu elements of %s but data_offsets [%llu, %llu] hold "
                "%llu bytes", x->name, (unsigned long long)n, st_dtype(x->dtype),
                (unsigned long long)x->begin, (unsigned long long)x->end,
                (unsigned long long)bytes);
  x->data = r->data + x->begin;
  return 0;
}

/* {"dtype": D, "shape": [..], "data_offsets": [b, e]} */
static int parse_entry(Reader *r, StTensor *x, int node) {
  static const char *const keys[] = {"dtype", "shape", "data_offsets"};
  int v[3];
  const YNode *n = &r->t.node[node];
  if (n->kind != YN_MAP) return fail(r, "tensor '%s' is not a JSON object", x->name);
  for (int i = 0; i + 1 < n->n; i += 2)
    if (!ytree_key_is(&r->t, n->kid[i], "dtype") && !ytree_key_is(&r->t, n->kid[i], "shape") &&
        !ytree_key_is(&r->t, n->kid[i], "data_offsets"))
      return fail(r, "tensor '%s' has an unknown field (only dtype, shape, data_offsets)",
                  x->name);
  for (int i = 0; i < 3; i++)
    if ((v[i] = ytree_get(&r->t, node, keys[i], NULL)) < 0)
      return fail(r, "tensor '%s' has no '%s'", x->name, keys[i]);
  if (entry_dtype(r, x, v[0]) || entry_shape(r, x, v[1]) || entry_offsets(r, x, v[2]))
    return -1;
  return entry_size(r, x);
}

static int entry_name(Reader *r, StTensor *x, int key) {
  const YNode *k = &r->t.node[key];
  char q[96];
  ytree_quote(k->text ? k->text : "", k->len, q, sizeof q);
  if (k->kind != YN_SCALAR || !k->quoted)
    return fail(r, "header is not valid JSON: a key is not a string");
  if (strlen(k->text) != k->len || k->len >= sizeof x->name)
    return fail(r, "tensor name '%s' is too long or holds a NUL", q);
  memcpy(x->name, k->text, k->len + 1);
  return 0;
}

/* ---- the whole table ---- */

static int by_name(const void *a, const void *b) {
  return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

static int by_begin(const void *a, const void *b) {
  const StTensor *x = a, *y = b;
  return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* names unique and non-empty byte ranges disjoint (checked on a sorted copy) */
static int check_table(Reader *r) {
  StFile *f = r->f;
  StTensor *s = malloc((size_t)(f->n ? f->n : 1) * sizeof *s);
  int rc = 0;
  if (!s) return fail(r, "out of memory");
  memcpy(s, f->t, (size_t)f->n * sizeof *s);
  qsort(s, (size_t)f->n, sizeof *s, by_name);
  for (int i = 1; i < f->n && !rc; i++)
    if (!strcmp(s[i - 1].name, s[i].name)) rc = fail(r, "tensor '%s' appears twice", s[i].name);
  qsort(s, (size_t)f->n, sizeof *s, by_begin);
  for (int i = 0, last = -1; i < f->n && !rc; i++) {
    if (s[i].begin == s[i].end) continue;
    if (last >= 0 && s[i].begin < s[last].end)
      rc = fail(r, "tensors '%s' and '%s' overlap in the data (bytes [%llu, %llu) and "
                "[%llu, %llu))", s[last].name, s[i].name, (unsigned long long)s[last].begin,
                (unsigned long long)s[last].end, (unsigned long long)s[i].begin,
                (unsigned long long)s[i].end);
    if (last < 0 || s[i].end > s[last].end) last = i;
  }
  free(s);
  return rc;
}

static int read_tensors(Reader *r, int root) {
  const YNode *m = &r->t.node[root];
  StFile *f = r->f;
  f->t = calloc((size_t)(m->n / 2 + 1), sizeof *f->t);
  if (!f->t) return fail(r, "out of memory");
  for (int i = 0; i + 1 < m->n; i += 2) {
    StTensor *x = &f->t[f->n];
    if (entry_name(r, x, m->kid[i])) return -1;
    if (!strcmp(x->name, "__metadata__")) continue;
    if (parse_entry(r, x, m->kid[i + 1])) return -1;
    f->n++;
  }
  return check_table(r);
}

static int map_file(Reader *r) {
  StFile *f = r->f;
  struct stat st;
  int fd = open(f->path, O_RDONLY);
  if (fd < 0) return fail(r, "cannot open weights: %s", strerror(errno));
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    close(fd);
    return fail(r, "cannot read weights: not a regular file");
  }
  f->size = (size_t)st.st_size;
  if (f->size >= 8)
    f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (f->size < 8)
    return fail(r, "file is too short for a safetensors header (%zu bytes)", f->size);
  if (f->map == MAP_FAILED) {
    f->map = NULL;
    return fail(r, "cannot map weights: %s", strerror(errno));
  }
  return 0;
}

static int open_file(Reader *r) {
  StFile *f = r->f;
  uint64_t hl = 0;
  int root;
  if (map_file(r)) return -1;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | f->map[i];
  if (hl > f->size - 8)
    return fail(r, "header length %llu runs past the end of the file (%zu bytes)",
                (unsigned long long)hl, f->size);
  r->data = f->map + 8 + hl;
  r->data_size = f->size - 8 - hl;
  if (parse_header(r, (const char *)f->map + 8, (size_t)hl, &root)) return -1;
  return read_tensors(r, root);
}

int st_open(const char *path, StFile *out, char *err, size_t errlen) {
  if (st_is_index(path)) return st_open_index(path, out, err, errlen);
  memset(out, 0, sizeof *out);
  snprintf(out->path, sizeof out->path, "%s", path);
  Reader r = {.f = out, .err = err, .errlen = errlen};
  ytree_init(&r.t, out->path);
  r.t.inner = "header is not valid JSON";
  int rc = open_file(&r);
  ytree_free(&r.t);
  if (rc) st_close(out);
  return rc;
}

void st_close(StFile *f) {
  if (f->map) munmap(f->map, f->size);
  for (int i = 0; i < f->nshard; i++) st_close(&f->shard[i]);
  free(f->shard);
  f->shard = NULL;
  f->nshard = 0;
  free(f->t);
  f->map = NULL;
  f->t = NULL;
  f->n = 0;
  f->size = 0;
}

const StTensor *st_find(const StFile *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->t[i].name, name)) return &f->t[i];
  return NULL;
}

int st_name_ends(const char *name, const char *tail) {
  size_t n = strlen(name), m = strlen(tail);
  return n >= m && !strcmp(name + n - m, tail);
}

float st_get_f32(const StTensor *t, int64_t i) {
  int es = dtype_size(t->dtype);
  uint16_t h;
  if (i < 0 || (uint64_t)i >= (t->end - t->begin) / (uint64_t)(es ? es : 1)) return NAN;
  if (t->dtype == DT_F32) {
    float v;
    memcpy(&v, t->data + i * 4, 4);
    return v;
  }
  memcpy(&h, t->data + i * 2, 2);
  return t->dtype == DT_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}
