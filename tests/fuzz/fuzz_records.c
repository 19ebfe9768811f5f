/* fuzz_records.c: libFuzzer harness of the tuning records reader (tools/records.c:
 * records_read over jansson), and of what modc does next with a file it accepts: writing it
 * back (modc tune --merge), merging it and checking it against a target.
 *
 * Input: the file's bytes (JSON), read through a memfd like the other harnesses' inputs.
 * Invariants checked:
 *   - records_read returns 0 or -1, never crashes; on -1 the message is non-empty, starts
 *     with the file's name (every error is located) and the Tuning is left empty;
 *   - what it accepts is what records.h promises: records sorted by key, keys non-empty and
 *     distinct, hits NULL, every schedule of a known kind with no field negative, times >= 0
 *     and finite, a cpu and a version named, threads in range;
 *   - an accepted file writes back, and reads back to the same records (times to the 6
 *     significant digits the writer keeps), and writing that again gives the same bytes
 *     (records.h: the same Tuning gives the same bytes);
 *   - merged into nothing, then with itself, it stays the same set of keys; it fits its own
 *     cpu and features, and a refusal of another cpu names the file.
 * The writes go to a folder made per accepted input under $TMPDIR (records_write renames a
 * temporary file beside its target, so it needs a real folder) and removed right after.
 */
#include <math.h>
#include <string.h>
#include "fuzz_common.h"
#include "tools/records.h"

static FuzzFile rec_file;

/* A record's schedule fields, every kind's, in ir/sched.h's order (listed by hand: a field
 * Sched gains must be added here, or the checks below miss it). */
#define NFIELDS 15
static void sched_values(const Sched *s, int64_t v[NFIELDS]) {
  const int64_t f[NFIELDS] = {s->vw, s->regs, s->nr, s->mr, s->mr_tail, s->ku, s->mc, s->items,
                              s->pf, s->par_min, s->kb, s->cv, s->qb, s->dq, s->dkb};
  memcpy(v, f, sizeof f);
}

static void check_sched(const TuneRecord *r) {
  int64_t v[NFIELDS];
  FUZZ_CHECK(r->sched.kind > SK_NONE && r->sched.kind < SK_COUNT, "%s: kind %d", r->key, (int)r->sched.kind);
  sched_values(&r->sched, v);
  for (int i = 0; i < NFIELDS; i++) FUZZ_CHECK(v[i] >= 0, "%s: field %d is %lld", r->key, i, (long long)v[i]);
}

/* What records.h promises of a Tuning records_read returned. */
static void check_tuning(const Tuning *t) {
  FUZZ_CHECK(t->n >= 0 && (t->n == 0 || t->r) && !t->hits, "n %d, r %p, hits %p", t->n, (void *)t->r,
             (void *)t->hits);
  FUZZ_CHECK(t->cpu[0] && t->version[0], "empty cpu '%s' or version '%s'", t->cpu, t->version);
  FUZZ_CHECK(t->threads >= 0 && t->threads <= 1 << 20, "threads %d", t->threads); /* records.c's range */
  for (int i = 0; i < t->n; i++) {
    const TuneRecord *r = &t->r[i];
    FUZZ_CHECK(r->key[0] && memchr(r->key, 0, sizeof r->key), "record %d: empty or unterminated key", i);
    FUZZ_CHECK(i == 0 || strcmp(t->r[i - 1].key, r->key) < 0, "keys not sorted and distinct: %s, %s",
               t->r[i - 1].key, r->key);
    FUZZ_CHECK(r->ms >= 0 && r->default_ms >= 0 && isfinite(r->ms) && isfinite(r->default_ms),
               "%s: ms %g, default_ms %g", r->key, r->ms, r->default_ms);
    FUZZ_CHECK(tuning_find(t, r->key) == r, "tuning_find does not find %s", r->key);
    check_sched(r);
  }
}

static int same_time(double a, double b) { return fabs(a - b) <= 1e-5 * fmax(fabs(a), fabs(b)); }

/* b is a read back after a write: the same records, times to 6 significant digits. */
static void check_same(const Tuning *a, const Tuning *b) {
  FUZZ_CHECK(!strcmp(a->cpu, b->cpu) && !strcmp(a->features, b->features) && !strcmp(a->version, b->version) &&
                 a->threads == b->threads && a->n == b->n,
             "the header or record count changed in a write and read (%d records, %d back)", a->n, b->n);
  for (int i = 0; i < a->n; i++) {
    const TuneRecord *x = &a->r[i], *y = &b->r[i];
    int64_t u[NFIELDS], v[NFIELDS];
    sched_values(&x->sched, u);
    sched_values(&y->sched, v);
    FUZZ_CHECK(!strcmp(x->key, y->key) && x->sched.kind == y->sched.kind && !memcmp(u, v, sizeof u),
               "record %d (%s) changed in a write and read", i, x->key);
    FUZZ_CHECK(same_time(x->ms, y->ms) && same_time(x->default_ms, y->default_ms),
               "%s: times %g, %g read back as %g, %g", x->key, x->ms, x->default_ms, y->ms, y->default_ms);
  }
}

/* path's bytes, malloc'd (NUL-terminated), length in *len. */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  FUZZ_CHECK(f, "cannot reopen %s", path);
  char *buf = NULL;
  size_t cap = 0;
  *len = 0;
  for (size_t got = 1; got;) {
    if (*len + 4096 + 1 > cap) buf = realloc(buf, cap = 2 * cap + 8192);
    FUZZ_CHECK(buf, "out of memory");
    *len += got = fread(buf + *len, 1, cap - *len - 1, f);
  }
  fclose(f);
  buf[*len] = 0;
  return buf;
}

/* write t, read it back, write that again: same records, then the same bytes */
static void round_trip(const Tuning *t) {
  const char *tmp = getenv("TMPDIR");
  char dir[512], a[600], b[600], err[2048];
  snprintf(dir, sizeof dir, "%s/modc-fuzz-records-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  FUZZ_CHECK(mkdtemp(dir), "mkdtemp %s", dir);
  snprintf(a, sizeof a, "%s/a.json", dir);
  snprintf(b, sizeof b, "%s/b.json", dir);
  Tuning back;
  FUZZ_CHECK(!records_write(a, t, err, sizeof err), "an accepted file does not write back: %s", err);
  FUZZ_CHECK(!records_read(a, &back, err, sizeof err), "what was written does not read back: %s", err);
  check_tuning(&back);
  check_same(t, &back);
  FUZZ_CHECK(!records_write(b, &back, err, sizeof err), "a second write fails: %s", err);
  tuning_free(&back);
  size_t la, lb;
  char *x = slurp(a, &la), *y = slurp(b, &lb);
  FUZZ_CHECK(la == lb && !memcmp(x, y, la), "written again after a read, the bytes differ:\n%s\n---\n%s", x, y);
  free(x);
  free(y);
  unlink(a);
  unlink(b);
  rmdir(dir);
}

/* merge t into nothing and then again into the result: t's keys, each once */
static void merge_twice(const Tuning *t, const char *path) {
  char err[2048];
  Tuning all;
  memset(&all, 0, sizeof all);
  FUZZ_CHECK(!records_merge(&all, t, path, err, sizeof err), "merge into nothing: %s", err);
  FUZZ_CHECK(!records_merge(&all, t, path, err, sizeof err), "merge with itself: %s", err);
  FUZZ_CHECK(all.n == t->n, "merged with itself, %d records become %d", t->n, all.n);
  for (int i = 0; i < all.n; i++)
    FUZZ_CHECK(!strcmp(all.r[i].key, t->r[i].key), "merged record %d is %s, not %s", i, all.r[i].key, t->r[i].key);
  int nodes, used;
  char unused[256];
  FUZZ_CHECK(records_usage(&all, &nodes, &used, unused, sizeof unused) == all.n && !nodes && !used,
             "records_usage counts hits of records no compile used");
  tuning_free(&all);
}

static void check_target(const Tuning *t, const char *path) {
  char err[2048];
  FUZZ_CHECK(!records_check_target(t, path, t->cpu, t->features, err, sizeof err), "refused its own target: %s",
             err);
  err[0] = 0;
  FUZZ_CHECK(records_check_target(t, path, "not-the-cpu", t->features, err, sizeof err) &&
                 !strncmp(err, path, strlen(path)),
             "another cpu accepted, or an unlocated refusal: %s", err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file_write(&rec_file, "records.json", data, size);
  Tuning t;
  char err[2048];
  err[0] = 0;
  int rc = records_read(path, &t, err, sizeof err);
  FUZZ_CHECK(rc == 0 || rc == -1, "records_read returned %d", rc);
  if (rc) {
    FUZZ_CHECK(memchr(err, 0, sizeof err) && err[0], "empty message");
    FUZZ_CHECK(!strncmp(err, path, strlen(path)), "unlocated message: %s", err);
    FUZZ_CHECK(!t.n && !t.r && !t.hits, "a failed read left %d records", t.n);
    return 0;
  }
  check_tuning(&t);
  round_trip(&t);
  merge_twice(&t, path);
  check_target(&t, path);
  tuning_free(&t);
  return 0;
}
