/* records.c: tuning records files (records.h), over jansson.
 *
 * Reading checks everything a hand-edited or truncated file can get wrong, field by field,
 * and says where ("FILE: records[3] (k_matmul_...): ..."); whether a schedule fits its kernel
 * is the schedule pass's question (the verifier), asked when a compile applies it.  Writing
 * builds the whole text in memory first, each record on one line, and renames a temporary
 * file over the target.  ir/sched.h's field table decides which fields a schedule has and
 * their order: sched_missing walks a kind's fields in table order.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tools/cli.h"
#include "tools/records.h"

#ifndef MODC_VERSION
#error "MODC_VERSION is defined by CMakeLists.txt (project VERSION)"
#endif

#define MAX_THREADS (1 << 20)

/* ---- small helpers ---- */

/* Append printf text to buf[n] (stays terminated, truncates). */
static void cat(char *buf, size_t n, const char *fmt, ...) {
  size_t len = strnlen(buf, n);
  if (len + 1 >= n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + len, n - len, fmt, ap);
  va_end(ap);
}

/* "path: message" into err; returns -1. */
static int ferr(char *err, size_t n, const char *path, const char *fmt, ...) {
  if (!n) return -1;
  snprintf(err, n, "%s: ", path);
  size_t len = strlen(err);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err + len, n - len, fmt, ap);
  va_end(ap);
  return -1;
}

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a real number";
  case JSON_TRUE: case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* Kind k's field names in table order, "vw, regs, ...", into buf. */
static void kind_fields(SchedKind k, char *buf, size_t n) {
  uint32_t set = 0;
  if (n) buf[0] = 0;
  for (const char *f; (f = sched_missing(k, set));) {
    int i = sched_field_index(k, f);
    if (i < 0 || i >= 32) break;
    cat(buf, n, "%s%s", set ? ", " : "", f);
    set |= 1u << i;
  }
}

/* ---- reading ---- */

/* Where reading is: the file, and the record being read ("" before the records). */
typedef struct Rd {
  const char *path;
  char where[KKEY_MAX + 40];
  char *err;
  size_t n;
} Rd;

static int rd_fail(Rd *r, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return ferr(r->err, r->n, r->path, "%s%s%s", r->where, r->where[0] ? ": " : "", msg);
}

/* Every key of obj is one of keys[nk] (what must be there is checked field by field). */
static int only_keys(Rd *r, json_t *obj, const char *what, const char *const *keys, int nk) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    int i = 0;
    while (i < nk && strcmp(keys[i], k)) i++;
    if (i == nk) {
      char all[256] = "";
      for (int j = 0; j < nk; j++) cat(all, sizeof all, "%s\"%s\"", j ? ", " : "", keys[j]);
      return rd_fail(r, "%s has an unknown field \"%s\" (it has %s)", what, k, all);
    }
  }
  return 0;
}

/* String field name of obj into buf[n]: present, a string, shorter than n, non-empty if
 * nonempty. */
static int get_str(Rd *r, json_t *obj, const char *name, int nonempty, char *buf, size_t n) {
  json_t *v = json_object_get(obj, name);
  if (!v) return rd_fail(r, "no \"%s\" field", name);
  if (!json_is_string(v)) return rd_fail(r, "\"%s\" must be a string, not %s", name, json_kind(v));
  size_t len = json_string_length(v);
  if (len >= n) return rd_fail(r, "\"%s\" is %zu bytes long, more than %zu", name, len, n - 1);
  if (nonempty && !len) return rd_fail(r, "\"%s\" is empty", name);
  memcpy(buf, json_string_value(v), len + 1);
  return 0;
}

/* Integer field in [lo, hi]. */
static int get_int(Rd *r, json_t *obj, const char *name, long long lo, long long hi, long long *out) {
  json_t *v = json_object_get(obj, name);
  if (!v) return rd_fail(r, "no \"%s\" field", name);
  if (!json_is_integer(v)) return rd_fail(r, "\"%s\" must be an integer, not %s", name, json_kind(v));
  *out = json_integer_value(v);
  if (*out < lo || *out > hi) return rd_fail(r, "\"%s\" is %lld, not in %lld..%lld", name, *out, lo, hi);
  return 0;
}

/* A time in milliseconds: a number >= 0 (JSON has no NaN or infinity). */
static int get_ms(Rd *r, json_t *obj, const char *name, double *out) {
  json_t *v = json_object_get(obj, name);
  if (!v) return rd_fail(r, "no \"%s\" field", name);
  if (!json_is_number(v)) return rd_fail(r, "\"%s\" must be a number (milliseconds), not %s", name, json_kind(v));
  *out = json_number_value(v);
  if (!(*out >= 0) || isinf(*out)) return rd_fail(r, "\"%s\" is %g, not a time (>= 0)", name, *out);
  return 0;
}

/* One schedule field: a non-negative integer (the verifier checks its range per kernel). */
static int sched_value(Rd *r, SchedKind k, const char *name, json_t *v, int64_t *out) {
  if (!json_is_integer(v))
    return rd_fail(r, "schedule field \"%s\" of a #%s record must be an integer, not %s", name,
                   sched_kind_names[k], json_kind(v));
  if (json_integer_value(v) < 0)
    return rd_fail(r, "schedule field \"%s\" is %lld; fields are never negative", name,
                   (long long)json_integer_value(v));
  *out = json_integer_value(v);
  return 0;
}

/* "schedule": {"kind": K, every field of K}. */
static int read_sched(Rd *r, json_t *obj, Sched *s) {
  char kname[16], fields[256];
  memset(s, 0, sizeof *s);
  if (!obj) return rd_fail(r, "no \"schedule\" field");
  if (!json_is_object(obj)) return rd_fail(r, "\"schedule\" must be an object, not %s", json_kind(obj));
  json_t *kv = json_object_get(obj, "kind");
  if (!kv || !json_is_string(kv)) return rd_fail(r, "the schedule needs a \"kind\" string (matmul, attn or ew)");
  snprintf(kname, sizeof kname, "%s", json_string_value(kv));
  int k = json_string_length(kv) < sizeof kname ? sched_kind_parse(kname) : -1;
  if (k < 0) return rd_fail(r, "schedule kind \"%.40s\" is unknown (matmul, attn or ew)", json_string_value(kv));
  s->kind = (SchedKind)k;
  kind_fields(s->kind, fields, sizeof fields);
  uint32_t set = 0;
  const char *name;
  json_t *v;
  json_object_foreach(obj, name, v) {
    if (!strcmp(name, "kind")) continue;
    int i = sched_field_index(s->kind, name);
    if (i < 0 || i >= 32)
      return rd_fail(r, "the schedule has an unknown field \"%.40s\" (a #%s record has %s)", name, kname, fields);
    if (sched_value(r, s->kind, name, v, sched_field(s, s->kind, name))) return -1;
    set |= 1u << i;
  }
  const char *miss = sched_missing(s->kind, set);
  if (miss) return rd_fail(r, "the schedule lacks field \"%s\" (a #%s record has %s)", miss, kname, fields);
  return 0;
}

static const char *const rec_keys[] = {"kernel", "schedule", "ms", "default_ms"};

static int read_record(Rd *r, json_t *rec, int idx, Tuning *t) {
  char key[KKEY_MAX];
  Sched s;
  double ms, dms;
  snprintf(r->where, sizeof r->where, "records[%d]", idx);
  if (!json_is_object(rec)) return rd_fail(r, "a record must be an object, not %s", json_kind(rec));
  if (get_str(r, rec, "kernel", 1, key, sizeof key)) return -1;
  snprintf(r->where, sizeof r->where, "records[%d] (%s)", idx, key);
  if (only_keys(r, rec, "the record", rec_keys, 4) || read_sched(r, json_object_get(rec, "schedule"), &s) ||
      get_ms(r, rec, "ms", &ms) || get_ms(r, rec, "default_ms", &dms))
    return -1;
  if (tuning_add(t, key, &s, ms, dms)) return rd_fail(r, "out of memory");
  return 0;
}

/* Record indices ordered by key (for finding a key twice). */
static int cmp_idx(const void *a, const void *b, void *t) {
  const TuneRecord *r = ((const Tuning *)t)->r;
  int x = *(const int *)a, y = *(const int *)b, c = strcmp(r[x].key, r[y].key);
  return c ? c : x - y;
}

static int no_duplicates(Rd *r, const Tuning *t) {
  int *idx = malloc(((size_t)t->n + 1) * sizeof *idx), rc = 0;
  if (!idx) return rd_fail(r, "out of memory");
  for (int i = 0; i < t->n; i++) idx[i] = i;
  qsort_r(idx, (size_t)t->n, sizeof *idx, cmp_idx, (void *)t);
  r->where[0] = 0;
  for (int i = 1; i < t->n && !rc; i++)
    if (!strcmp(t->r[idx[i]].key, t->r[idx[i - 1]].key))
      rc = rd_fail(r, "kernel %s has two records (records[%d] and records[%d]); a file holds one per kernel",
                   t->r[idx[i]].key, idx[i - 1], idx[i]);
  free(idx);
  return rc;
}

static const char *const top_keys[] = {"modc_tuning", "modc", "cpu", "features", "threads", "records"};

/* The format version first: another version's fields are not "unknown" to its reader. */
static int read_version(Rd *r, json_t *root) {
  if (!json_is_object(root))
    return rd_fail(r, "not a tuning records file: the top level is %s, not an object", json_kind(root));
  json_t *v = json_object_get(root, "modc_tuning");
  if (!v) return rd_fail(r, "not a tuning records file: no \"modc_tuning\" field (the format version)");
  if (!json_is_integer(v)) return rd_fail(r, "\"modc_tuning\" (the format version) must be an integer, not %s", json_kind(v));
  if (json_integer_value(v) != RECORDS_FORMAT)
    return rd_fail(r, "tuning records of another format version (%lld); this modc reads version %d",
                   (long long)json_integer_value(v), RECORDS_FORMAT);
  return 0;
}

static int read_root(Rd *r, json_t *root, Tuning *t) {
  long long threads = 0;
  if (read_version(r, root) || only_keys(r, root, "the file", top_keys, 6) ||
      get_str(r, root, "modc", 1, t->version, sizeof t->version) ||
      get_str(r, root, "cpu", 1, t->cpu, sizeof t->cpu) ||
      get_str(r, root, "features", 0, t->features, sizeof t->features) ||
      get_int(r, root, "threads", 0, MAX_THREADS, &threads))
    return -1;
  t->threads = (int)threads;
  json_t *recs = json_object_get(root, "records");
  if (!recs) return rd_fail(r, "no \"records\" field");
  if (!json_is_array(recs)) return rd_fail(r, "\"records\" must be an array, not %s", json_kind(recs));
  for (size_t i = 0; i < json_array_size(recs); i++)
    if (read_record(r, json_array_get(recs, i), (int)i, t)) return -1;
  return no_duplicates(r, t);
}

/* The file's JSON, or NULL with the error (located for syntax errors). */
static json_t *load_json(const char *path, char *err, size_t n) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (!f) return ferr(err, n, path, "cannot read tuning records: %s", strerror(errno)), NULL;
  int isdir = !fstat(fileno(f), &st) && S_ISDIR(st.st_mode), empty = !isdir && S_ISREG(st.st_mode) && !st.st_size;
  if (isdir || empty) {
    fclose(f);
    return ferr(err, n, path, isdir ? "cannot read tuning records: it is a directory"
                                    : "the file is empty, not a tuning records file"), NULL;
  }
  json_error_t je;
  json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
  int bad = ferror(f);
  fclose(f);
  if (root && !bad) return root;
  json_decref(root);
  if (bad) return ferr(err, n, path, "cannot read tuning records: read error"), NULL;
  if (je.line < 1) return ferr(err, n, path, "not a tuning records file (not JSON): %s", je.text), NULL;
  snprintf(err, n, "%s:%d:%d: not a tuning records file (not JSON): %s", path, je.line, je.column > 0 ? je.column : 1,
           je.text);
  return NULL;
}

int records_read(const char *path, Tuning *t, char *err, size_t n) {
  memset(t, 0, sizeof *t);
  json_t *root = load_json(path, err, n);
  if (!root) return -1;
  Rd r = {path, "", err, n};
  int rc = read_root(&r, root, t);
  json_decref(root);
  if (rc) tuning_free(t);
  else tuning_sort(t);
  return rc;
}

/* ---- writing ---- */

/* One record as a one-line JSON object, or NULL: what records_read would refuse (no schedule,
 * a negative field, a time that is negative or not finite, a key that is not UTF-8), or no
 * memory. */
static char *record_json(const TuneRecord *rec) {
  Sched s = rec->sched;
  if (s.kind <= SK_NONE || s.kind >= SK_COUNT || !(rec->ms >= 0) || !(rec->default_ms >= 0)) return NULL;
  json_t *o = json_object(), *sch = json_object();
  json_object_set_new(o, "kernel", json_string(rec->key));
  json_object_set_new(sch, "kind", json_string(sched_kind_names[s.kind]));
  uint32_t set = 0;
  for (const char *f; (f = sched_missing(s.kind, set));) {
    int i = sched_field_index(s.kind, f);
    if (i < 0 || i >= 32 || *sched_field(&s, s.kind, f) < 0) break;
    json_object_set_new(sch, f, json_integer(*sched_field(&s, s.kind, f)));
    set |= 1u << i;
  }
  json_object_set_new(o, "schedule", sch);
  json_t *ms = json_real(rec->ms), *dms = json_real(rec->default_ms);
  char *text = NULL;
  if (ms && dms && json_object_size(o) == 2 && !sched_missing(s.kind, set)) {
    json_object_set_new(o, "ms", ms);
    json_object_set_new(o, "default_ms", dms);
    ms = dms = NULL;
    text = json_dumps(o, JSON_REAL_PRECISION(6) | JSON_ENSURE_ASCII);
  }
  json_decref(ms);
  json_decref(dms);
  json_decref(o);
  return text;
}

/* A string as JSON text into f; -1 if it is not UTF-8. */
static int put_str(FILE *f, const char *key, const char *s) {
  json_t *v = json_string(s);
  char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
  json_decref(v);
  if (!text) return -1;
  fprintf(f, "  \"%s\": %s,\n", key, text);
  free(text);
  return 0;
}

/* The file's text of sorted records t (NULL-free on success), or -1 with err. */
static int format_records(const Tuning *t, const char *path, char **text, size_t *len, char *err, size_t n) {
  FILE *f = open_memstream(text, len);
  if (!f) return ferr(err, n, path, "out of memory");
  int rc = 0;
  fprintf(f, "{\n  \"modc_tuning\": %d,\n", RECORDS_FORMAT);
  if (put_str(f, "modc", t->version[0] ? t->version : MODC_VERSION) || put_str(f, "cpu", t->cpu) ||
      put_str(f, "features", t->features))
    rc = ferr(err, n, path, "the version, cpu or features string is not UTF-8");
  fprintf(f, "  \"threads\": %d,\n  \"records\": [%s", t->threads, t->n ? "\n" : "");
  for (int i = 0; i < t->n && !rc; i++) {
    char *rec = record_json(&t->r[i]);
    if (!rec) rc = ferr(err, n, path, "the record of %s cannot be written: no schedule, a negative field, a time "
                        "that is negative or not finite, or a key that is not UTF-8", t->r[i].key);
    else fprintf(f, "    %s%s\n", rec, i + 1 < t->n ? "," : "");
    free(rec);
  }
  fprintf(f, "%s]\n}\n", t->n ? "  " : "");
  if (fclose(f) && !rc) rc = ferr(err, n, path, "out of memory");
  if (rc) free(*text), *text = NULL;
  return rc;
}

/* Write text to path through a temporary file beside it, renamed over path. */
static int write_atomic(const char *path, const char *text, size_t len, char *err, size_t n) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 16);
  if (!tmp) return ferr(err, n, path, "out of memory");
  snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    ferr(err, n, path, "cannot write: %s", strerror(errno));
    free(tmp);
    return -1;
  }
  mode_t mask = umask(0);
  umask(mask);
  int rc = fchmod(fd, 0666 & ~mask);
  FILE *f = fdopen(fd, "wb");
  if (!f) close(fd);
  rc = rc || !f || fwrite(text, 1, len, f) != len;
  rc = (f && fclose(f)) || rc;
  if (!rc && rename(tmp, path)) rc = 1;
  if (rc) {
    ferr(err, n, path, "cannot write: %s", strerror(errno ? errno : EIO));
    unlink(tmp);
  }
  free(tmp);
  return rc ? -1 : 0;
}

int records_write(const char *path, const Tuning *t, char *err, size_t n) {
  Tuning c = *t; /* sorted copy: the caller's order and duplicates never reach the file */
  c.hits = NULL;
  c.r = malloc(((size_t)t->n + 1) * sizeof *c.r);
  if (!c.r) return ferr(err, n, path, "out of memory");
  if (t->n) memcpy(c.r, t->r, (size_t)t->n * sizeof *c.r);
  c.cap = t->n;
  tuning_sort(&c);
  char *text = NULL;
  size_t len = 0;
  int rc = format_records(&c, path, &text, &len, err, n);
  free(c.r);
  if (rc) return -1;
  if (!strcmp(path, "-")) {
    rc = fwrite(text, 1, len, stdout) != len || fflush(stdout) ? ferr(err, n, "<stdout>", "cannot write") : 0;
  } else {
    errno = 0;
    rc = write_atomic(path, text, len, err, n);
  }
  free(text);
  return rc;
}

/* ---- CPU and features ---- */

/* An LLVM feature string split into sorted entries ("+avx2", "-avx512f"). */
typedef struct Feats {
  char *buf;
  char **v;
  int n;
} Feats;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int feats_split(const char *s, Feats *f) {
  size_t len = strlen(s);
  f->n = 0;
  f->buf = malloc(len + 1);
  f->v = malloc((len / 2 + 2) * sizeof *f->v);
  if (!f->buf || !f->v) return -1;
  memcpy(f->buf, s, len + 1);
  for (char *tok = strtok(f->buf, ","); tok; tok = strtok(NULL, ","))
    if (*tok) f->v[f->n++] = tok;
  qsort(f->v, (size_t)f->n, sizeof *f->v, cmp_str);
  return 0;
}

static void feats_free(Feats *f) {
  free(f->buf);
  free(f->v);
}

static int feats_has(const Feats *f, const char *e) {
  return f->n && bsearch(&e, f->v, (size_t)f->n, sizeof *f->v, cmp_str) != NULL;
}

/* " (+a,+b,+c,+d and 7 more not in the other)": entries of a not in b, or "" if none. */
static int feats_only(const Feats *a, const Feats *b, char *buf, size_t n) {
  int shown = 0, more = 0;
  buf[0] = 0;
  for (int i = 0; i < a->n; i++) {
    if (feats_has(b, a->v[i])) continue;
    if (shown < 4) cat(buf, n, "%s%s", shown++ ? "," : " (", a->v[i]);
    else more++;
  }
  if (more) cat(buf, n, " and %d more", more);
  if (shown) cat(buf, n, " not in the other)");
  return shown + more;
}

/* Differences of two feature strings as sets into ab (what a has) and ba; 0: the same set. */
static int feats_diff(const char *a, const char *b, char *ab, char *ba, size_t n) {
  Feats fa = {0}, fb = {0};
  int rc = feats_split(a, &fa) || feats_split(b, &fb);
  if (rc) snprintf(ab, n, " (out of memory)"), ba[0] = 0;
  else rc = feats_only(&fa, &fb, ab, n) + feats_only(&fb, &fa, ba, n);
  feats_free(&fa);
  feats_free(&fb);
  return rc;
}

int records_check_target(const Tuning *t, const char *path, const char *cpu, const char *features,
                         char *err, size_t n) {
  char mine[512], theirs[512];
  int differ = feats_diff(t->features, features, mine, theirs, sizeof mine);
  if (!differ && !strcmp(t->cpu, cpu)) return 0;
  return ferr(err, n, path, "tuning records were tuned on cpu '%s'%s, this compile targets '%s'%s: "
              "re-run modc tune on this CPU", t->cpu, mine, cpu, theirs);
}

/* ---- merging ---- */

static int merge_named(Tuning *dst, const char *dstpath, const Tuning *src, const char *srcpath, char *err,
                       size_t n) {
  if (!dst->n && !dst->cpu[0]) {
    Tuning keep = *dst;
    *dst = *src;
    dst->n = keep.n, dst->cap = keep.cap, dst->r = keep.r, dst->hits = keep.hits;
  }
  char a[512], b[512];
  int differ = feats_diff(src->features, dst->features, a, b, sizeof a);
  if (differ || strcmp(src->cpu, dst->cpu) || src->threads != dst->threads)
    return ferr(err, n, srcpath, "records of cpu '%s'%s timed on %d threads cannot be merged with %s, of cpu "
                "'%s'%s on %d threads: merge only records tuned on one CPU with one thread count",
                src->cpu, a, src->threads, dstpath ? dstpath : "the records merged so far", dst->cpu, b,
                dst->threads);
  for (int i = 0; i < src->n; i++)
    if (tuning_add(dst, src->r[i].key, &src->r[i].sched, src->r[i].ms, src->r[i].default_ms))
      return ferr(err, n, srcpath, "out of memory");
  free(dst->hits);
  dst->hits = NULL;
  tuning_sort(dst);
  return 0;
}

int records_merge(Tuning *dst, const Tuning *src, const char *srcpath, char *err, size_t n) {
  return merge_named(dst, NULL, src, srcpath, err, n);
}

/* ---- compile's report ---- */

int records_usage(const Tuning *t, int *nodes, int *used, char *unused, size_t n) {
  int nunused = 0;
  *nodes = *used = 0;
  if (n) unused[0] = 0;
  for (int i = 0; i < t->n; i++) {
    int h = t->hits ? t->hits[i] : 0;
    *nodes += h;
    if (h) {
      (*used)++;
      continue;
    }
    if (nunused < 4) cat(unused, n, "%s%s", nunused ? ", " : "", t->r[i].key);
    else if (nunused == 4) cat(unused, n, ", ...");
    nunused++;
  }
  return nunused;
}

/* ---- modc tune --merge ---- */

static const char usage_merge[] =
  "usage: modc tune --merge A.json B.json ... -o OUT.json\n"
  "Merges tuning records files tuned on one CPU (the same cpu, features and thread count), e.g.\n"
  "the shards of a tune run on several machines of one kind, into OUT ('-' for stdout).  A kernel\n"
  "in several files keeps the record of lowest ms; records are sorted by kernel key.\n";

/* Inputs are the arguments that are not options; returns how many, or -1 (printed). */
static int parse_merge(int argc, char **argv, const char **in, const char **out) {
  int nin = 0;
  *out = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(usage_merge, stdout), -2;
    if (!strcmp(a, "--merge")) continue;
    if (!strcmp(a, "-o")) {
      if (i + 1 >= argc) return cli_fail("-o needs a value"), -1;
      if (*out) return cli_fail("tune --merge: more than one -o given"), -1;
      *out = argv[++i];
    } else if (a[0] == '-' && a[1]) return cli_fail("tune --merge: unknown option '%s' (see modc tune --merge --help)", a), -1;
    else in[nin++] = a;
  }
  if (!nin) return cli_fail("tune --merge: no records files given (see modc tune --merge --help)"), -1;
  if (!*out) return cli_fail("tune --merge: no output given (-o OUT.json)"), -1;
  return nin;
}

int records_merge_main(int argc, char **argv) {
  const char **in = malloc(((size_t)argc + 1) * sizeof *in), *out;
  if (!in) return cli_fail("out of memory");
  int nin = parse_merge(argc, argv, in, &out), rc = nin < 0 ? (nin == -2 ? 0 : 1) : 0;
  char err[2048];
  Tuning all, one;
  memset(&all, 0, sizeof all);
  for (int i = 0; i < nin && !rc; i++) {
    rc = records_read(in[i], &one, err, sizeof err) || merge_named(&all, in[0], &one, in[i], err, sizeof err);
    tuning_free(&one);
  }
  if (nin > 0 && !rc) rc = records_write(out, &all, err, sizeof err) != 0;
  if (nin > 0 && rc) cli_fail("%s", err);
  tuning_free(&all);
  free(in);
  return rc;
}
