/* test_records.c: tuning records files (tools/records.c) and their use by the schedule pass.
 *
 *   - write then read gives back every field of every kind, cpu, features, threads, times;
 *     the same records always give the same bytes (any input order, written again after a
 *     read), in the documented layout; a failed write leaves the old file and no temporary;
 *   - merging: disjoint files give the union sorted, a kernel in both keeps the lower ms,
 *     files of another cpu, feature set or thread count are refused naming both; the same
 *     through records_merge_main (modc tune --merge) and its argument errors;
 *   - records_check_target: features compare as sets, a refusal names both CPUs and the
 *     features that differ, briefly even for long feature strings;
 *   - every malformed file (truncated, empty, missing, not an object, another version, bad or
 *     missing fields, unknown kind or field, wrong types, negative values, a huge key, a
 *     kernel twice, ...) is an error that names the file, never a crash;
 *   - pass_schedule with records: a record replaces the heuristic's on every node of its key
 *     and hits count them, through a file too; a record that does not fit its kernel (too
 *     many registers, another nr) or of another kind is an error naming the key.
 *
 * usage: test_records WORK_DIR
 *        test_records --records-for IR_FILE OUT.json [--misfit]
 * The second form serves tests/cli/test_tuning.sh: OUT gets host-CPU records for the IR's
 * first matmul kernel (a smaller register tile than the heuristic's, or with --misfit a
 * panel width its weights do not have) and one for a kernel no model has; it prints
 * "KEY<TAB>NODES<TAB>RECORD": the key, how many nodes of the IR have it, the record's text.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "codegen/codegen.h"
#include "ir/ir.h"
#include "passes/schedule.h"
#include "passes/tuning.h"
#include "tools/records.h"

static int nfail;
static char work[1024];

#define ASSERT(cond)                                                                      \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);       \
      nfail++;                                                                            \
    }                                                                                     \
  } while (0)

/* err contains want; says what it got otherwise */
#define ASSERT_ERR(err, want)                                                             \
  do {                                                                                    \
    if (!strstr(err, want)) {                                                             \
      fprintf(stderr, "%s:%d: error '%s' lacks '%s'\n", __FILE__, __LINE__, err, want);   \
      nfail++;                                                                            \
    }                                                                                     \
  } while (0)

static const char *wpath(const char *name) {
  static char buf[8][1200];
  static int k;
  char *p = buf[k++ % 8];
  snprintf(p, sizeof buf[0], "%s/%s", work, name);
  return p;
}

static void put_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(text, 1, len, f) != len) {
    fprintf(stderr, "cannot write %s\n", path);
    exit(2);
  }
  fclose(f);
}

/* The file's bytes (NUL-terminated; NULL if unreadable), its length in *len. */
static char *get_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  *len = fread(b, 1, (size_t)n, f);
  b[*len] = 0;
  fclose(f);
  return b;
}

static int same_bytes(const char *a, const char *b) {
  size_t la, lb;
  char *x = get_file(a, &la), *y = get_file(b, &lb);
  int same = x && y && la == lb && !memcmp(x, y, la);
  free(x);
  free(y);
  return same;
}

/* ---- records to test with ---- */

static int sched_eq(const Sched *a, const Sched *b) {
  return a->kind == b->kind && a->vw == b->vw && a->regs == b->regs && a->nr == b->nr && a->mr == b->mr &&
         a->mr_tail == b->mr_tail && a->ku == b->ku && a->mc == b->mc && a->items == b->items && a->pf == b->pf &&
         a->par_min == b->par_min && a->kb == b->kb && a->cv == b->cv && a->qb == b->qb && a->dq == b->dq &&
         a->dkb == b->dkb;
}

/* A record of kind k whose every field has its own value (100 k + its index + 1). */
static Sched distinct_sched(SchedKind k) {
  Sched s;
  memset(&s, 0, sizeof s);
  s.kind = k;
  uint32_t set = 0;
  for (const char *f; (f = sched_missing(k, set));) {
    int i = sched_field_index(k, f);
    *sched_field(&s, k, f) = 100 * k + i + 1;
    set |= 1u << i;
  }
  return s;
}

static void tuning_init(Tuning *t, const char *cpu, const char *features, int threads) {
  memset(t, 0, sizeof *t);
  snprintf(t->cpu, sizeof t->cpu, "%s", cpu);
  snprintf(t->features, sizeof t->features, "%s", features);
  t->threads = threads;
}

/* Three records, one of each kind, added out of key order. */
static void sample(Tuning *t) {
  tuning_init(t, "haswell", "+avx,+avx2,+fma,-avx512f", 4);
  Sched m = distinct_sched(SK_MATMUL), a = distinct_sched(SK_ATTN), e = distinct_sched(SK_EW);
  tuning_add(t, "k_rmsnorm_d768_eps1e-05", &e, 0.5, 1.0);
  tuning_add(t, "k_attention_h12_kv12_hd64", &a, 0.125, 0.25);
  tuning_add(t, "k_matmul_n768_k768_f32_nr16", &m, 2.25, 3.5);
}

/* ---- write and read ---- */

static void test_roundtrip(void) {
  Tuning t, back;
  char err[2048];
  sample(&t);
  ASSERT(records_write(wpath("a.json"), &t, err, sizeof err) == 0);
  ASSERT(records_read(wpath("a.json"), &back, err, sizeof err) == 0);
  tuning_sort(&t); /* for tuning_find; it was written unsorted */
  ASSERT(back.n == 3 && !strcmp(back.cpu, "haswell") && !strcmp(back.features, t.features));
  ASSERT(back.threads == 4 && !strcmp(back.version, MODC_VERSION) && back.hits == NULL);
  if (back.n == 3) {
    ASSERT(!strcmp(back.r[0].key, "k_attention_h12_kv12_hd64") && !strcmp(back.r[1].key, "k_matmul_n768_k768_f32_nr16"));
    for (int i = 0; i < 3; i++) {
      const TuneRecord *o = tuning_find(&t, back.r[i].key);
      ASSERT(o && sched_eq(&o->sched, &back.r[i].sched) && o->ms == back.r[i].ms && o->default_ms == back.r[i].default_ms);
    }
    Sched m = distinct_sched(SK_MATMUL);
    ASSERT(back.r[1].sched.par_min == m.par_min && back.r[1].sched.mr_tail == m.mr_tail && back.r[1].sched.kb == 0);
  }
  tuning_free(&back);
  tuning_free(&t);
}

static void test_deterministic(void) {
  Tuning t, rev, back;
  char err[2048];
  size_t len;
  sample(&t);
  tuning_init(&rev, t.cpu, t.features, t.threads);
  for (int i = t.n - 1; i >= 0; i--) tuning_add(&rev, t.r[i].key, &t.r[i].sched, t.r[i].ms, t.r[i].default_ms);
  ASSERT(records_write(wpath("d1.json"), &t, err, sizeof err) == 0);
  ASSERT(records_write(wpath("d2.json"), &t, err, sizeof err) == 0);
  ASSERT(records_write(wpath("d3.json"), &rev, err, sizeof err) == 0);
  ASSERT(same_bytes(wpath("d1.json"), wpath("d2.json")) && same_bytes(wpath("d1.json"), wpath("d3.json")));
  ASSERT(records_read(wpath("d1.json"), &back, err, sizeof err) == 0);
  ASSERT(records_write(wpath("d4.json"), &back, err, sizeof err) == 0);
  ASSERT(same_bytes(wpath("d1.json"), wpath("d4.json")));
  char *text = get_file(wpath("d1.json"), &len);
  const char *head = "{\n  \"modc_tuning\": 1,\n  \"modc\": \"" MODC_VERSION "\",\n  \"cpu\": \"haswell\",\n"
                     "  \"features\": \"+avx,+avx2,+fma,-avx512f\",\n  \"threads\": 4,\n  \"records\": [\n    {";
  ASSERT(text && !strncmp(text, head, strlen(head)));
  ASSERT(text && strstr(text, "\n    {\"kernel\": \"k_rmsnorm_d768_eps1e-05\", \"schedule\": {\"kind\": \"ew\", "
                              "\"vw\": 301, \"par_min\": 302}, \"ms\": 0.5, \"default_ms\": 1.0}\n  ]\n}\n"));
  ASSERT(text && strstr(text, "{\"kind\": \"matmul\", \"vw\": 101, \"regs\": 102, \"nr\": 103, \"mr\": 104, \"mr_tail\": 105, "
                              "\"ku\": 106, \"mc\": 107, \"items\": 108, \"pf\": 109, \"amx\": 110, \"par_min\": 111}"));
  char *a = text ? strstr(text, "k_attention") : NULL, *m = text ? strstr(text, "k_matmul") : NULL;
  ASSERT(a && m && a < m);
  free(text);
  tuning_free(&back);
  tuning_free(&rev);
  tuning_free(&t);
}

static int tmp_files_left(void) {
  DIR *d = opendir(work);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
  if (d) closedir(d);
  return n;
}

/* A write that fails leaves the file it would replace as it was, and no temporary. */
static void test_write_failure(void) {
  Tuning t;
  char err[2048];
  sample(&t);
  ASSERT(records_write(wpath("keep.json"), &t, err, sizeof err) == 0);
  Tuning bad = t;
  TuneRecord r[1] = {t.r[0]};
  r[0].ms = 1.0 / 0.0;
  bad.r = r, bad.n = 1;
  ASSERT(records_write(wpath("keep2.json"), &bad, err, sizeof err) == -1);
  ASSERT_ERR(err, "the record of k_rmsnorm_d768_eps1e-05 cannot be written");
  r[0].ms = 1, r[0].sched.par_min = -1; /* what records_read would refuse is not written either */
  ASSERT(records_write(wpath("keep2.json"), &bad, err, sizeof err) == -1);
  r[0].sched.par_min = 1, r[0].default_ms = -1;
  ASSERT(records_write(wpath("keep2.json"), &bad, err, sizeof err) == -1);
  ASSERT(records_write(wpath("keep.json"), &bad, err, sizeof err) == -1);
  Tuning back;
  ASSERT(records_read(wpath("keep.json"), &back, err, sizeof err) == 0 && back.n == 3);
  tuning_free(&back);
  ASSERT(access(wpath("keep2.json"), F_OK) != 0);
  ASSERT(records_write(wpath("no/such/dir/x.json"), &t, err, sizeof err) == -1);
  ASSERT_ERR(err, "cannot write");
  ASSERT(tmp_files_left() == 0);
  tuning_free(&t);
}

/* ---- merging ---- */

static void test_merge(void) {
  Tuning a, b, c, all;
  char err[2048];
  Sched m = distinct_sched(SK_MATMUL), m2 = m;
  m2.mr = 7;
  tuning_init(&a, "znver4", "+avx2,+avx512f", 8);
  tuning_init(&b, "znver4", "+avx512f,+avx2", 8); /* the same set in another order */
  tuning_add(&a, "k_b", &m, 1.0, 2.0);
  tuning_add(&a, "k_d", &m, 3.0, 4.0);
  tuning_add(&b, "k_a", &m, 1.0, 1.0);
  tuning_add(&b, "k_c", &m, 1.0, 1.0);
  tuning_add(&b, "k_d", &m2, 2.0, 4.0);   /* faster than a's */
  tuning_sort(&a);
  tuning_sort(&b);
  memset(&all, 0, sizeof all);
  ASSERT(records_merge(&all, &a, "a.json", err, sizeof err) == 0 && !strcmp(all.cpu, "znver4") && all.threads == 8);
  ASSERT(records_merge(&all, &b, "b.json", err, sizeof err) == 0);
  ASSERT(all.n == 4);
  if (all.n == 4) {
    ASSERT(!strcmp(all.r[0].key, "k_a") && !strcmp(all.r[1].key, "k_b") && !strcmp(all.r[2].key, "k_c"));
    ASSERT(!strcmp(all.r[3].key, "k_d") && all.r[3].ms == 2.0 && all.r[3].sched.mr == 7);
  }
  tuning_init(&c, "haswell", "+avx2", 8);
  ASSERT(records_merge(&all, &c, "c.json", err, sizeof err) == -1);
  ASSERT_ERR(err, "c.json: ");
  ASSERT_ERR(err, "'haswell'");
  ASSERT_ERR(err, "'znver4'");
  tuning_init(&c, "znver4", "+avx2,+avx512f", 16);
  ASSERT(records_merge(&all, &c, "c.json", err, sizeof err) == -1);
  ASSERT_ERR(err, "16 threads");
  tuning_init(&c, "znver4", "+avx2,-avx512f", 8);
  ASSERT(records_merge(&all, &c, "c.json", err, sizeof err) == -1);
  ASSERT_ERR(err, "-avx512f");
  ASSERT(all.n == 4);
  tuning_free(&all);
  tuning_free(&a);
  tuning_free(&b);
}

static int merge_main(int argc, const char **argv) { return records_merge_main(argc, (char **)argv); }

/* records_merge_main: two files (same kernel in both) and the argument errors */
static void test_merge_main(void) {
  Tuning a, b, out;
  char err[2048];
  Sched m = distinct_sched(SK_MATMUL);
  tuning_init(&a, "znver4", "+avx2", 2);
  tuning_init(&b, "znver4", "+avx2", 2);
  tuning_add(&a, "k_x", &m, 5.0, 6.0);
  tuning_add(&a, "k_y", &m, 5.0, 6.0);
  tuning_add(&b, "k_x", &m, 4.0, 6.0);
  tuning_add(&b, "k_z", &m, 1.0, 6.0);
  ASSERT(records_write(wpath("ma.json"), &a, err, sizeof err) == 0);
  ASSERT(records_write(wpath("mb.json"), &b, err, sizeof err) == 0);
  const char *ok[] = {"--merge", wpath("ma.json"), wpath("mb.json"), "-o", wpath("mo.json")};
  ASSERT(merge_main(5, ok) == 0);
  ASSERT(records_read(wpath("mo.json"), &out, err, sizeof err) == 0 && out.n == 3);
  ASSERT(out.n == 3 && !strcmp(out.r[0].key, "k_x") && out.r[0].ms == 4.0 && !strcmp(out.r[2].key, "k_z"));
  tuning_free(&out);
  fprintf(stderr, "(the errors below are expected)\n");
  const char *none[] = {"--merge", "-o", wpath("mn.json")};
  ASSERT(merge_main(3, none) == 1);
  const char *noout[] = {"--merge", wpath("ma.json")};
  ASSERT(merge_main(2, noout) == 1);
  const char *missing[] = {"--merge", wpath("ma.json"), wpath("nope.json"), "-o", wpath("mn.json")};
  ASSERT(merge_main(5, missing) == 1);
  const char *badopt[] = {"--merge", "--frob", wpath("ma.json"), "-o", wpath("mn.json")};
  ASSERT(merge_main(5, badopt) == 1);
  ASSERT(access(wpath("mn.json"), F_OK) != 0);
  tuning_free(&b);
  tuning_init(&b, "znver3", "+avx2", 2); /* another CPU: refused, nothing written */
  ASSERT(records_write(wpath("mc.json"), &b, err, sizeof err) == 0);
  const char *other[] = {"--merge", wpath("ma.json"), wpath("mc.json"), "-o", wpath("mn.json")};
  ASSERT(merge_main(5, other) == 1);
  ASSERT(access(wpath("mn.json"), F_OK) != 0);
  tuning_free(&a);
  tuning_free(&b);
}

/* ---- the target check ---- */

static void test_check_target(void) {
  Tuning t;
  char err[2048], longf[4000] = "";
  tuning_init(&t, "haswell", "+avx,+avx2,+fma", 1);
  ASSERT(records_check_target(&t, "r.json", "haswell", "+fma,+avx2,+avx", err, sizeof err) == 0);
  ASSERT(records_check_target(&t, "r.json", "znver5", "+avx,+avx2,+fma", err, sizeof err) == -1);
  ASSERT_ERR(err, "r.json: tuning records were tuned on cpu 'haswell'");
  ASSERT_ERR(err, "this compile targets 'znver5'");
  ASSERT_ERR(err, "re-run modc tune");
  ASSERT(records_check_target(&t, "r.json", "haswell", "+avx,+avx2,+fma,+avx512f", err, sizeof err) == -1);
  ASSERT_ERR(err, "(+avx512f not in the other)");
  /* 300 features the records lack: the message names a few, counts the rest */
  for (int i = 0; i < 300; i++) snprintf(longf + strlen(longf), sizeof longf - strlen(longf), "+feature%03d,", i);
  ASSERT(records_check_target(&t, "r.json", "znver5", longf, err, sizeof err) == -1);
  ASSERT_ERR(err, "+feature000,+feature001,+feature002,+feature003 and 296 more not in the other");
  ASSERT(strlen(err) < 400);
  tuning_free(&t);
}

/* ---- malformed files ---- */

#define HEAD "{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"cpu\": \"haswell\", \"features\": \"+avx2\", \"threads\": 4, "
#define MM "\"kind\": \"matmul\", \"vw\": 8, \"regs\": 16, \"nr\": 16, \"mr\": 6, \"mr_tail\": 2, \"ku\": 4, \"mc\": 42, \"items\": 0, \"pf\": 1, \"amx\": 0"
#define REC(key, sched) "{\"kernel\": \"" key "\", \"schedule\": {" sched "}, \"ms\": 1.5, \"default_ms\": 2}"

typedef struct BadCase {
  const char *text;
  const char *want;         /* a part of the message */
} BadCase;

static const BadCase bad_cases[] = {
  {"", "is empty"},
  {"{\"modc_tuning\": 1, \"cpu\": ", "bad.json:1:"},
  {"{\"modc_tuning\": 1,\n \"cpu\": oops}", "bad.json:2:"},
  {"[]", "the top level is an array, not an object"},
  {"42", "not JSON"},
  {HEAD "\"records\": []} trailing", "not JSON"},
  {"{\"modc_tuning\": 2, \"whatever\": 1}", "of another format version (2)"},
  {"{\"modc_tuning\": \"1\"}", "must be an integer"},
  {"{\"cpu\": \"haswell\"}", "no \"modc_tuning\" field"},
  {"{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"features\": \"\", \"threads\": 1, \"records\": []}", "no \"cpu\" field"},
  {"{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"cpu\": 7, \"features\": \"\", \"threads\": 1, \"records\": []}",
   "\"cpu\" must be a string, not an integer"},
  {"{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"cpu\": \"\", \"features\": \"\", \"threads\": 1, \"records\": []}",
   "\"cpu\" is empty"},
  {"{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"cpu\": \"x\", \"cpu\": \"y\", \"features\": \"\", \"threads\": 1, "
   "\"records\": []}", "duplicate"},
  {HEAD "\"records\": [], \"extra\": 1}", "unknown field \"extra\""},
  {"{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"cpu\": \"h\", \"features\": \"\", \"threads\": -1, \"records\": []}",
   "\"threads\" is -1"},
  {"{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"cpu\": \"h\", \"features\": \"\", \"threads\": 1.5, \"records\": []}",
   "\"threads\" must be an integer, not a real number"},
  {HEAD "\"records\": {}}", "\"records\" must be an array, not an object"},
  {HEAD "\"records\": null}", "\"records\" must be an array, not null"},
  {HEAD "\"records\": [3]}", "records[0]: a record must be an object, not an integer"},
  {HEAD "\"records\": [{\"schedule\": {}, \"ms\": 1, \"default_ms\": 1}]}", "records[0]: no \"kernel\" field"},
  {HEAD "\"records\": [" REC("", MM ", \"par_min\": 0") "]}", "\"kernel\" is empty"},
  {HEAD "\"records\": [" REC("k_a", "\"kind\": \"conv\", \"vw\": 8") "]}", "records[0] (k_a): schedule kind \"conv\" is unknown"},
  {HEAD "\"records\": [" REC("k_a", "\"vw\": 8") "]}", "needs a \"kind\" string"},
  {HEAD "\"records\": [" REC("k_a", "\"kind\": 3") "]}", "needs a \"kind\" string"},
  {HEAD "\"records\": [" REC("k_a", MM) "]}", "lacks field \"par_min\" (a #matmul record has vw, regs, nr, mr, mr_tail"},
  {HEAD "\"records\": [" REC("k_a", MM ", \"par_min\": 0, \"zz\": 1") "]}", "unknown field \"zz\""},
  {HEAD "\"records\": [" REC("k_a", MM ", \"par_min\": 0, \"kb\": 1") "]}", "unknown field \"kb\""},
  {HEAD "\"records\": [" REC("k_a", MM ", \"par_min\": \"0\"") "]}", "\"par_min\" of a #matmul record must be an integer, not a string"},
  {HEAD "\"records\": [" REC("k_a", MM ", \"par_min\": 0.5") "]}", "must be an integer, not a real number"},
  {HEAD "\"records\": [" REC("k_a", MM ", \"par_min\": true") "]}", "must be an integer, not a boolean"},
  {HEAD "\"records\": [" REC("k_a", MM ", \"par_min\": -1") "]}", "\"par_min\" is -1; fields are never negative"},
  {HEAD "\"records\": [" REC("k_a", MM ", \"par_min\": 99999999999999999999999") "]}", "not JSON"},
  {HEAD "\"records\": [{\"kernel\": \"k\", \"schedule\": [], \"ms\": 1, \"default_ms\": 1}]}", "\"schedule\" must be an object"},
  {HEAD "\"records\": [{\"kernel\": \"k\", \"ms\": 1, \"default_ms\": 1}]}", "no \"schedule\" field"},
  {HEAD "\"records\": [{\"kernel\": \"k\", \"schedule\": {\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0}, \"ms\": 1}]}",
   "no \"default_ms\" field"},
  {HEAD "\"records\": [{\"kernel\": \"k\", \"schedule\": {\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0}, \"ms\": -1, "
   "\"default_ms\": 1}]}", "\"ms\" is -1, not a time"},
  {HEAD "\"records\": [{\"kernel\": \"k\", \"schedule\": {\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0}, \"ms\": \"1\", "
   "\"default_ms\": 1}]}", "\"ms\" must be a number"},
  {HEAD "\"records\": [{\"kernel\": \"k\", \"schedule\": {\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0}, \"ms\": 1, "
   "\"default_ms\": 1, \"note\": 1}]}", "the record has an unknown field \"note\""},
  {HEAD "\"records\": [" REC("k_b", "\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0") ", "
   REC("k_a", "\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0") ", " REC("k_b", "\"kind\": \"ew\", \"vw\": 4, \"par_min\": 0") "]}",
   "kernel k_b has two records (records[0] and records[2])"},
  {HEAD "\"records\": [" REC("k_\\u0000", "\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0") "]}", "not JSON"},
  {"{\"modc_tuning\": 1, \"modc\": \"0.1.0\", \"cpu\": \"h\xff\", \"features\": \"\", \"threads\": 1, \"records\": []}", "not JSON"},
};

static void expect_bad(const char *path, const char *want) {
  Tuning t;
  char err[2048] = "";
  memset(&t, 0x55, sizeof t); /* read must not depend on what t held */
  int rc = records_read(path, &t, err, sizeof err);
  if (getenv("SHOW_ERRORS")) fprintf(stderr, "  %s\n", err);
  ASSERT(rc == -1 && t.n == 0 && t.r == NULL);
  ASSERT(!strncmp(err, path, strlen(path)));
  ASSERT_ERR(err, want);
  if (!rc) tuning_free(&t);
}

static void test_bad_files(void) {
  const char *bad = wpath("bad.json");
  for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
    put_file(bad, bad_cases[i].text, strlen(bad_cases[i].text));
    expect_bad(bad, bad_cases[i].want);
  }
  expect_bad(wpath("missing.json"), "cannot read tuning records: No such file");
  expect_bad(work, "is a directory");
  /* a key one byte too long for KKEY_MAX; the longest allowed is read */
  char text[4096], key[KKEY_MAX + 1];
  memset(key, 'k', KKEY_MAX), key[KKEY_MAX] = 0;
  snprintf(text, sizeof text, HEAD "\"records\": [" REC("%s", "\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0") "]}", key);
  put_file(bad, text, strlen(text));
  expect_bad(bad, "\"kernel\" is 256 bytes long, more than 255");
  key[KKEY_MAX - 1] = 0;
  snprintf(text, sizeof text, HEAD "\"records\": [" REC("%s", "\"kind\": \"ew\", \"vw\": 8, \"par_min\": 0") "]}", key);
  put_file(bad, text, strlen(text));
  Tuning t;
  char err[2048];
  ASSERT(records_read(bad, &t, err, sizeof err) == 0 && t.n == 1 && strlen(t.r[0].key) == KKEY_MAX - 1);
  tuning_free(&t);
  /* nesting far past any sane depth, and a file cut at every length */
  static char deep[200001];
  memset(deep, '[', 100000), memset(deep + 100000, ']', 100000);
  put_file(bad, deep, 200000);
  expect_bad(bad, "not JSON");
  size_t len;
  char *good = get_file(wpath("a.json"), &len);
  for (size_t cut = 0; good && cut + 1 < len; cut += 7) {
    put_file(bad, good, cut);
    expect_bad(bad, cut ? "not JSON" : "is empty");
  }
  free(good);
}

/* ---- the schedule pass with records ---- */

static const char ir_text[] =
  "graph @t mode = forward syms = [] arena = 0 {\n"
  "  %0 = input {name = \"tokens\"} : i32[64]\n"
  "  %1 = input {name = \"pos\"} : i32[64]\n"
  "  %2 = weight {name = \"e\", offset = 0} : f32[256,768]\n"
  "  %3 = weight {name = \"wq\", offset = 0, layout = \"panel\", nr = 32} : f32[768,768]\n"
  "  %4 = weight {name = \"wk\", offset = 0, layout = \"panel\", nr = 32} : f32[768,768]\n"
  "  %5 = weight {name = \"n\", offset = 0} : f32[768]\n"
  "  %6 = embed %0, %2 : f32[64,768]\n"
  "  %7 = rmsnorm %6, %5 {eps = 1e-05} : f32[64,768]\n"
  "  %8 = matmul %7, %3 : f32[64,768]\n"
  "  %9 = matmul %7, %4 : f32[64,768]\n"
  "  %10 = attention %8, %9, %9, %1 {heads = 12, kv_heads = 12} : f32[64,768]\n"
  "  %11 = output %10 {name = \"logits\"} : f32[64,768]\n"
  "}\n";

/* The graph scheduled for the default target with records t: 0, or -1 with err. */
static int schedule_with(const Tuning *t, Graph **out, char *err, size_t n) {
  *out = graph_parse(ir_text, "t.mir", err, n);
  if (!*out) return fprintf(stderr, "%s\n", err), -2;
  TargetDesc d;
  target_default(&d);
  return pass_schedule(*out, &d, t, err, n);
}

/* The heuristic's matmul record for the test graph, and the key of its matmuls. */
static Sched heuristic_matmul(char *key) {
  Graph *g;
  char err[1024];
  Sched s;
  memset(&s, 0, sizeof s);
  if (schedule_with(NULL, &g, err, sizeof err)) return fprintf(stderr, "%s\n", err), s;
  s = g->n[8].sched;
  ASSERT(kernel_key(g, 8, key, KKEY_MAX) == 0);
  char k9[KKEY_MAX];
  ASSERT(kernel_key(g, 9, k9, sizeof k9) == 0 && !strcmp(key, k9));
  graph_free(g);
  return s;
}

static void test_apply(void) {
  char key[KKEY_MAX], err[2048], unused[256];
  Sched h = heuristic_matmul(key), s = h;
  ASSERT(h.kind == SK_MATMUL && h.mr > 4);
  s.mr = 4, s.mr_tail = 2, s.mc = 16, s.ku = 1;
  Tuning t;
  tuning_init(&t, "any", "", 1);
  tuning_add(&t, key, &s, 1, 2);
  tuning_add(&t, "k_matmul_n1_k1_f32_nr1", &s, 1, 2);
  tuning_sort(&t);
  t.hits = calloc((size_t)t.n, sizeof *t.hits);
  Graph *g;
  ASSERT(schedule_with(&t, &g, err, sizeof err) == 0);
  ASSERT(sched_eq(&g->n[8].sched, &s) && sched_eq(&g->n[9].sched, &s));
  ASSERT(g->n[7].sched.kind == SK_EW && g->n[10].sched.kind == SK_ATTN);
  const TuneRecord *r = tuning_find(&t, key);
  ASSERT(r && t.hits[r - t.r] == 2);
  int nodes, used;
  ASSERT(records_usage(&t, &nodes, &used, unused, sizeof unused) == 1 && nodes == 2 && used == 1);
  ASSERT(!strcmp(unused, "k_matmul_n1_k1_f32_nr1"));
  graph_free(g);
  /* the same records through a file */
  Tuning back;
  ASSERT(records_write(wpath("apply.json"), &t, err, sizeof err) == 0);
  ASSERT(records_read(wpath("apply.json"), &back, err, sizeof err) == 0);
  back.hits = calloc((size_t)back.n, sizeof *back.hits);
  ASSERT(schedule_with(&back, &g, err, sizeof err) == 0 && sched_eq(&g->n[9].sched, &s));
  graph_free(g);
  tuning_free(&back);
  tuning_free(&t);
}

/* A record that does not fit its kernel, or is of another kind: an error naming the key. */
static void expect_misfit(const char *key, const Sched *s, const char *want) {
  Tuning t;
  Graph *g;
  char err[2048];
  tuning_init(&t, "any", "", 1);
  tuning_add(&t, key, s, 1, 2);
  ASSERT(schedule_with(&t, &g, err, sizeof err) == -1);
  ASSERT_ERR(err, key);
  ASSERT_ERR(err, want);
  graph_free(g);
  tuning_free(&t);
}

static void test_misfit(void) {
  char key[KKEY_MAX];
  Sched h = heuristic_matmul(key), s = h;
  s.mr = 16, s.mc = 32;
  expect_misfit(key, &s, "does not fit its kernel: verify: %8 (matmul): #matmul record does not fit: register tile 16x32");
  s = h, s.nr = 16;
  expect_misfit(key, &s, "nr = 16 but the weight operand is packed with nr = 32");
  Sched e;
  memset(&e, 0, sizeof e);
  e.kind = SK_EW, e.vw = 16;
  expect_misfit(key, &e, "is a #ew record; the kernel takes #matmul");
}

/* ---- --records-for: records for tests/cli/test_tuning.sh ---- */

static int die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("test_records: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 2;
}

/* The first matmul of graphs[n]: its key and record into key and *s; -1 if none. */
static int first_matmul(Graph **gs, int n, char *key, Sched *s) {
  for (int k = 0; k < n; k++)
    for (int i = 0; i < gs[k]->len; i++)
      if (gs[k]->n[i].sched.kind == SK_MATMUL && !kernel_key(gs[k], i, key, KKEY_MAX)) {
        *s = gs[k]->n[i].sched;
        return 0;
      }
  return -1;
}

/* Nodes of key in graphs[n]; *same: how many of all nodes already have record s. */
static int count_key(Graph **gs, int n, const char *key, const Sched *s, int *same) {
  int c = 0;
  char k2[KKEY_MAX];
  *same = 0;
  for (int k = 0; k < n; k++)
    for (int i = 0; i < gs[k]->len; i++) {
      c += !kernel_key(gs[k], i, k2, sizeof k2) && !strcmp(k2, key);
      *same += sched_eq(&gs[k]->n[i].sched, s);
    }
  return c;
}

static int records_for(const char *ir, const char *out, int misfit) {
  char err[4096], key[KKEY_MAX], text[512];
  size_t len;
  char *src = get_file(ir, &len);
  Graph **gs = NULL;
  int n = src ? graph_parse_all(src, ir, &gs, err, sizeof err) : -1;
  if (n <= 0) return die("%s", src ? err : "cannot read the IR");
  Sched s;
  if (first_matmul(gs, n, key, &s)) return die("%s: no matmul kernel", ir);
  if (misfit) s.nr /= 2;
  else s.mr = s.mr > 2 ? s.mr / 2 : 1, s.mr_tail = 1, s.mc = 4 * s.mr, s.ku = 1;
  int same, nodes = count_key(gs, n, key, &s, &same);
  if (same && !misfit) return die("the changed record is already on %d nodes of %s", same, ir);
  CgTarget tg;
  Tuning t;
  if (cg_target_resolve(NULL, NULL, 2, &tg, err, sizeof err)) return die("%s", err);
  tuning_init(&t, tg.cpu, tg.features, 1);
  tuning_add(&t, key, &s, 1, 2);
  tuning_add(&t, "k_matmul_n1_k1_f32_nr1", &s, 1, 2);
  if (records_write(out, &t, err, sizeof err)) return die("%s", err);
  sched_format(&s, text, sizeof text);
  printf("%s\t%d\t%s\n", key, nodes, text);
  for (int k = 0; k < n; k++) graph_free(gs[k]);
  free(gs);
  free(src);
  tuning_free(&t);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "--records-for"))
    return records_for(argv[2], argv[3], argc > 4 && !strcmp(argv[4], "--misfit"));
  if (argc != 2) return die("usage: test_records WORK_DIR | --records-for IR OUT [--misfit]");
  snprintf(work, sizeof work, "%s", argv[1]);
  mkdir(work, 0777);
  test_roundtrip();
  test_deterministic();
  test_write_failure();
  test_merge();
  test_merge_main();
  test_check_target();
  test_bad_files();
  test_apply();
  test_misfit();
  if (nfail) fprintf(stderr, "%d assertions failed\n", nfail);
  else printf("test_records: all passed\n");
  return nfail != 0;
}
