/* modc-opt: the IR driver for tests, like mlir-opt: text in, passes, text out.
 *
 *   modc-opt [FILE|-] [--pass NAME ...] [--cpu NAME] [--target TRIPLE] [--cores N] [--verify]
 *            [--no-verify] [--print-after-all] [--help]
 *
 * Reads IR text (stdin when FILE is "-" or absent) that may hold several graphs separated by
 * lines "// -----".  Each piece is handled on its own: parsed, verified (unless --no-verify),
 * run through the --pass names in order (pass_run_named), verified again after every pass
 * with --verify, and printed to stdout with graph_print; printed graphs are separated by
 * "// -----" lines.  --print-after-all dumps each graph to stderr after every pass, under a
 * "// *** IR Dump After NAME (@GRAPH) ***" line.  A piece that fails is reported on stderr
 * and skipped, the others still run (so one file can hold many error cases); the exit
 * status is then 1.  Line numbers in messages are those of the whole file.
 * The schedule pass schedules for --cpu (resolved through LLVM as modc compile does, with
 * --target's triple, default host) and --cores; without --cpu for the portable default
 * description (passes/target.h: target_default), so test output never depends on the host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codegen/codegen.h"
#include "ir/ir.h"
#include "passes/passes.h"

#define MAXPASS 64

typedef struct Opts {
  const char *file;          /* NULL or "-": stdin */
  const char *pass[MAXPASS];
  int npass;
  int verify;                /* after every pass */
  int verify_input;          /* after parsing */
  int print_after_all;
  const char *cpu, *target; /* the schedule pass's target; NULL cpu: target_default */
  int cores;
  TargetDesc desc;
} Opts;

static void usage(FILE *f) {
  fputs("usage: modc-opt [FILE|-] [--pass NAME ...] [--cpu NAME] [--target TRIPLE] [--cores N]\n"
        "                [--verify] [--no-verify] [--print-after-all] [--help]\n"
        "  reads IR text (graphs separated by '// -----' lines), runs the passes in order on\n"
        "  each graph and prints the results; with no --pass, parses, verifies and prints.\n"
        "  passes: infer-shapes, lower-mod, fuse-epilogues, fuse-routing, plan-memory, schedule\n"
        "  --cpu NAME         the CPU the schedule pass schedules for (LLVM name or native;\n"
        "                     default: a portable AVX-512-sized description)\n"
        "  --target TRIPLE    its triple (default host)\n"
        "  --cores N          cores to schedule for (default: the host's for native, else unknown)\n"
        "  --verify           run the verifier after every pass too\n"
        "  --no-verify        do not verify the input after parsing\n"
        "  --print-after-all  print the IR to stderr after every pass\n",
        f);
}

static int add_pass(Opts *o, const char *name) {
  if (o->npass == MAXPASS) {
    fprintf(stderr, "modc-opt: error: more than %d passes\n", MAXPASS);
    return -1;
  }
  o->pass[o->npass++] = name;
  return 0;
}

/* 0: run; 1: exit 0 (--help); -1: exit 1 */
static int parse_args(int argc, char **argv, Opts *o) {
  for (int k = 1; k < argc; k++) {
    const char *a = argv[k];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout), 1;
    else if (!strcmp(a, "--verify")) o->verify = 1;
    else if (!strcmp(a, "--no-verify")) o->verify_input = 0;
    else if (!strcmp(a, "--print-after-all")) o->print_after_all = 1;
    else if ((!strcmp(a, "--cpu") || !strcmp(a, "--target") || !strcmp(a, "--cores")) && k + 1 == argc)
      return fprintf(stderr, "modc-opt: error: %s needs a value\n", a), -1;
    else if (!strcmp(a, "--cpu")) o->cpu = argv[++k];
    else if (!strcmp(a, "--target")) o->target = argv[++k];
    else if (!strcmp(a, "--cores")) {
      char *end;
      long v = strtol(argv[++k], &end, 10);
      if (*end || v < 1 || v > 4096) return fprintf(stderr, "modc-opt: error: --cores expects 1..4096, got '%s'\n", argv[k]), -1;
      o->cores = (int)v;
    } else if (!strncmp(a, "--pass=", 7)) {
      if (add_pass(o, a + 7)) return -1;
    } else if (!strcmp(a, "--pass")) {
      if (k + 1 == argc) return fputs("modc-opt: error: --pass needs a pass name\n", stderr), -1;
      if (add_pass(o, argv[++k])) return -1;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "modc-opt: error: unknown option '%s'\n", a);
      return usage(stderr), -1;
    } else if (o->file) {
      return fputs("modc-opt: error: more than one input file\n", stderr), -1;
    } else {
      o->file = a;
    }
  }
  return 0;
}

/* o->desc from --cpu/--target/--cores; -1 after reporting an unknown CPU or triple. */
static int describe_target(Opts *o) {
  if (!o->cpu && !o->target) {
    target_default(&o->desc);
    if (o->cores) o->desc.cores = o->cores;
    return 0;
  }
  CgTarget t;
  char err[2048];
  if (cg_target_resolve(o->target, o->cpu ? o->cpu : "native", 2, &t, err, sizeof err))
    return fprintf(stderr, "modc-opt: error: %s\n", err), -1;
  cg_target_describe(&t, o->cores, &o->desc);
  return 0;
}

/* The whole input, NUL-terminated; NULL after reporting an error. */
static char *read_input(const char *name) {
  int use_stdin = !name || !strcmp(name, "-");
  FILE *f = use_stdin ? stdin : fopen(name, "rb");
  if (!f) return fprintf(stderr, "modc-opt: error: cannot open %s: %s\n", name, strerror(errno)), NULL;
  size_t len = 0, cap = 1 << 16;
  char *buf = malloc(cap);
  while (buf) {
    len += fread(buf + len, 1, cap - len - 1, f);
    if (len < cap - 1) break;
    char *nb = realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  int bad = !buf || ferror(f);
  if (!use_stdin) fclose(f);
  if (bad) return fprintf(stderr, "modc-opt: error: cannot read %s\n", use_stdin ? "<stdin>" : name), free(buf), NULL;
  buf[len] = 0;
  if (strlen(buf) != len)
    return fprintf(stderr, "%s: error: the input holds a NUL byte\n", use_stdin ? "<stdin>" : name), free(buf), NULL;
  return buf;
}

/* ---- splitting (same rule as graph_parse_all) ---- */

static int is_separator(const char *s) {
  if (strncmp(s, "// -----", 8) != 0) return 0;
  for (s += 8; *s && *s != '\n'; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
  return 1;
}

static const char *next_line(const char *s) {
  const char *nl = strchr(s, '\n');
  return nl ? nl + 1 : s + strlen(s);
}

/* A piece on its own, preceded by as many newlines as lines before it, so that the
 * parser's line numbers are the file's. */
static char *piece_text(const char *text, const char *start, const char *end) {
  size_t lines = 0;
  for (const char *s = text; s < start; s++) lines += *s == '\n';
  char *buf = malloc(lines + (size_t)(end - start) + 1);
  if (!buf) return NULL;
  memset(buf, '\n', lines);
  memcpy(buf + lines, start, (size_t)(end - start));
  buf[lines + (size_t)(end - start)] = 0;
  return buf;
}

/* Only blanks and // comments? */
static int blank_piece(const char *s, const char *end) {
  while (s < end) {
    if (s[0] == '/' && s + 1 < end && s[1] == '/') {
      while (s < end && *s != '\n') s++;
    } else if (strchr(" \t\r\n\f\v", *s)) {
      s++;
    } else {
      return 0;
    }
  }
  return 1;
}

/* ---- one graph ---- */

static int run_passes(Graph **g, const Opts *o, const char *file, char *err, size_t errlen) {
  for (int k = 0; k < o->npass; k++) {
    PassOptions po = {0};
    po.target = &o->desc;
    if (pass_run_named(g, o->pass[k], &po, err, errlen)) {
      fprintf(stderr, "%s: error: in graph @%s: pass '%s': %s\n", file, (*g)->name, o->pass[k], err);
      return -1;
    }
    if (o->print_after_all) {
      fprintf(stderr, "// *** IR Dump After %s (@%s) ***\n", o->pass[k], (*g)->name);
      graph_print(*g, stderr);
    }
    if (o->verify && graph_verify(*g, err, errlen)) {
      fprintf(stderr, "%s: error: in graph @%s: after pass '%s': %s\n", file, (*g)->name, o->pass[k], err);
      return -1;
    }
  }
  return 0;
}

/* Parses, verifies, runs and prints one piece; *printed counts graphs printed so far. */
static int run_piece(const char *text, const char *start, const char *end, const Opts *o, int *printed) {
  const char *file = o->file && strcmp(o->file, "-") ? o->file : "<stdin>";
  char err[1024];
  char *src = piece_text(text, start, end);
  if (!src) return fputs("modc-opt: error: out of memory\n", stderr), -1;
  Graph *g = graph_parse(src, file, err, sizeof err);
  free(src);
  if (!g) return fprintf(stderr, "%s\n", err), -1;
  int rc = 0;
  if (o->verify_input && graph_verify(g, err, sizeof err)) {
    fprintf(stderr, "%s: error: in graph @%s: %s\n", file, g->name, err);
    rc = -1;
  }
  if (rc == 0) rc = run_passes(&g, o, file, err, sizeof err);
  if (rc == 0) {
    if ((*printed)++) fputs("// -----\n", stdout);
    graph_print(g, stdout);
  }
  graph_free(g);
  return rc;
}

int main(int argc, char **argv) {
  Opts o = {.verify_input = 1};
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc > 0 ? 0 : 1;
  if (describe_target(&o)) return 1;
  char *text = read_input(o.file);
  if (!text) return 1;
  int failed = 0, printed = 0;
  const char *start = text;
  for (;;) {
    const char *end = start;
    while (*end && !is_separator(end)) end = next_line(end);
    if (!blank_piece(start, end) && run_piece(text, start, end, &o, &printed)) failed = 1;
    if (!*end) break;
    start = next_line(end);
  }
  free(text);
  return failed;
}
