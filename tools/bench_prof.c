/* bench_prof.c: `modc bench --profile`.  The runtime (runtime/profile.c) times every kernel
 * call when MODC_PROFILE names a file, and modc_close appends one line per task function:
 *   kernel|graph 0xOFFSET calls wall_ns max_ns mean_ns threads LIBRARY
 * Here those lines are named from the library's symbol table (tools/elfsym.c; kernels are
 * "k_<op>_<shape...>.<schedule>.<path>.task"), summed per name and per kind (the op and its
 * path, e.g. "k_matmul_add.gemm") and printed: where a run's time went, and how much of each
 * kernel's was work, load imbalance (slowest thread over the mean) and dispatch and join. */
#include "bench_prof.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "elfsym.h"

#define pfail(...) cli_fail("bench: --profile: " __VA_ARGS__)
#define TOP 12

typedef struct Row {
  char name[256];
  long long calls;
  double wall, max, mean, threads;   /* ns */
} Row;

typedef struct Rows {
  Row *v;
  int n, cap;
} Rows;

int prof_begin(char *path, size_t n) {
  const char *tmp = getenv("TMPDIR");
  snprintf(path, n, "%s/modc-profile-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) return pfail("cannot create '%s': %s", path, strerror(errno));
  close(fd);
  if (setenv("MODC_PROFILE", path, 1)) {
    unlink(path);
    return pfail("setenv: %s", strerror(errno));
  }
  return 0;
}

/* The row named name in r, added when new; NULL when out of memory. */
static Row *row_of(Rows *r, const char *name) {
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->v[i].name, name)) return &r->v[i];
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 64;
    Row *v = realloc(r->v, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    r->v = v, r->cap = cap;
  }
  Row *w = &r->v[r->n++];
  memset(w, 0, sizeof *w);
  snprintf(w->name, sizeof w->name, "%s", name);
  return w;
}

static void row_add(Row *w, long long calls, double wall, double max, double mean, double threads) {
  w->calls += calls, w->wall += wall, w->max += max, w->mean += mean, w->threads += threads;
}

/* "k_matmul_add_n768_k768_f32_nr32_r16.....gemm.task" -> "k_matmul_add.gemm": the name up to
 * its first shape word ("_" letter digit), then the path word before ".task" if not a number. */
static void kind_of(const char *name, char *out, size_t n) {
  size_t len = strlen(name), cut = len;
  for (size_t i = 0; i + 2 < len; i++)
    if (name[i] == '_' && isalpha((unsigned char)name[i + 1]) && isdigit((unsigned char)name[i + 2])) {
      cut = i;
      break;
    }
  const char *end = len > 5 && !strcmp(name + len - 5, ".task") ? name + len - 5 : name + len, *dot = end;
  while (dot > name && dot[-1] != '.') dot--;
  int word = dot > name && dot < end && isalpha((unsigned char)*dot);
  snprintf(out, n, "%.*s%s%.*s", (int)cut, name, word ? "." : "", word ? (int)(end - dot) : 0, dot);
}

static int by_wall(const void *a, const void *b) {
  double x = ((const Row *)a)->wall, y = ((const Row *)b)->wall;
  return (x < y) - (x > y);
}

static void print_rows(const char *title, Rows *r, int limit, double total) {
  qsort(r->v, (size_t)r->n, sizeof *r->v, by_wall);
  printf("  %s\n    %9s %6s %8s %9s %9s %9s %7s  %s\n", title, "wall ms", "share", "calls", "work ms", "imbal ms",
         "disp ms", "threads", "name");
  for (int i = 0; i < r->n && i < limit; i++) {
    const Row *w = &r->v[i];
    printf("    %9.2f %5.1f%% %8lld %9.2f %9.2f %9.2f %7.1f  %s\n", w->wall * 1e-6, 100 * w->wall / total, w->calls,
           w->mean * 1e-6, (w->max - w->mean) * 1e-6, (w->wall - w->max) * 1e-6,
           w->calls ? w->threads / w->calls : 0, w->name);
  }
  if (r->n > limit) printf("    (%d more)\n", r->n - limit);
}

/* Reads path's lines into per-kernel and per-kind rows and the graph total. */
static int read_table(const char *path, ElfSyms *syms, Rows *kern, Rows *kinds, Row *graph, long long *dropped) {
  FILE *f = fopen(path, "r");
  if (!f) return pfail("cannot read '%s': %s", path, strerror(errno));
  char line[8192], what[16], name[256], kind[256];
  int rc = 0;
  while (!rc && fgets(line, sizeof line, f)) {
    unsigned long long off;
    long long calls, wall, max, mean, threads, d;
    if (sscanf(line, "dropped %lld", &d) == 1) {
      *dropped += d;
      continue;
    }
    if (sscanf(line, "%15s %llx %lld %lld %lld %lld %lld", what, &off, &calls, &wall, &max, &mean, &threads) != 7) {
      rc = pfail("'%s': unreadable line '%.60s'", path, line);
      break;
    }
    if (!strcmp(what, "graph")) {
      row_add(graph, calls, (double)wall, 0, 0, 0);
      continue;
    }
    const char *nm = elfsym_find(syms, off);
    if (!nm) snprintf(name, sizeof name, "0x%llx", off), nm = name;
    kind_of(nm, kind, sizeof kind);
    Row *a = row_of(kern, nm), *b = row_of(kinds, kind);
    if (!a || !b) rc = pfail("out of memory");
    else {
      row_add(a, calls, (double)wall, (double)max, (double)mean, (double)threads);
      row_add(b, calls, (double)wall, (double)max, (double)mean, (double)threads);
    }
  }
  fclose(f);
  return rc;
}

int prof_report(const char *path, const char *lib, int threads, FILE *kv) {
  char err[512];
  ElfSyms *syms = elfsym_load(lib, err, sizeof err);
  if (!syms) fprintf(stderr, "modc: warning: bench: --profile: %s; kernels are shown by address\n", err);
  Rows kern = {0}, kinds = {0};
  Row graph = {0};
  long long dropped = 0;
  int rc = read_table(path, syms, &kern, &kinds, &graph, &dropped);
  unlink(path);
  elfsym_free(syms);
  if (!rc) {
    Row all = {0};
    for (int i = 0; i < kern.n; i++)
      row_add(&all, kern.v[i].calls, kern.v[i].wall, kern.v[i].max, kern.v[i].mean, kern.v[i].threads);
    double g = graph.wall > 0 ? graph.wall : 1, between = graph.wall - all.wall;
    printf("profile (MODC_PROFILE: every call of this run, warm-ups included; %d threads):\n", threads);
    printf("  graphs %.2f ms in %lld calls: kernels %.2f ms (%.1f%%), between kernels %.2f ms (%.1f%%)\n",
           graph.wall * 1e-6, graph.calls, all.wall * 1e-6, 100 * all.wall / g, between * 1e-6, 100 * between / g);
    printf("  kernel time: work %.2f ms (%.1f%%), imbalance %.2f ms (%.1f%%), dispatch and join %.2f ms (%.1f%%)\n",
           all.mean * 1e-6, 100 * all.mean / g, (all.max - all.mean) * 1e-6, 100 * (all.max - all.mean) / g,
           (all.wall - all.max) * 1e-6, 100 * (all.wall - all.max) / g);
    print_rows("by kind:", &kinds, kinds.n, g);
    print_rows("top kernels:", &kern, TOP, g);
    if (dropped) printf("  (%lld calls not counted: the runtime's table was full)\n", dropped);
    if (kv)
      fprintf(kv, "profile.graph_ms=%.4f\nprofile.kernel_ms=%.4f\nprofile.work_ms=%.4f\nprofile.imbalance_ms=%.4f\n"
                  "profile.dispatch_ms=%.4f\nprofile.kernels=%d\n",
              graph.wall * 1e-6, all.wall * 1e-6, all.mean * 1e-6, (all.max - all.mean) * 1e-6,
              (all.wall - all.max) * 1e-6, kern.n);
  }
  free(kern.v);
  free(kinds.v);
  return rc;
}
