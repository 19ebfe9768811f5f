/* modc.c: the command line.  The compile pipeline reads top to bottom in compile():
 *   spec -> weights check -> weight layout + packed file -> graphs -> passes -> LLVM
 *   -> object -> shared library + header.
 * run loads a compiled library through the ABI (dlopen) and generates text or tokens.
 * bench (tools/bench.c) times a compiled library through the ABI, eval (tools/eval.c)
 * measures its NLL on a token file, tune (tools/tune*.c) searches schedule records.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <llvm-c/Core.h>
#include "codegen/codegen.h"
#include "codegen/header.h"
#include "frontend/graph.h"
#include "frontend/safetensors.h"
#include "frontend/spec.h"
#include "passes/passes.h"
#include "runtime/modc_load.h"
#include "tools/bench.h"
#include "tools/cli.h"
#include "tools/eval.h"
#include "tools/import_hf.h"
#include "tools/records.h"
#include "tools/tokfile.h"
#include "tools/tune.h"

#define MAX_DEFS 256
#define ERRLEN 2048

static const char usage_main[] =
  "usage: modc <command> [options]\n"
  "\n"
  "commands:\n"
  "  compile SPEC.yaml -o OUT/libNAME.so   compile a model spec and its weights into a shared library\n"
  "  check SPEC.yaml                       validate the spec and its weights, print the model summary\n"
  "  run LIB.so --prompt TEXT|--tokens F   generate with a compiled library\n"
  "  bench LIB.so [--threads N]            forward, prefill and decode timings with FLOP and byte rates\n"
  "  tune SPEC.yaml -o RECORDS.json        search the kernels' schedule records on this CPU (for\n"
  "                                        compile --tuning); tune --merge joins records files\n"
  "  tune SPEC.yaml --routing ...          search per-layer capacities or thresholds against NLL\n"
  "                                        and latency on this CPU (frontier, tuned spec)\n"
  "  eval LIB.so --tokens F|--bytes F      mean NLL and perplexity of a token file, take rates\n"
  "  import-hf DIR -o SPEC.yaml            a spec for a Hugging Face Llama checkpoint folder\n"
  "\n"
  "'modc <command> --help' describes each command's options; 'modc --version' says which LLVM\n"
  "this modc carries and where it finds the runtime it links into libraries.\n";

static const char usage_compile[] =
  "usage: modc compile SPEC.yaml [-o OUT] [options]\n"
  "\n"
  "Writes OUT (default libNAME.so), and beside it NAME.h, NAME.weights, modc.h (the ABI alone)\n"
  "and NAME.pc (pkg-config: PKG_CONFIG_PATH=DIR pkg-config --cflags --libs NAME).\n"
  "  -o PATH                 output path (for --emit: the emitted file, '-' for stdout)\n"
  "  --cpu native|NAME|A,B,...  target CPU (LLVM name, e.g. znver4, skylake-avx512); overrides\n"
  "                          compile.cpu.  A list (x86-64-v2,x86-64-v3,x86-64-v4) puts a kernel set\n"
  "                          per CPU in one library; modc_open runs the one with the most ISA\n"
  "                          features this CPU has (MODC_CPU=NAME forces one); sets whose packed\n"
  "                          weights differ get NAME.<cpu>.weights beside NAME.weights\n"
  "  --target host|TRIPLE    target triple: the host, or aarch64-linux-gnu (linked with Debian's\n"
  "                          gcc-aarch64-linux-gnu); other foreign triples can only --emit\n"
  "  --shape B,T             a (batch, seq_len) for modc_forward; repeatable; replaces compile.shapes\n"
  "  --weights-dtype f32|bf16  storage dtype of weight matrices (computation stays f32)\n"
  "  --embed-weights         put the weights inside the library instead of NAME.weights\n"
  "  --tuning FILE           take kernel schedules from tuning records (modc tune); they must\n"
  "                          have been tuned on this compile's CPU (name and features)\n"
  "  -D key.path=value       override any spec key, e.g. -D routing.capacity=0.25\n"
  "  --emit ir|llvm|asm|obj  stop after that stage and write it\n"
  "  --print-after-all       print the IR after every pass (to stderr)\n"
  "  --no-fuse               skip the fusion passes, fuse-epilogues and fuse-routing (unfused\n"
  "                          matmul, add, silu_mul, gather, rmsnorm and scatter_gate kernels)\n"
  "  -O0 .. -O3              LLVM optimisation level (default -O2)\n"
  "  -q                      no progress lines\n";

static const char usage_check[] =
  "usage: modc check SPEC.yaml [-D key.path=value ...]\n"
  "Validates the spec and its weights file; prints the model summary.\n";

static const char usage_run[] =
  "usage: modc run LIB.so (--prompt TEXT | --tokens FILE) [options]\n"
  "  --prompt TEXT       byte-level prompt (models with vocab_size 256)\n"
  "  --tokens FILE       whitespace-separated token ids\n"
  "  --max-new N         tokens to generate (default 64)\n"
  "  --temperature T     0 = greedy (default 0.8)\n"
  "  --seed S            sampling seed (default 1)\n"
  "  --threads N         threads (default: the library's default)\n"
  "  --weights PATH      weights file (default: the one beside the library)\n";

/* ---------------------------------------------------------------- compile */

typedef struct CompileOpts {
  const char *spec, *out, *emit, *target, *cpu, *wdtype, *tuning;
  const char *defs[MAX_DEFS];
  int ndefs, embed, print_after_all, no_fuse, opt;
  char shapes[1024];        /* "[[B,T],...]" from --shape flags */
} CompileOpts;

static int add_def(CompileOpts *o, const char *d) {
  if (o->ndefs == MAX_DEFS) return cli_fail("too many -D options");
  o->defs[o->ndefs++] = d;
  return 0;
}

static int add_shape(CompileOpts *o, const char *s) {
  int b, t;
  char extra;
  if (sscanf(s, "%d,%d%c", &b, &t, &extra) != 2) return cli_fail("--shape expects B,T (e.g. 1,512), got '%s'", s);
  size_t n = strlen(o->shapes);
  snprintf(o->shapes + n, sizeof o->shapes - n, "%s[%d,%d]", n ? "," : "", b, t);
  return 0;
}

/* flags that override spec keys become -D overrides, so one validator checks them */
static int flag_override(CompileOpts *o, char *buf, size_t n, const char *key, const char *v) {
  snprintf(buf, n, "%s=%s", key, v);
  return add_def(o, buf);
}

static int parse_compile(int argc, char **argv, CompileOpts *o) {
  static char flagdefs[5][1200];
  o->opt = 2;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) return cli_fail("%s needs a value", a); i++; } while (0)
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_compile, stdout); exit(0); }
    else if (!strcmp(a, "-o")) { NEEDV(); o->out = v; }
    else if (!strcmp(a, "--cpu")) { NEEDV(); o->cpu = v; }
    else if (!strcmp(a, "--target")) { NEEDV(); o->target = v; }
    else if (!strcmp(a, "--shape")) { NEEDV(); if (add_shape(o, v)) return 1; }
    else if (!strcmp(a, "--weights-dtype")) { NEEDV(); o->wdtype = v; }
    else if (!strcmp(a, "--embed-weights")) o->embed = 1;
    else if (!strcmp(a, "--tuning")) { NEEDV(); o->tuning = v; }
    else if (!strcmp(a, "-D")) { NEEDV(); if (add_def(o, v)) return 1; }
    else if (!strncmp(a, "-D", 2)) { if (add_def(o, a + 2)) return 1; }
    else if (!strcmp(a, "--emit")) { NEEDV(); o->emit = v; }
    else if (!strcmp(a, "--print-after-all")) o->print_after_all = 1;
    else if (!strcmp(a, "--no-fuse")) o->no_fuse = 1;
    else if (!strcmp(a, "-q")) cli_quiet = 1;
    else if (a[0] == '-' && a[1] == 'O' && a[2] >= '0' && a[2] <= '3' && !a[3]) o->opt = a[2] - '0';
    else if (a[0] == '-' && a[1]) return cli_fail("compile: unknown option '%s' (see modc compile --help)", a);
    else if (!o->spec) o->spec = a;
    else return cli_fail("compile: more than one spec given ('%s' and '%s')", o->spec, a);
#undef NEEDV
  }
  if (!o->spec) return cli_fail("compile: no spec given (see modc compile --help)");
  if (o->emit && strcmp(o->emit, "ir") && strcmp(o->emit, "llvm") && strcmp(o->emit, "asm") && strcmp(o->emit, "obj"))
    return cli_fail("--emit expects ir, llvm, asm or obj, got '%s'", o->emit);
  if (o->cpu && flag_override(o, flagdefs[0], sizeof flagdefs[0], "compile.cpu", o->cpu)) return 1;
  if (o->target && flag_override(o, flagdefs[1], sizeof flagdefs[1], "compile.target", o->target)) return 1;
  if (o->wdtype && flag_override(o, flagdefs[2], sizeof flagdefs[2], "compile.weights_dtype", o->wdtype)) return 1;
  if (o->shapes[0]) {
    snprintf(flagdefs[3], sizeof flagdefs[3], "compile.shapes=[%s]", o->shapes);
    if (add_def(o, flagdefs[3])) return 1;
  }
  return 0;
}

/* directory part of path ("." if none) into dir */
static void dirname_of(const char *path, char *dir, size_t n) {
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(dir, n, ".");
  else snprintf(dir, n, "%.*s", (int)(slash - path + (slash == path)), path);
}

typedef struct Model {
  Spec spec;
  StFile st;
  WLayout layout;
  Graph *graphs[SPEC_MAX_SHAPES + 1];
  int ngraphs;
  Graph *forward[SPEC_MAX_SHAPES];
  Tuning tuning;            /* --tuning's records (none: n = 0), hits counted by the passes */
} Model;

static int load_checked(const char *path, const char *const *defs, int ndefs, Spec *s, StFile *st) {
  char err[ERRLEN];
  if (spec_load(path, defs, ndefs, s, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (st_open(s->weights_path, st, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (st_check_spec(st, s, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    st_close(st);
    return 1;
  }
  return 0;
}

/* one forward graph per distinct seq_len, plus the session graph */
static void build_graphs(Model *m) {
  const Spec *s = &m->spec;
  for (int i = 0; i < s->n_shapes; i++) {
    int T = s->shapes[i][1], j = 0;
    for (; j < i; j++)
      if (s->shapes[j][1] == T) break;
    if (j < i) {
      m->forward[i] = m->forward[j];
      continue;
    }
    m->forward[i] = m->graphs[m->ngraphs++] = build_forward(s, &m->layout, T);
  }
  m->graphs[m->ngraphs++] = build_session(s, &m->layout);
}

static int run_passes(Model *m, const CompileOpts *o, const TargetDesc *desc) {
  char err[ERRLEN];
  PassOptions po = {o->print_after_all, stderr, 1, NULL, o->no_fuse, desc, o->tuning ? &m->tuning : NULL};
  for (int i = 0; i < m->ngraphs; i++) {
    Graph *before = m->graphs[i];
    if (passes_run(&m->graphs[i], &po, err, sizeof err))  /* a record that does not fit: which file */
      return o->tuning && strstr(err, "tuning record") ? cli_fail("%s: %s", o->tuning, err) : cli_fail("%s", err);
    for (int j = 0; j < m->spec.n_shapes; j++)
      if (m->forward[j] == before) m->forward[j] = m->graphs[i];
  }
  return 0;
}

/* --tuning FILE: the records, refused before anything is written unless they were tuned for
 * this target; hits count the kernel nodes that take each. */
static int load_tuning(const char *path, const CgTarget *t, Tuning *tu) {
  char err[ERRLEN];
  if (records_read(path, tu, err, sizeof err) ||
      records_check_target(tu, path, t->cpu, t->features, err, sizeof err))
    return cli_fail("%s", err);
  tu->hits = calloc((size_t)tu->n + 1, sizeof *tu->hits);
  return tu->hits ? 0 : cli_fail("out of memory");
}

/* How many kernel nodes took a record; a warning for records that name no kernel here. */
static void report_tuning(const Tuning *tu, const char *path) {
  char unused[1024];
  int nodes, used, nunused = records_usage(tu, &nodes, &used, unused, sizeof unused);
  cli_progress("tuning: %d kernel nodes took a record from %s (%d of %d records used)", nodes, path, used, tu->n);
  if (nunused)
    fprintf(stderr, "modc: warning: %s: %d record%s name%s no kernel of this model (ignored): %s\n", path, nunused,
            nunused > 1 ? "s" : "", nunused > 1 ? "" : "s", unused);
}

/* mkdir -p */
static int make_dirs(const char *dir) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(buf, 0777);
      *p = '/';
    }
  if (mkdir(buf, 0777) && errno != EEXIST) return cli_fail("cannot create directory '%s': %s", dir, strerror(errno));
  return 0;
}

static int emit_ir(Model *m, const char *out) {
  FILE *f = !out || !strcmp(out, "-") ? stdout : fopen(out, "w");
  if (!f) return cli_fail("cannot write '%s': %s", out, strerror(errno));
  for (int i = 0; i < m->ngraphs; i++) {
    if (i) fputs("// -----\n", f);
    graph_print(m->graphs[i], f);
  }
  if (f != stdout) fclose(f);
  return 0;
}

static void default_out(const Spec *s, const char *emit, char *buf, size_t n) {
  const char *ext = !emit ? "so" : !strcmp(emit, "ir") ? "mir" : !strcmp(emit, "llvm") ? "ll"
                  : !strcmp(emit, "asm") ? "s" : "o";
  snprintf(buf, n, emit ? "%s.%s" : "lib%s.%s", s->name, ext);
}

/* Everything a compile holds: graphs, layout, the mapped checkpoint (all safe when zeroed). */
static void model_free(Model *m) {
  for (int i = 0; i < m->ngraphs; i++) graph_free(m->graphs[i]);
  wlayout_free(&m->layout);
  st_close(&m->st);
  tuning_free(&m->tuning);
}

#define MAX_SETS 8

/* compile.cpu split at its commas: one kernel set per CPU */
typedef struct CpuList {
  char name[MAX_SETS][64];
  int n;
} CpuList;

static int cpu_list(const char *cpus, CpuList *l) {
  l->n = 0;
  for (const char *p = cpus; *p;) {
    size_t len = strcspn(p, ",");
    if (l->n == MAX_SETS) return cli_fail("compile.cpu '%s' lists more than %d CPUs", cpus, MAX_SETS);
    if (len >= sizeof l->name[0]) return cli_fail("CPU name '%.*s' is too long", (int)len, p);
    snprintf(l->name[l->n++], sizeof l->name[0], "%.*s", (int)len, p);
    p += len + (p[len] == ',');
  }
  return l->n ? 0 : cli_fail("compile.cpu is empty");
}

/* What one kernel set wrote: its object and its weights file (shared with an earlier set
 * whose packing came out byte-identical). */
typedef struct SetOut {
  char obj[1400], wfile[200], wpath[1400];
  uint64_t hash;
  int64_t size;
  int shared;               /* wfile is an earlier set's: nothing of this set's to remove */
} SetOut;

/* The packed weights file of a kernel set, written on its own thread (compile_set). */
typedef struct WeightsJob {
  const WLayout *layout;
  const StFile *st;
  const char *path;
  uint64_t hash;            /* the hash of what was written */
  int rc;
  char err[ERRLEN];
} WeightsJob;

static void *weights_job(void *arg) {
  WeightsJob *j = arg;
  j->rc = wlayout_write(j->layout, j->st, j->path, &j->hash, j->err, sizeof j->err) ? 1 : 0;
  return NULL;
}

/* Free the graphs and layout of the previous kernel set (spec, checkpoint and tuning stay). */
static void model_reset(Model *m) {
  for (int i = 0; i < m->ngraphs; i++) graph_free(m->graphs[i]);
  m->ngraphs = 0;
  memset(m->forward, 0, sizeof m->forward);
  wlayout_free(&m->layout);
}

/* Kernel set `set` of n for target t: graphs scheduled for its target model, the weights packed
 * in its panels (NAME.weights for the first set, NAME.<cpu>.weights for another unless its
 * bytes equal an earlier set's), its code into so[set].obj (or o->out for --emit).
 * Returns 0, 1 on error, or 2 when --emit ir has written the IR and nothing else is to do. */
static int compile_set(Model *m, const CompileOpts *o, const CgTarget *t, int set, int n, const char *dir,
                       const char *out, SetOut *so) {
  const Spec *s = &m->spec;
  SetOut *me = &so[set];
  char err[ERRLEN], dline[512];
  TargetDesc desc;
  cg_target_describe(t, s->threads, &desc);
  target_format(&desc, dline, sizeof dline);
  if (n > 1) cli_progress("kernel set %d of %d, target: %s", set + 1, n, dline);
  else cli_progress("target: %s", dline);
  model_reset(m);
  wlayout_build(s, &desc, &m->layout);
  build_graphs(m);
  cli_progress("running passes on %d graphs", m->ngraphs);
  if (run_passes(m, o, &desc)) return 1;
  if (o->tuning) report_tuning(&m->tuning, o->tuning);
  if (o->emit && !strcmp(o->emit, "ir")) return emit_ir(m, o->out) ? 1 : 2;
  if (set) snprintf(me->wfile, sizeof me->wfile, "%s.%s.weights", s->name, t->cpu);
  else snprintf(me->wfile, sizeof me->wfile, "%s.weights", s->name);
  snprintf(me->wpath, sizeof me->wpath, "%s/%s%s", dir, me->wfile, o->embed ? ".tmp" : "");
  if (set) snprintf(me->obj, sizeof me->obj, "%s.%d.o", out, set);
  else snprintf(me->obj, sizeof me->obj, "%s.o", out);
  /* The code embeds the blob's hash, so it is taken first (packing without writing, a fraction
   * of the write's time); then the file is written on a thread beside code generation, the two
   * halves of a compile's time.  A set whose blob equals an earlier set's writes nothing. */
  cli_progress("packing weights (%.1f MB) into %s", m->layout.size / 1e6, me->wpath);
  if (wlayout_hash(&m->layout, &m->st, &me->hash, err, sizeof err)) return cli_fail("%s", err);
  me->size = m->layout.size;
  for (int j = 0; j < set && !o->embed; j++)
    if (so[j].hash == me->hash && so[j].size == me->size && !so[j].shared) {
      snprintf(me->wfile, sizeof me->wfile, "%s", so[j].wfile);
      me->shared = 1;
      break;
    }
  WeightsJob job = {&m->layout, &m->st, me->wpath, 0, 0, ""};
  pthread_t writer;
  /* --embed-weights: the code generator reads the file, so it is written first */
  int threaded = !me->shared && !o->embed && !pthread_create(&writer, NULL, weights_job, &job);
  if (!me->shared && !threaded) weights_job(&job);   /* no thread: write it here, first */
  cli_progress("generating code for %s (%s)", t->cpu, t->triple);
  EmitKind kind = !o->emit ? EMIT_OBJ : !strcmp(o->emit, "llvm") ? EMIT_LLVM : !strcmp(o->emit, "asm") ? EMIT_ASM : EMIT_OBJ;
  CgModel cm = {s, m->forward, m->graphs[m->ngraphs - 1], me->hash, m->layout.size, me->wfile,
                o->embed ? me->wpath : NULL, set, n};
  int rc = !threaded && job.rc ? 0 : cg_emit(&cm, m->graphs, m->ngraphs, t, kind, o->emit ? out : me->obj, err, sizeof err);
  if (threaded) pthread_join(writer, NULL);
  if (job.rc) return cli_fail("%s", job.err);
  if (!me->shared && job.hash != me->hash)
    return cli_fail("%s: error: the packed weights hashed differently when written (internal error)", me->wpath);
  return rc ? cli_fail("%s", err) : 0;
}

/* The targets of a compile: one per CPU of compile.cpu, each known to LLVM, none twice. */
static int compile_targets(const Spec *s, const CompileOpts *o, CgTarget *t, int *n) {
  char err[ERRLEN];
  CpuList cl;
  if (cpu_list(s->cpu, &cl)) return 1;
  if (cl.n > 1 && o->emit)
    return cli_fail("--emit writes the code of one CPU; compile.cpu lists %d (%s)", cl.n, s->cpu);
  if (cl.n > 1 && o->tuning)
    return cli_fail("--tuning records belong to one CPU; compile.cpu lists %d (%s)", cl.n, s->cpu);
  for (int i = 0; i < cl.n; i++) {
    if (cg_target_resolve(s->target, cl.name[i], o->opt, &t[i], err, sizeof err)) return cli_fail("%s", err);
    for (int j = 0; j < i; j++)
      if (!strcmp(t[i].cpu, t[j].cpu))
        return cli_fail("compile.cpu '%s' names CPU '%s' twice", s->cpu, t[i].cpu);
  }
  *n = cl.n;
  return 0;
}

static int compile_model(int argc, char **argv, Model *m) {
  CompileOpts o = {0};
  char err[ERRLEN], out[1024], dir[1024], hpath[1400];
  CgTarget t[MAX_SETS];
  SetOut so[MAX_SETS];
  int n = 0;
  memset(so, 0, sizeof so);
  if (parse_compile(argc, argv, &o)) return 1;
  cli_progress("reading %s", o.spec);
  if (load_checked(o.spec, o.defs, o.ndefs, &m->spec, &m->st)) return 1;
  const Spec *s = &m->spec;
  if (compile_targets(s, &o, t, &n)) return 1;
  if (!o.emit && cg_target_linkable(&t[0], err, sizeof err))   /* before anything is created */
    return cli_fail("%s", err);
  if (o.tuning && load_tuning(o.tuning, &t[0], &m->tuning)) return 1;
  if (o.out) snprintf(out, sizeof out, "%s", o.out);
  else default_out(s, o.emit, out, sizeof out);
  dirname_of(out, dir, sizeof dir);
  if (make_dirs(dir)) return 1;
  snprintf(hpath, sizeof hpath, "%s/%s.h", dir, s->name);
  /* From here on the outputs are being written: a failure removes all of them, so that no
   * partial weights, object, library or header is left behind. */
  int rc = 0, sets = 0;
  for (; sets < n && !rc; sets++) rc = compile_set(m, &o, &t[sets], sets, n, dir, out, so);
  if (rc == 2) return 0;   /* --emit ir */
  if (!rc && !o.emit) {
    const char *objs[MAX_SETS];
    for (int i = 0; i < n; i++) objs[i] = so[i].obj;
    cli_progress("linking %s", out);
    rc = cg_link_for(&t[0], objs, n, out, err, sizeof err) ? cli_fail("%s", err) : 0;
    if (!rc) rc = cg_write_header(s, hpath, err, sizeof err) ? cli_fail("%s", err) : 0;
    const char *base = strrchr(out, '/');
    if (!rc) rc = cg_write_build_files(s, dir, base ? base + 1 : out, err, sizeof err) ? cli_fail("%s", err) : 0;
  }
  for (int i = 0; i < sets; i++) {
    if (!o.emit) unlink(so[i].obj);
    if ((rc || o.embed) && !so[i].shared && so[i].wpath[0]) unlink(so[i].wpath);
  }
  if (rc && strcmp(out, "-")) unlink(out);
  if (rc && !o.emit) {
    char pc[1400];
    snprintf(pc, sizeof pc, "%s/%s.pc", dir, s->name);
    unlink(hpath), unlink(pc);
  }
  if (!rc && !o.emit)
    cli_progress("wrote %s, %s%s%s%s", out, hpath, o.embed ? "" : " and ", o.embed ? "" : so[0].wpath,
                 n > 1 && !o.embed ? " (and each kernel set's weights)" : "");
  return rc;
}

static int compile(int argc, char **argv) {
  Model m = {0};
  int rc = compile_model(argc, argv, &m);
  model_free(&m);
  return rc;
}

/* ---------------------------------------------------------------- check */

static int check(int argc, char **argv) {
  const char *spec = NULL, *defs[MAX_DEFS];
  int ndefs = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(usage_check, stdout); return 0; }
    if (!strcmp(argv[i], "-D") && i + 1 < argc && ndefs < MAX_DEFS) defs[ndefs++] = argv[++i];
    else if (!strncmp(argv[i], "-D", 2) && argv[i][2] && ndefs < MAX_DEFS) defs[ndefs++] = argv[i] + 2;
    else if (argv[i][0] == '-') return cli_fail("check: unknown option '%s' (see modc check --help)", argv[i]);
    else if (!spec) spec = argv[i];
    else return cli_fail("check: more than one spec given");
  }
  if (!spec) return cli_fail("check: no spec given (see modc check --help)");
  Spec s;
  StFile st;
  if (load_checked(spec, defs, ndefs, &s, &st)) return 1;
  spec_print_summary(&s, stdout);
  st_close(&st);
  return 0;
}

/* ---------------------------------------------------------------- run */

typedef ModcLib Abi;

static int load_abi(const char *lib, Abi *a) {
  char err[4200];
  return modc_load(lib, a, err, sizeof err) ? cli_fail("%s", err) : 0;
}

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static int sample(const float *logits, int V, double temp, uint64_t *rng) {
  int best = 0;
  for (int i = 1; i < V; i++)
    if (logits[i] > logits[best]) best = i;
  if (temp <= 0) return best;
  double sum = 0, u = (rng_next(rng) >> 11) * 0x1.0p-53;
  for (int i = 0; i < V; i++) sum += exp((logits[i] - logits[best]) / temp);
  double acc = 0;
  for (int i = 0; i < V; i++) {
    acc += exp((logits[i] - logits[best]) / temp) / sum;
    if (u < acc) return i;
  }
  return best;
}

static void print_token(int byte_level, int tok) {
  if (byte_level) putchar(tok);
  else printf("%d ", tok);
  fflush(stdout);
}

typedef struct RunOpts {
  const char *lib, *prompt, *tokens, *weights;
  int max_new, threads;
  double temp;
  uint64_t seed;
} RunOpts;

static int parse_run(int argc, char **argv, RunOpts *o) {
  o->max_new = 64, o->temp = 0.8, o->seed = 1;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_run, stdout); exit(0); }
    int takes = !strcmp(a, "--prompt") || !strcmp(a, "--tokens") || !strcmp(a, "--max-new") ||
                !strcmp(a, "--temperature") || !strcmp(a, "--seed") || !strcmp(a, "--threads") ||
                !strcmp(a, "--weights");
    if (takes && !v) return cli_fail("%s needs a value", a);
    if (takes) i++;
    if (!strcmp(a, "--prompt")) o->prompt = v;
    else if (!strcmp(a, "--tokens")) o->tokens = v;
    else if (!strcmp(a, "--max-new")) o->max_new = atoi(v);
    else if (!strcmp(a, "--temperature")) o->temp = atof(v);
    else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10) | 1;
    else if (!strcmp(a, "--threads")) o->threads = atoi(v);
    else if (!strcmp(a, "--weights")) o->weights = v;
    else if (a[0] == '-') return cli_fail("run: unknown option '%s' (see modc run --help)", a);
    else if (!o->lib) o->lib = a;
    else return cli_fail("run: more than one library given");
  }
  if (!o->lib) return cli_fail("run: no library given (see modc run --help)");
  if (!o->prompt == !o->tokens) return cli_fail("run: give exactly one of --prompt and --tokens");
  if (o->max_new < 0) return cli_fail("--max-new must be >= 0");
  return 0;
}

static int generate(const Abi *a, modc_model *m, const RunOpts *o, int32_t *toks, int n) {
  const modc_info *info = a->info(m);
  int V = info->vocab_size, byte_level = V == 256 && o->prompt;
  float *logits = malloc(V * sizeof(float));
  modc_session *s;
  uint64_t rng = o->seed;
  int rc = a->session_open(m, &s) || a->prefill(s, toks, n, logits);
  for (int i = 0; !rc && i < o->max_new; i++) {
    int tok = sample(logits, V, o->temp, &rng);
    print_token(byte_level, tok);
    if (n + i + 1 >= info->max_seq_len) break;
    rc = a->decode(s, tok, logits);
  }
  putchar('\n');
  if (rc) cli_fail("%s", a->last_error());
  a->session_close(s);
  free(logits);
  return rc ? 1 : 0;
}

/* Open the model and generate; toks stays the caller's to free. */
static int run_model(const Abi *a, const RunOpts *o, int32_t *toks, int n) {
  if (n == 0) return cli_fail("run: the prompt is empty");
  modc_model *m;
  if (a->open(o->weights, o->threads, &m)) return cli_fail("%s", a->last_error());
  int rc = 1;
  if (o->prompt && a->info(m)->vocab_size != 256)
    cli_fail("--prompt needs a byte-level model (vocab_size 256); this one has %d: use --tokens", a->info(m)->vocab_size);
  else {
    if (o->prompt) fputs(o->prompt, stdout);
    rc = generate(a, m, o, toks, n);
  }
  a->close(m);
  return rc;
}

static int run(int argc, char **argv) {
  RunOpts o = {0};
  Abi a;
  if (parse_run(argc, argv, &o) || load_abi(o.lib, &a)) return 1;
  int32_t *toks = NULL;
  int n = 0;
  if (o.tokens && tok_read(o.tokens, 0, 0, &toks, &n)) return 1;
  if (o.prompt) {
    n = (int)strlen(o.prompt);
    toks = malloc((n + 1) * sizeof(int32_t));
    for (int i = 0; i < n; i++) toks[i] = (unsigned char)o.prompt[i];
  }
  int rc = run_model(&a, &o, toks, n);
  free(toks);
  return rc;
}

/* modc --version: this modc, the LLVM inside it, and the runtime it puts into libraries */
static int version(void) {
  unsigned major, minor, patch;
  char lib[4096], dir[4096];
  LLVMGetVersion(&major, &minor, &patch);
  printf("modc %s (LLVM %u.%u.%u)\nruntime archive: %s\nABI header: %s/modc.h\n", MODC_VERSION, major, minor,
         patch, cg_runtime_lib(lib, sizeof lib), cg_runtime_dir(dir, sizeof dir));
  return 0;
}

int main(int argc, char **argv) {
  cli_begin();
  if (argc == 2 && !strcmp(argv[1], "--version")) return version();
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage_main, argc < 2 ? stderr : stdout);
    return argc < 2;
  }
  if (!strcmp(argv[1], "compile")) return compile(argc - 2, argv + 2);
  if (!strcmp(argv[1], "check")) return check(argc - 2, argv + 2);
  if (!strcmp(argv[1], "run")) return run(argc - 2, argv + 2);
  if (!strcmp(argv[1], "bench")) return bench_main(argc - 2, argv + 2);
  if (!strcmp(argv[1], "tune")) return tune_main(argc - 2, argv + 2);
  if (!strcmp(argv[1], "eval")) return eval_main(argc - 2, argv + 2);
  if (!strcmp(argv[1], "import-hf")) return import_hf_main(argc - 2, argv + 2);
  return cli_fail("unknown command '%s' (see modc --help)", argv[1]);
}
