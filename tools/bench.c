/* bench.c: `modc bench LIB.so`, timings of a compiled model through its ABI (DESIGN 6, 9).
 *
 * The library is loaded with dlopen exactly as a user would load it.  What the ABI's
 * modc_info lacks for counting FLOPs and bytes (heads, d_ff, the weights' dtype, tied
 * embeddings, the router's bias, the predictor's width) is read from the generated header
 * <name>.h beside the library, whose #defines are the model's constants; which layers are
 * routed is asked of the library itself (modc_routing refuses dense layers).  Nothing is
 * added to the ABI.
 *
 * Three measurements, each a median over --repeats runs after --warmup runs:
 *   forward  modc_forward on every compiled shape: GFLOP/s against the f32 FMA peak
 *   prefill  modc_prefill of --prefill tokens (causal routing): GFLOP/s
 *   decode   --decode modc_decode steps after that prefill: weight bytes read per step over
 *            the step time, against DRAM read bandwidth.  A routed block's weights count only
 *            for the steps whose token took it (modc_routing tells per token); the router,
 *            the lm head, the norms and one embedding row count always.
 * For routed models the decode steps are also split by how many routed blocks the token
 * took, and a line fitted through them gives the step time at take rate = capacity (what a
 * trained router would give) next to the measured one.
 *
 * Tokens are deterministic (xorshift from --seed).  --kv FILE writes every figure as
 * key=value lines for scripts (bench/run.sh); --dump PREFIX writes the inputs and logits so a
 * peer implementation (bench/torch_model.py) can check it computes the same thing.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "runtime/modc_load.h"
#include "bench.h"
#include "bench_prof.h"
#include "calibrate.h"
#include "cli.h"
#include "timing.h"

#define MAX_LAYERS 256

static const char usage_bench[] =
  "usage: modc bench LIB.so [options]\n"
  "\n"
  "Times modc_forward on every compiled shape, a prefill and decode steps, and prints\n"
  "forward/prefill GFLOP/s against the f32 FMA peak and decode weight GB/s against DRAM\n"
  "read bandwidth.  Reads the model's constants from NAME.h beside the library.\n"
  "  --threads N        threads (default: all online CPUs)\n"
  "  --repeats R        timed runs per measurement; the median is reported (default 5)\n"
  "  --warmup W         untimed runs before them (default 1)\n"
  "  --prefill N        prefill length before the decode steps (default min(128, max_seq_len/2))\n"
  "  --decode M         decode steps per run (default min(32, max_seq_len - N))\n"
  "  --seed S           token seed (default 1)\n"
  "  --no-forward       skip modc_forward      --no-session   skip prefill and decode\n"
  "  --peak-gflops G    f32 peak to compare with (default: this machine's f32 FMA peak at\n"
  "                     --threads, measured in well under a second, or read from the cache)\n"
  "  --dram-gbs B       DRAM read bandwidth to compare with (default: measured the same way,\n"
  "                     a vectorised sum over a buffer several times the last-level cache)\n"
  "  --recalibrate      measure the machine again instead of reading the cache, which is\n"
  "                     $XDG_CACHE_HOME/modc (else ~/.cache/modc), one file per CPU and --threads\n"
  "                     (and CPU count, where the process is confined to fewer than are online)\n"
  "  --header PATH      the model's generated header (default: NAME.h beside the library)\n"
  "  --weights PATH     weights file (default: the one beside the library)\n"
  "  --weights-load map|copy\n"
  "                     how modc_open holds a weights file: mapped (the default) or copied\n"
  "                     into anonymous memory (sets MODC_WEIGHTS_LOAD; see the README)\n"
  "  --kv FILE          also write every figure as key=value lines\n"
  "  --dump PREFIX      write PREFIX.tokens, PREFIX.logits (forward, first shape, f32),\n"
  "                     PREFIX.session.tokens, PREFIX.session.routing, PREFIX.prefill.logits\n"
  "                     and PREFIX.decode.logits (last logits of the prefill and of the last step)\n"
  "  --vs OTHER.so      A/B instead: LIB and OTHER (the same model, e.g. untuned and tuned)\n"
  "                     timed call by call in one process, forward (first shape), prefill\n"
  "                     and decode; rounds alternate AB, BA with a pause longer than the\n"
  "                     workers' spin between calls (decode: step by step, each round's\n"
  "                     median step); prints each median and OTHER/LIB per round (median,\n"
  "                     min, max); --repeats rounds (default 5).  OTHER reads LIB's weights\n"
  "                     file when its packing is the same (one set of pages for both: copies\n"
  "                     of a file can time apart on a VM), else its own, and says which\n"
  "  --profile          also time every kernel call (the runtime's MODC_PROFILE) and print\n"
  "                     where the run's time went: kernels by kind and the slowest ones, each\n"
  "                     split into work, load imbalance across threads and dispatch and join,\n"
  "                     and the time between kernels; warm-ups included, timings a little\n"
  "                     inflated by the clock reads (not with --vs)\n"
  "  -q                 no progress lines\n";

/* ------------------------------------------------------------------ plumbing */

typedef ModcLib Lib;

typedef struct Opts {
  const char *lib, *header, *weights, *kv, *dump, *vs, *load;
  int threads, repeats, warmup, prefill, decode, forward, session, quiet, recalibrate, profile;
  double peak, dram;   /* the ceilings compared with: given, else from machine_figures() */
  const char *peak_src, *dram_src;   /* "given", "measured" or "cached" */
  Calib cal;           /* the calibration, when one of them was not given */
  uint64_t seed;
  double open_s;       /* modc_open's time: the weights mapped or copied */
} Opts;

/* The model's dimensions: modc_info, the header's constants, the routed layers. */
typedef struct Dims {
  int V, d, L, H, KVH, hd, dff, wb, tie, rbias, phid, max_seq;
  int routed[MAX_LAYERS], n_routed;
  double cap[MAX_LAYERS];
} Dims;

static FILE *kvf;
static int show_progress;

/* "modc: error: bench: ..." */
#define bfail(...) cli_fail("bench: " __VA_ARGS__)


/* median of v[0..n) (sorts a copy) */
static double median(const double *v, int n) {
  if (n <= 0) return NAN;
  double *c = malloc(n * sizeof *c);
  memcpy(c, v, n * sizeof *c);
  double m = timing_median(c, n);
  free(c);
  return m;
}

/* "key=value" into --kv FILE, when given */
static void kv(const char *key, const char *fmt, ...) {
  if (!kvf) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(kvf, "%s=", key);
  vfprintf(kvf, fmt, ap);
  fputc('\n', kvf);
  va_end(ap);
}

static void progress(const char *what, int i, int n) {
  if (!show_progress) return;
  fprintf(stderr, "\r\033[K[bench] %s %d/%d", what, i, n);
  if (i == n) fputs("\r\033[K", stderr);
  fflush(stderr);
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* n deterministic tokens in [0, vocab) */
static void make_tokens(int32_t *t, int n, int vocab, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull | 1;
  for (int i = 0; i < n; i++) t[i] = (int32_t)(xorshift(&s) % (uint64_t)vocab);
}

/* ------------------------------------------------------------------ options */

static int parse_int(const char *flag, const char *v, int lo, int *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (*end || end == v || x < lo || x > 1000000000)
    return bfail("%s expects an integer >= %d, got '%s'", flag, lo, v);
  *out = (int)x;
  return 0;
}

static int parse_pos(const char *flag, const char *v, double *out) {
  char *end;
  *out = strtod(v, &end);
  if (*end || end == v || !(*out > 0)) return bfail("%s expects a positive number, got '%s'", flag, v);
  return 0;
}

static int parse_value(const char *a, const char *v, Opts *o) {
  if (!strcmp(a, "--threads")) return parse_int(a, v, 1, &o->threads);
  if (!strcmp(a, "--repeats")) return parse_int(a, v, 1, &o->repeats);
  if (!strcmp(a, "--warmup")) return parse_int(a, v, 0, &o->warmup);
  if (!strcmp(a, "--prefill")) return parse_int(a, v, 1, &o->prefill);
  if (!strcmp(a, "--decode")) return parse_int(a, v, 1, &o->decode);
  if (!strcmp(a, "--peak-gflops")) return parse_pos(a, v, &o->peak);
  if (!strcmp(a, "--dram-gbs")) return parse_pos(a, v, &o->dram);
  if (!strcmp(a, "--seed")) {
    int s = 0;
    if (parse_int(a, v, 0, &s)) return 1;
    o->seed = (uint64_t)s;
    return 0;
  }
  if (!strcmp(a, "--header")) o->header = v;
  else if (!strcmp(a, "--weights")) o->weights = v;
  else if (!strcmp(a, "--kv")) o->kv = v;
  else if (!strcmp(a, "--dump")) o->dump = v;
  else if (!strcmp(a, "--vs")) o->vs = v;
  else if (!strcmp(a, "--weights-load")) o->load = v;   /* checked after the loop */
  else return -1;   /* not an option that takes a value */
  return 0;
}

static int parse_bench(int argc, char **argv, Opts *o) {
  *o = (Opts){.repeats = 5, .warmup = 1, .seed = 1, .forward = 1, .session = 1};
  o->quiet = !isatty(2);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(usage_bench, stdout); exit(0); }
    if (!strcmp(a, "--no-forward")) { o->forward = 0; continue; }
    if (!strcmp(a, "--no-session")) { o->session = 0; continue; }
    if (!strcmp(a, "--recalibrate")) { o->recalibrate = 1; continue; }
    if (!strcmp(a, "--profile")) { o->profile = 1; continue; }
    if (!strcmp(a, "-q")) { o->quiet = 1; continue; }
    if (a[0] == '-' && a[1]) {
      Opts probe = *o;   /* is it an option that takes a value? */
      if (!v && parse_value(a, "1", &probe) < 0) return bfail("unknown option '%s' (see modc bench --help)", a);
      if (!v) return bfail("%s needs a value (see modc bench --help)", a);
      int rc = parse_value(a, v, o);
      if (rc < 0) return bfail("unknown option '%s' (see modc bench --help)", a);
      if (rc) return 1;
      i++;
      continue;
    }
    if (o->lib) return bfail("more than one library given ('%s' and '%s')", o->lib, a);
    o->lib = a;
  }
  if (!o->lib) return bfail("no library given (see modc bench --help)");
  if (o->profile && o->vs) return bfail("--profile times one library; it cannot be combined with --vs");
  if (o->load && strcmp(o->load, "map") && strcmp(o->load, "copy"))
    return bfail("--weights-load is '%s'; expected map or copy", o->load);
  if (o->load && setenv("MODC_WEIGHTS_LOAD", o->load, 1)) return bfail("setenv: %s", strerror(errno));
  if (!o->threads) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = n > 0 ? (int)n : 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ the machine */

/* The peak and bandwidth not given on the command line: measured on this machine at
 * --threads, or read from the calibration cache (tools/calibrate.c). */
static void machine_figures(Opts *o) {
  o->peak_src = o->peak ? "given" : "", o->dram_src = o->dram ? "given" : "";
  if (o->peak && o->dram) return;
  calibrate(o->threads, o->recalibrate, &o->cal);
  const char *src = o->cal.cached ? "cached" : "measured";
  if (!o->peak) o->peak = o->cal.peak_gflops, o->peak_src = src;
  if (!o->dram) o->dram = o->cal.dram_gbs, o->dram_src = src;
}

/* "machine: ..." lines: the two ceilings and where they come from */
static void print_machine(const Opts *o) {
  const Calib *c = &o->cal;
  printf("machine: f32 FMA peak %.0f GFLOP/s (%s), DRAM read %.1f GB/s (%s), %d threads\n", o->peak,
         strcmp(o->peak_src, "given") ? o->peak_src : "--peak-gflops", o->dram,
         strcmp(o->dram_src, "given") ? o->dram_src : "--dram-gbs", o->threads);
  if (!c->cpu[0]) return;   /* both given: nothing calibrated */
  printf("  %s; %s FMA kernel", c->cpu, c->isa);
  if (c->buffer_mib)
    printf("; bandwidth over a %.0f MiB buffer (last-level cache %.0f MiB%s)", c->buffer_mib, c->llc_mib,
           c->buffer_mib < 4 * c->llc_mib ? ": capped below 4x it" : "");
  putchar('\n');
  if (c->cached) printf("  cached from %s (--recalibrate to measure again)\n", c->file);
  else printf("  measured now in %.2f s (%s); %s%s\n", c->seconds, c->why, c->note[0] ? "" : "cached in ",
              c->note[0] ? c->note : c->file);
  if (calib_busy(c->load))
    printf("  measured under load average %.2f: other work on the cores lowers these figures "
           "(--recalibrate on an idle machine)\n", c->load);
}

/* ------------------------------------------------------------------ the library */

static int load_lib(const char *lib, Lib *l) {
  char err[4200];
  return modc_load(lib, l, err, sizeof err) ? bfail("%s", err) : 0;
}

/* default header path: NAME.h in the library's folder */
static void header_path(const char *lib, const char *name, char *buf, size_t n) {
  const char *slash = strrchr(lib, '/');
  if (slash) snprintf(buf, n, "%.*s/%s.h", (int)(slash - lib), lib, name);
  else snprintf(buf, n, "%s.h", name);
}

/* "#define UPNAME_KEY value" from the header text; -1 when absent */
static int header_const(const char *text, const char *up, const char *key, int *out) {
  char pat[200];
  snprintf(pat, sizeof pat, "#define %s_%s ", up, key);
  const char *p = strstr(text, pat);
  if (!p) return -1;
  *out = atoi(p + strlen(pat));
  return 0;
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0, r;
  char *buf = malloc(cap + 1);
  while ((r = fread(buf + n, 1, cap - n, f)) > 0)
    if ((n += r) == cap) buf = realloc(buf, (cap *= 2) + 1);
  fclose(f);
  buf[n] = 0;
  return buf;
}

/* The constants modc_info lacks, from the generated header. */
static int read_header(const char *path, const char *name, Dims *dm) {
  char *text = slurp(path);
  if (!text) return bfail("cannot read the model's header '%s': %s (give it with --header)", path, strerror(errno));
  char up[80];
  size_t i = 0;
  for (; name[i] && i + 1 < sizeof up; i++) up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
  up[i] = 0;
  struct { const char *key; int *dst; } k[] = {
    {"N_HEADS", &dm->H}, {"N_KV_HEADS", &dm->KVH}, {"HEAD_DIM", &dm->hd}, {"D_FF", &dm->dff},
    {"WEIGHT_BYTES", &dm->wb}, {"TIE_EMBEDDINGS", &dm->tie}, {"ROUTER_BIAS", &dm->rbias},
    {"PREDICTOR_HIDDEN", &dm->phid},
  };
  int rc = 0, V = 0, d = 0, L = 0;
  for (size_t j = 0; j < sizeof k / sizeof k[0] && !rc; j++)
    if (header_const(text, up, k[j].key, k[j].dst))
      rc = bfail("%s has no %s_%s (written by an older modc? recompile the model)", path, up, k[j].key);
  /* a header left from another compile of the same name must not be trusted */
  if (!rc && (header_const(text, up, "VOCAB_SIZE", &V) || header_const(text, up, "D_MODEL", &d) ||
              header_const(text, up, "N_LAYERS", &L) || V != dm->V || d != dm->d || L != dm->L))
    rc = bfail("%s does not describe this library (vocab %d, d_model %d, %d layers expected)", path,
               dm->V, dm->d, dm->L);
  free(text);
  return rc;
}

/* Routed layers: the ones modc_routing accepts (it refuses dense layers). */
static int find_routed(const Lib *l, modc_model *m, Dims *dm) {
  modc_session *s;
  uint8_t dummy;
  if (l->session_open(m, &s)) return bfail("modc_session_open: %s", l->last_error());
  dm->n_routed = 0;
  for (int i = 0; i < dm->L; i++) {
    dm->routed[i] = l->routing(s, i, &dummy, 0) >= 0;
    dm->n_routed += dm->routed[i];
  }
  l->session_close(s);
  return 0;
}

static int model_dims(const Lib *l, modc_model *m, const Opts *o, Dims *dm) {
  const modc_info *in = l->info(m);
  memset(dm, 0, sizeof *dm);
  dm->V = in->vocab_size, dm->d = in->d_model, dm->L = in->n_layers, dm->max_seq = in->max_seq_len;
  if (dm->L > MAX_LAYERS) return bfail("%d layers; bench handles at most %d", dm->L, MAX_LAYERS);
  for (int i = 0; i < dm->L; i++) dm->cap[i] = in->capacity[i];
  char hp[1200];
  if (o->header) snprintf(hp, sizeof hp, "%s", o->header);
  else header_path(o->lib, in->name, hp, sizeof hp);
  if (read_header(hp, in->name, dm)) return 1;
  return find_routed(l, m, dm);
}

/* ------------------------------------------------------------------ counting */

/* one block's matmul FLOPs per row (attention projections + SwiGLU MLP) */
static double block_row_flops(const Dims *m) {
  double qd = (double)m->H * m->hd, kvd = (double)m->KVH * m->hd;
  return 2.0 * m->d * (qd + 2 * kvd) + 2.0 * qd * m->d + 6.0 * m->d * m->dff;
}

/* attention FLOPs for `pairs` (query, key) pairs: q.k and p.v over every head */
static double attn_flops(const Dims *m, double pairs) { return 4.0 * pairs * m->H * m->hd; }

/* modc_forward of one sequence of T tokens with top-k routing (DESIGN 4) */
static double forward_flops(const Dims *m, int T) {
  double f = 2.0 * T * m->d * m->V;   /* lm head */
  for (int l = 0; l < m->L; l++) {
    double rows = T;
    if (m->routed[l]) {
      double k = ceil(m->cap[l] * T - 1e-9);
      rows = k < 1 ? 1 : k > T ? T : k;
      f += 2.0 * T * m->d;   /* router */
    }
    f += rows * block_row_flops(m) + attn_flops(m, rows * (rows + 1) / 2);
  }
  return f;
}

/* bytes of one block's weights (matrices in the weights dtype, the two norms f32) */
static double block_bytes(const Dims *m) {
  double qd = (double)m->H * m->hd, kvd = (double)m->KVH * m->hd;
  return (m->d * (qd + 2 * kvd) + qd * m->d + 3.0 * m->d * m->dff) * m->wb + 2.0 * m->d * 4;
}

/* bytes a routed layer reads whatever the token does: router (+bias), mlp predictor */
static double router_bytes(const Dims *m) {
  double b = (double)m->d * m->wb + (m->rbias ? 4 : 0);
  if (m->phid) b += ((double)m->phid * m->d + m->phid) * m->wb + (m->phid + 1) * 4.0;
  return b;
}

/* bytes every decode step reads outside the blocks: one embedding row, final norm, lm head */
static double fixed_bytes(const Dims *m) {
  return (double)m->d * m->wb + m->d * 4.0 + (double)m->V * m->d * m->wb;
}

/* every weight of the model: embedding, blocks, routers, final norm, lm head unless tied */
static double total_bytes(const Dims *m) {
  double e = (double)m->V * m->d * m->wb;
  return e * (m->tie ? 1 : 2) + m->L * block_bytes(m) + m->n_routed * router_bytes(m) + m->d * 4.0;
}

/* ------------------------------------------------------------------ dumps */

static int write_raw(const char *prefix, const char *ext, const void *p, size_t bytes) {
  char path[1200];
  snprintf(path, sizeof path, "%s.%s", prefix, ext);
  FILE *f = fopen(path, "wb");
  if (!f) return bfail("cannot write '%s': %s", path, strerror(errno));
  int bad = fwrite(p, 1, bytes, f) != bytes;
  if (fclose(f) || bad) return bfail("writing '%s' failed", path);
  return 0;
}

static int write_tokens(const char *prefix, const char *ext, const int32_t *t, size_t n) {
  char path[1200];
  snprintf(path, sizeof path, "%s.%s", prefix, ext);
  FILE *f = fopen(path, "w");
  if (!f) return bfail("cannot write '%s': %s", path, strerror(errno));
  for (size_t i = 0; i < n; i++) fprintf(f, "%d%c", t[i], i + 1 == n || i % 16 == 15 ? '\n' : ' ');
  if (fclose(f)) return bfail("writing '%s' failed", path);
  return 0;
}

/* the first shape's tokens and logits ([B][T][vocab] f32, native byte order) */
static int dump_forward(const char *prefix, const int32_t *tok, size_t n, const float *logits, size_t nl) {
  return write_tokens(prefix, "tokens", tok, n) || write_raw(prefix, "logits", logits, nl * sizeof *logits);
}

/* ------------------------------------------------------------------ forward */

static int bench_shape(const Lib *l, modc_model *m, const Opts *o, const Dims *dm, int B, int T,
                       int first) {
  size_t n = (size_t)B * T;
  int32_t *tok = malloc(n * sizeof *tok);
  float *logits = malloc(n * dm->V * sizeof *logits);
  double *t = malloc(o->repeats * sizeof *t);
  char what[64];
  int rc = 0;
  make_tokens(tok, (int)n, dm->V, o->seed);
  snprintf(what, sizeof what, "forward %dx%d", B, T);
  for (int r = -o->warmup; r < o->repeats && !rc; r++) {
    progress(what, r + o->warmup, o->warmup + o->repeats);
    double t0 = timing_now();
    rc = l->forward(m, B, T, tok, logits);
    if (r >= 0) t[r] = timing_now() - t0;
  }
  progress(what, 1, 1);
  if (rc) rc = bfail("modc_forward(%d, %d): %s", B, T, l->last_error());
  if (!rc) {
    double med = median(t, o->repeats), mn = t[0], fl = B * forward_flops(dm, T);
    for (int r = 1; r < o->repeats; r++) mn = t[r] < mn ? t[r] : mn;
    double gf = fl / med / 1e9;
    printf("  %dx%-5d median %9.3f ms  min %9.3f ms  %8.4f ms/token  %7.2f GFLOP  %7.1f GFLOP/s  %5.1f%% of peak\n",
           B, T, med * 1e3, mn * 1e3, med * 1e3 / n, fl / 1e9, gf, 100 * gf / o->peak);
    char key[96];
#define KVS(name, fmt, val) do { snprintf(key, sizeof key, "forward.%dx%d." name, B, T); kv(key, fmt, val); } while (0)
    KVS("ms", "%.6g", med * 1e3);
    KVS("min_ms", "%.6g", mn * 1e3);
    KVS("ms_per_token", "%.6g", med * 1e3 / n);
    KVS("gflop", "%.6g", fl / 1e9);
    KVS("gflops", "%.6g", gf);
    KVS("peak_pct", "%.6g", 100 * gf / o->peak);
#undef KVS
    if (first) {
      kv("forward.ms", "%.6g", med * 1e3);
      kv("forward.ms_per_token", "%.6g", med * 1e3 / n);
      kv("forward.gflops", "%.6g", gf);
      kv("forward.peak_pct", "%.6g", 100 * gf / o->peak);
    }
  }
  if (!rc && first && o->dump) rc = dump_forward(o->dump, tok, n, logits, n * dm->V);
  free(tok);
  free(logits);
  free(t);
  return rc;
}

/* ------------------------------------------------------------------ prefill and decode */

/* One session's timings: the prefill time per run, and every step's time per run. */
typedef struct SessRuns {
  int n, M, R;
  int32_t *tok;        /* [n + M]: prefill tokens then one token per step */
  double *pre;         /* [R] prefill seconds */
  double *step;        /* [R][M] decode step seconds */
  uint8_t *taken;      /* [L][n + M] routing trace (routed layers) */
  float *pre_logits, *dec_logits;   /* [V] each */
} SessRuns;

/* reset, prefill n, decode M; times into pre/step when they are not NULL */
static int session_once(const Lib *l, modc_session *s, SessRuns *x, double *pre, double *step) {
  if (l->reset(s)) return bfail("modc_session_reset: %s", l->last_error());
  double t0 = timing_now();
  if (l->prefill(s, x->tok, x->n, x->pre_logits)) return bfail("modc_prefill(%d): %s", x->n, l->last_error());
  if (pre) *pre = timing_now() - t0;
  for (int i = 0; i < x->M; i++) {
    t0 = timing_now();
    if (l->decode(s, x->tok[x->n + i], x->dec_logits))
      return bfail("modc_decode (step %d): %s", i, l->last_error());
    if (step) step[i] = timing_now() - t0;
  }
  return 0;
}

static int session_runs(const Lib *l, modc_model *m, const Opts *o, const Dims *dm, SessRuns *x) {
  modc_session *s;
  if (l->session_open(m, &s)) return bfail("modc_session_open: %s", l->last_error());
  int rc = 0, total = o->warmup + x->R;
  for (int r = -o->warmup; r < x->R && !rc; r++) {
    progress("prefill + decode run", r + o->warmup, total);
    rc = session_once(l, s, x, r >= 0 ? &x->pre[r] : NULL, r >= 0 ? &x->step[(size_t)r * x->M] : NULL);
  }
  progress("prefill + decode run", total, total);
  for (int i = 0; i < dm->L && !rc; i++)
    if (dm->routed[i] && l->routing(s, i, &x->taken[(size_t)i * (x->n + x->M)], x->n + x->M) != x->n + x->M)
      rc = bfail("modc_routing(layer %d): %s", i, l->last_error());
  l->session_close(s);
  return rc;
}

/* rows that took layer l's block among positions [a, b) */
static int taken_rows(const Dims *dm, const SessRuns *x, int l, int a, int b) {
  if (!dm->routed[l]) return b - a;
  int c = 0;
  for (int t = a; t < b; t++) c += x->taken[(size_t)l * (x->n + x->M) + t];
  return c;
}

static void report_prefill(const Opts *o, const Dims *dm, const SessRuns *x) {
  double f = 2.0 * dm->d * dm->V, tk = 0;   /* the lm head on the last row only */
  for (int l = 0; l < dm->L; l++) {
    double rows = taken_rows(dm, x, l, 0, x->n);
    f += rows * block_row_flops(dm) + attn_flops(dm, rows * (rows + 1) / 2);
    if (dm->routed[l]) {
      f += 2.0 * x->n * dm->d + 2.0 * x->n * ((double)dm->phid * dm->d + dm->phid);
      tk += rows;
    }
  }
  double med = median(x->pre, x->R), gf = f / med / 1e9;
  printf("  %d tokens  median %9.3f ms  %8.4f ms/token  %7.2f GFLOP  %7.1f GFLOP/s  %5.1f%% of peak",
         x->n, med * 1e3, med * 1e3 / x->n, f / 1e9, gf, 100 * gf / o->peak);
  if (dm->n_routed) printf("  routed take rate %.3f", tk / ((double)x->n * dm->n_routed));
  putchar('\n');
  kv("prefill.n", "%d", x->n);
  kv("prefill.ms", "%.6g", med * 1e3);
  kv("prefill.ms_per_token", "%.6g", med * 1e3 / x->n);
  kv("prefill.tokens_per_s", "%.6g", x->n / med);
  kv("prefill.gflops", "%.6g", gf);
  kv("prefill.peak_pct", "%.6g", 100 * gf / o->peak);
  if (dm->n_routed) kv("prefill.take_rate", "%.6g", tk / ((double)x->n * dm->n_routed));
}

/* per step: routed blocks taken, weight bytes, KV cache bytes read */
static void step_counts(const Dims *dm, const SessRuns *x, int i, int *blocks, double *wbytes, double *kvbytes) {
  int p = x->n + i;
  double kvrow = 2.0 * dm->KVH * dm->hd * 4;
  *blocks = 0, *wbytes = fixed_bytes(dm), *kvbytes = 0;
  for (int l = 0; l < dm->L; l++) {
    int took = !dm->routed[l] || x->taken[(size_t)l * (x->n + x->M) + p];
    if (dm->routed[l]) *wbytes += router_bytes(dm), *blocks += took;
    if (!took) continue;
    *wbytes += block_bytes(dm);
    *kvbytes += kvrow * taken_rows(dm, x, l, 0, p + 1);
  }
}

/* least-squares line t = a + c * b through (b_i, t_i); 0 when every b is the same */
static int fit_line(const int *b, const double *t, int n, double *a, double *c) {
  double sb = 0, st = 0, sbb = 0, sbt = 0;
  for (int i = 0; i < n; i++) sb += b[i], st += t[i], sbb += (double)b[i] * b[i], sbt += b[i] * t[i];
  double den = n * sbb - sb * sb;
  if (n < 2 || den <= 0) return 0;
  *c = (n * sbt - sb * st) / den;
  *a = (st - *c * sb) / n;
  return 1;
}

/* Steps grouped by routed blocks taken, the fitted per-block cost, the time at take rate =
 * capacity.  med[i] is step i's median time. */
static void report_split(const Dims *dm, const SessRuns *x, const int *blocks, const double *med) {
  double *g = malloc(x->M * sizeof *g), cap_blocks = 0;
  printf("  by routed blocks taken (of %d):", dm->n_routed);
  for (int b = 0; b <= dm->n_routed; b++) {
    int n = 0;
    for (int i = 0; i < x->M; i++)
      if (blocks[i] == b) g[n++] = med[i];
    if (!n) continue;
    printf("  %d: %.3f ms (%d)", b, median(g, n) * 1e3, n);
    char key[64];
    snprintf(key, sizeof key, "decode.ms_blocks_%d", b);
    kv(key, "%.6g", median(g, n) * 1e3);
  }
  putchar('\n');
  free(g);
  for (int l = 0; l < dm->L; l++) cap_blocks += dm->routed[l] ? dm->cap[l] : 0;
  double a, c;
  if (!fit_line(blocks, med, x->M, &a, &c)) {
    printf("  (every step took the same number of routed blocks: no per-block fit)\n");
    return;
  }
  double at_cap = a + c * cap_blocks;
  printf("  fit: %.3f ms + %.3f ms per routed block taken; none taken %.3f ms, all taken %.3f ms\n",
         a * 1e3, c * 1e3, a * 1e3, (a + c * dm->n_routed) * 1e3);
  printf("  at take rate = capacity (%.3f, what a trained router gives; estimated from the fit): %.3f ms/step\n",
         cap_blocks / dm->n_routed, at_cap * 1e3);
  kv("decode.fit_base_ms", "%.6g", a * 1e3);
  kv("decode.fit_block_ms", "%.6g", c * 1e3);
  kv("decode.fit_all_taken_ms", "%.6g", (a + c * dm->n_routed) * 1e3);
  kv("decode.capacity_take_rate", "%.6g", cap_blocks / dm->n_routed);
  kv("decode.at_capacity_ms", "%.6g", at_cap * 1e3);
  kv("decode.at_capacity_weight_mb", "%.6g",
     (fixed_bytes(dm) + dm->n_routed * router_bytes(dm) + (dm->L - dm->n_routed + cap_blocks) * block_bytes(dm)) / 1e6);
}

static void report_decode(const Opts *o, const Dims *dm, const SessRuns *x) {
  double *med = malloc(x->M * sizeof *med), *col = malloc(x->R * sizeof *col);
  int *blocks = malloc(x->M * sizeof *blocks);
  double wsum = 0, kvsum = 0, tsum = 0, taken = 0;
  for (int i = 0; i < x->M; i++) {
    for (int r = 0; r < x->R; r++) col[r] = x->step[(size_t)r * x->M + i];
    med[i] = median(col, x->R);
    double wb, kb;
    step_counts(dm, x, i, &blocks[i], &wb, &kb);
    wsum += wb, kvsum += kb, tsum += med[i], taken += blocks[i];
  }
  double step = median(med, x->M), gbs = wsum / tsum / 1e9, kgbs = (wsum + kvsum) / tsum / 1e9;
  printf("  %d steps   median %9.3f ms/step  %7.1f tokens/s  weights %.1f MB/step  %6.2f GB/s  %5.1f%% of DRAM read\n",
         x->M, step * 1e3, 1 / step, wsum / x->M / 1e6, gbs, 100 * gbs / o->dram);
  printf("  with the KV cache reads (%.1f MB/step): %.2f GB/s\n", kvsum / x->M / 1e6, kgbs);
  kv("decode.steps", "%d", x->M);
  kv("decode.ms", "%.6g", step * 1e3);
  kv("decode.mean_ms", "%.6g", tsum / x->M * 1e3);
  kv("decode.tokens_per_s", "%.6g", 1 / step);
  kv("decode.weight_mb", "%.6g", wsum / x->M / 1e6);
  kv("decode.gbs", "%.6g", gbs);
  kv("decode.dram_pct", "%.6g", 100 * gbs / o->dram);
  kv("decode.kv_mb", "%.6g", kvsum / x->M / 1e6);
  kv("decode.gbs_with_kv", "%.6g", kgbs);
  if (dm->n_routed) {
    printf("  routed take rate %.3f (%d routed layers:", taken / ((double)x->M * dm->n_routed), dm->n_routed);
    for (int l = 0; l < dm->L; l++)
      if (dm->routed[l]) printf(" %d:%.2f", l, (double)taken_rows(dm, x, l, x->n, x->n + x->M) / x->M);
    printf(")\n");
    kv("decode.take_rate", "%.6g", taken / ((double)x->M * dm->n_routed));
    report_split(dm, x, blocks, med);
  }
  free(med);
  free(col);
  free(blocks);
}

static int dump_session(const char *prefix, const Dims *dm, const SessRuns *x) {
  char path[1200];
  int N = x->n + x->M;
  if (write_tokens(prefix, "session.tokens", x->tok, N)) return 1;
  snprintf(path, sizeof path, "%s.session.routing", prefix);
  FILE *f = fopen(path, "w");
  if (!f) return bfail("cannot write '%s': %s", path, strerror(errno));
  fprintf(f, "# prefill %d, decode %d; per routed layer: 1 = the token took the block\n", x->n, x->M);
  for (int l = 0; l < dm->L; l++) {
    if (!dm->routed[l]) continue;
    fprintf(f, "%d ", l);
    for (int t = 0; t < N; t++) fputc('0' + x->taken[(size_t)l * N + t], f);
    fputc('\n', f);
  }
  if (fclose(f)) return bfail("writing '%s' failed", path);
  return write_raw(prefix, "prefill.logits", x->pre_logits, dm->V * sizeof(float)) ||
         write_raw(prefix, "decode.logits", x->dec_logits, dm->V * sizeof(float));
}

static int bench_session(const Lib *l, modc_model *m, const Opts *o, const Dims *dm) {
  SessRuns x = {.R = o->repeats};
  x.n = o->prefill ? o->prefill : dm->max_seq / 2 < 128 ? dm->max_seq / 2 : 128;
  if (x.n < 1) x.n = 1;
  x.M = o->decode ? o->decode : dm->max_seq - x.n < 32 ? dm->max_seq - x.n : 32;
  if (x.n + x.M > dm->max_seq || x.M < 1)
    return bfail("--prefill %d + --decode %d tokens do not fit max_seq_len %d", x.n, x.M, dm->max_seq);
  int N = x.n + x.M;
  x.tok = malloc(N * sizeof *x.tok);
  x.pre = malloc(x.R * sizeof *x.pre);
  x.step = malloc((size_t)x.R * x.M * sizeof *x.step);
  x.taken = calloc((size_t)dm->L * N, 1);
  x.pre_logits = malloc(dm->V * sizeof(float));
  x.dec_logits = malloc(dm->V * sizeof(float));
  make_tokens(x.tok, N, dm->V, o->seed + 1);
  int rc = session_runs(l, m, o, dm, &x);
  if (!rc) {
    printf("prefill (modc_prefill, causal routing; median of %d after %d warm-up):\n", o->repeats, o->warmup);
    report_prefill(o, dm, &x);
    printf("decode (modc_decode after the %d-token prefill; each step's median over %d runs):\n", x.n, o->repeats);
    report_decode(o, dm, &x);
  }
  if (!rc && o->dump) rc = dump_session(o->dump, dm, &x);
  free(x.tok), free(x.pre), free(x.step), free(x.taken), free(x.pre_logits), free(x.dec_logits);
  return rc;
}

/* ------------------------------------------------------------------ main */

/* 1-minute load average, or -1: other work on the cores makes every timing noisier */
static double load_average(void) {
  double a = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f && fscanf(f, "%lf", &a) != 1) a = -1;
  if (f) fclose(f);
  return a;
}

/* modc_open copies the weights (MODC_WEIGHTS_LOAD=copy, which --weights-load sets) */
static int weights_copied(void) {
  const char *v = getenv("MODC_WEIGHTS_LOAD");
  return v && !strcmp(v, "copy");
}

static void print_model(const Lib *l, modc_model *m, const Opts *o, const Dims *dm) {
  const modc_info *in = l->info(m);
  double wbytes = total_bytes(dm);
  int copied = weights_copied();
  printf("modc bench: %s (%s), %s, %d threads, weights %s%s\n", in->name, o->lib, in->target_cpu, o->threads,
         dm->wb == 2 ? "bf16" : dm->wb == 4 ? "f32" : "?", copied ? " copied into memory" : "");
  printf("model: vocab %d, d_model %d, %d layers, %d heads (%d kv), d_ff %d, %.1f MB of weights; routed layers:",
         dm->V, dm->d, dm->L, dm->H, dm->KVH, dm->dff, wbytes / 1e6);
  for (int i = 0; i < dm->L; i++)
    if (dm->routed[i]) printf(" %d (%g)", i, dm->cap[i]);
  printf("%s\n", dm->n_routed ? "" : " none");
  print_machine(o);
  printf("modc_open %.1f ms (weights %s)\n", o->open_s * 1e3, copied ? "copied" : "mapped");
  printf("load average %.2f\n", load_average());
  kv("model", "%s", in->name);
  kv("threads", "%d", o->threads);
  kv("weight_bytes", "%d", dm->wb);
  kv("open_ms", "%.6g", o->open_s * 1e3);
  kv("weights_load", "%s", copied ? "copy" : "map");
  kv("routed_layers", "%d", dm->n_routed);
  kv("weights_mb", "%.6g", wbytes / 1e6);
  kv("peak_gflops", "%.6g", o->peak);
  kv("dram_gbs", "%.6g", o->dram);
  kv("peak_source", "%s", o->peak_src);
  kv("dram_source", "%s", o->dram_src);
  if (o->cal.isa[0]) kv("calibration_isa", "%s", o->cal.isa);
  if (o->cal.cached) kv("calibration_file", "%s", o->cal.file);
  kv("load_average", "%.2f", load_average());
}

/* ------------------------------------------------------------------ A/B (--vs) */

/* Two libraries of one model, each with its model open and a session: side A and side B. */
typedef struct Side {
  const Lib *l;
  modc_model *m;
  modc_session *s;
} Side;

typedef enum { AB_FORWARD, AB_PREFILL, AB_DECODE, AB_KINDS } AbKind;

/* One block of a side: a warm-up call, then the timed one (seconds): a forward or a prefill. */
static int ab_block(const Side *x, AbKind k, const int32_t *tok, int B, int T, SessRuns *sr, float *logits,
                    double *out) {
  for (int rep = 0; rep < 2; rep++) {
    double t0 = timing_now();
    int rc = k == AB_FORWARD ? (x->l->forward(x->m, B, T, tok, logits) ? bfail("modc_forward: %s", x->l->last_error()) : 0)
                             : (x->l->reset(x->s) || x->l->prefill(x->s, sr->tok, sr->n, sr->pre_logits))
                                   ? bfail("modc_prefill: %s", x->l->last_error()) : 0;
    if (rc) return rc;
    *out = timing_now() - t0;
  }
  return 0;
}

/* Decode: both sessions prefilled, then their steps alternate one by one (A B, then B A, ...)
 * with a pause before each, so that every pair of steps sees the same moment of the machine;
 * out[side] = the median step of each side. */
static int ab_decode(const Side *sd, SessRuns *sr, int r, double out[2]) {
  double *t[2] = {sr->step, sr->step + sr->M};
  for (int side = 0; side < 2; side++)
    if (sd[side].l->reset(sd[side].s) || sd[side].l->prefill(sd[side].s, sr->tok, sr->n, sr->pre_logits))
      return bfail("modc_prefill: %s", sd[side].l->last_error());
  for (int i = 0; i < sr->M; i++)
    for (int j = 0; j < 2; j++) {
      int side = ((r + i) & 1) ^ j;
      usleep(3000);
      double t0 = timing_now();
      if (sd[side].l->decode(sd[side].s, sr->tok[sr->n + i], sr->dec_logits))
        return bfail("modc_decode: %s", sd[side].l->last_error());
      t[side][i] = timing_now() - t0;
    }
  for (int side = 0; side < 2; side++) out[side] = median(t[side], sr->M);
  return 0;
}

static void ab_report(const Opts *o, AbKind k, const char *what, const double *ta, const double *tb, int R) {
  static const char *const key[AB_KINDS] = {"forward", "prefill", "decode"};
  double q[256], a = median(ta, R), b = median(tb, R), lo = 1e30, hi = 0;
  int slower = 0;
  for (int r = 0; r < R; r++) {
    q[r] = tb[r] / ta[r];
    lo = q[r] < lo ? q[r] : lo, hi = q[r] > hi ? q[r] : hi;
    slower += q[r] > 1;
  }
  double mq = median(q, R);
  printf("  %-16s A %10.4f ms  B %10.4f ms  B/A %.3f [%.3f - %.3f]\n", what, a * 1e3, b * 1e3, mq, lo, hi);
  char kk[64];
  snprintf(kk, sizeof kk, "ab.%s.a_ms", key[k]), kv(kk, "%.6g", a * 1e3);
  snprintf(kk, sizeof kk, "ab.%s.b_ms", key[k]), kv(kk, "%.6g", b * 1e3);
  snprintf(kk, sizeof kk, "ab.%s.ratio", key[k]), kv(kk, "%.6g", mq);
  snprintf(kk, sizeof kk, "ab.%s.ratio_min", key[k]), kv(kk, "%.6g", lo);
  snprintf(kk, sizeof kk, "ab.%s.ratio_max", key[k]), kv(kk, "%.6g", hi);
  snprintf(kk, sizeof kk, "ab.%s.rounds", key[k]), kv(kk, "%d", R);
  snprintf(kk, sizeof kk, "ab.%s.rounds_b_slower", key[k]), kv(kk, "%d", slower);
  (void)o;
}

/* Rounds alternate AB and BA; before each block a pause longer than the pool's spin, so
 * that the other side's workers sleep while this side runs. */
static int bench_ab(Side *sd, const Opts *o, const Dims *dm) {
  const modc_info *in = sd[0].l->info(sd[0].m);
  int B = in->shapes[0][0], T = in->shapes[0][1], R = o->repeats > 256 ? 256 : o->repeats, rc = 0;
  SessRuns sr = {.R = 1};
  sr.n = o->prefill ? o->prefill : dm->max_seq / 2 < 128 ? dm->max_seq / 2 : 128;
  sr.M = o->decode ? o->decode : dm->max_seq - sr.n < 32 ? dm->max_seq - sr.n : 32;
  if (sr.n < 1 || sr.M < 1 || sr.n + sr.M > dm->max_seq)
    return bfail("--prefill %d + --decode %d tokens do not fit max_seq_len %d", sr.n, sr.M, dm->max_seq);
  int32_t *tok = malloc((size_t)B * T * sizeof *tok);
  float *logits = malloc((size_t)B * T * dm->V * sizeof *logits);
  double *t = calloc((size_t)AB_KINDS * 2 * R, sizeof *t);   /* [kind][side][round] */
  sr.tok = malloc((sr.n + sr.M) * sizeof *sr.tok);
  sr.step = malloc(2 * sr.M * sizeof *sr.step);
  sr.pre_logits = malloc(dm->V * sizeof(float));
  sr.dec_logits = malloc(dm->V * sizeof(float));
  make_tokens(tok, B * T, dm->V, o->seed);
  make_tokens(sr.tok, sr.n + sr.M, dm->V, o->seed + 1);
  for (int k = 0; k < AB_KINDS && !rc; k++) {
    if ((k == AB_FORWARD && !o->forward) || (k != AB_FORWARD && !o->session)) continue;
    for (int r = 0; r < R && !rc; r++) {
      progress("A/B rounds", k * R + r, AB_KINDS * R);
      if (k == AB_DECODE) {
        double d[2] = {0, 0};
        rc = ab_decode(sd, &sr, r, d);
        t[(size_t)k * 2 * R + r] = d[0], t[((size_t)k * 2 + 1) * R + r] = d[1];
        continue;
      }
      for (int j = 0; j < 2 && !rc; j++) {
        int side = (r & 1) ^ j;
        usleep(5000);
        rc = ab_block(&sd[side], (AbKind)k, tok, B, T, &sr, logits, &t[((size_t)k * 2 + side) * R + r]);
      }
    }
  }
  progress("A/B rounds", 1, 1);
  if (!rc) {
    char what[64];
    printf("A/B (A = %s, B = %s; %d rounds alternating AB, BA, call by call in one process):\n", o->lib, o->vs, R);
    snprintf(what, sizeof what, "forward %dx%d", B, T);
    if (o->forward) ab_report(o, AB_FORWARD, what, &t[0], &t[R], R);
    snprintf(what, sizeof what, "prefill %d", sr.n);
    if (o->session) ab_report(o, AB_PREFILL, what, &t[2 * R], &t[3 * R], R);
    snprintf(what, sizeof what, "decode step (%d)", sr.M);   /* each round: the median of its steps */
    if (o->session) ab_report(o, AB_DECODE, what, &t[4 * R], &t[5 * R], R);
  }
  free(tok), free(logits), free(t), free(sr.tok), free(sr.step), free(sr.pre_logits), free(sr.dec_logits);
  return rc;
}

/* The weights file A reads: --weights, else NAME.CPU.weights (a multi-CPU library's set) or
 * NAME.weights beside A, the first that exists; 0 if found. */
static int weights_of_a(const modc_info *a, const Opts *o, char *buf, size_t n) {
  if (o->weights) return snprintf(buf, n, "%s", o->weights) >= (int)n;
  const char *slash = strrchr(o->lib, '/'), *dir = slash ? o->lib : ".";
  int dl = slash ? (int)(slash - o->lib) : 1;
  snprintf(buf, n, "%.*s/%s.%s.weights", dl, dir, a->name, a->target_cpu);
  if (!access(buf, R_OK)) return 0;
  snprintf(buf, n, "%.*s/%s.weights", dl, dir, a->name);
  return access(buf, R_OK) != 0;
}

/* --vs: both libraries open, the same model (vocabulary, layers, shapes), then bench_ab.  B
 * reads A's weights file where B accepts it (modc_open checks its hash: the same packing), so
 * both read the same pages: on a VM, two copies of one file were measured to time a forward
 * 1.4-1.5x apart (where the host backs their pages decides), more than most A/B effects.  With
 * MODC_WEIGHTS_LOAD=copy each library still copies into its own memory: the same A/B of two
 * dense12 builds on the 2-core VM gave decode B/A 1.127, then 0.965, copied; 1.027 and (the
 * order swapped) 1/0.984 mapped.  The report says so. */
static int bench_vs(const Lib *la, modc_model *ma, const Opts *o) {
  Lib lb;
  modc_model *mb = NULL;
  Dims dm;
  char wa[4096];
  if (load_lib(o->vs, &lb)) return 1;
  int shared = !weights_of_a(la->info(ma), o, wa, sizeof wa) && !lb.open(wa, o->threads, &mb);
  if (!shared && lb.open(NULL, o->threads, &mb)) return bfail("modc_open(%s): %s", o->vs, lb.last_error());
  const modc_info *a = la->info(ma), *b = lb.info(mb);
  int rc = 0;
  if (a->vocab_size != b->vocab_size || a->n_layers != b->n_layers || a->d_model != b->d_model ||
      a->max_seq_len != b->max_seq_len || a->shapes[0][0] != b->shapes[0][0] || a->shapes[0][1] != b->shapes[0][1])
    rc = bfail("--vs: %s and %s are not the same model (vocabulary, layers, width, sequence or first shape differ)",
               o->lib, o->vs);
  if (!rc) rc = model_dims(la, ma, o, &dm);
  Side sd[2] = {{la, ma, NULL}, {&lb, mb, NULL}};
  for (int i = 0; i < 2 && !rc; i++)
    if (sd[i].l->session_open(sd[i].m, &sd[i].s)) rc = bfail("modc_session_open: %s", sd[i].l->last_error());
  if (!rc) {
    print_model(la, ma, o, &dm);
    printf("B: %s, %s\n", o->vs, b->target_cpu);
    if (shared)
      printf("B reads A's weights file %s (the same bytes: %s)\n", wa,
             weights_copied() ? "each library copies them into its own memory, whose placement may bias the ratios: "
                                "--weights-load map shares one set of pages"
                              : "both libraries read the same pages");
    else printf("B reads its own weights file (A's is not found or packed otherwise): page placement may bias the ratios\n");
    kv("ab.shared_weights", "%d", shared);
    rc = bench_ab(sd, o, &dm);
  }
  for (int i = 0; i < 2; i++)
    if (sd[i].s) sd[i].l->session_close(sd[i].s);
  lb.close(mb);
  return rc;
}

static int bench_forward(const Lib *l, modc_model *m, const Opts *o, const Dims *dm) {
  const modc_info *in = l->info(m);
  printf("forward (modc_forward, top-k routing; median of %d after %d warm-up):\n", o->repeats, o->warmup);
  for (int i = 0; i < in->n_shapes; i++)
    if (bench_shape(l, m, o, dm, in->shapes[i][0], in->shapes[i][1], i == 0)) return 1;
  return 0;
}

static int bench_model(const Lib *l, modc_model *m, const Opts *o) {
  Dims dm;
  if (model_dims(l, m, o, &dm)) return 1;
  print_model(l, m, o, &dm);
  double load = load_average();
  if (load > 0.5 * sysconf(_SC_NPROCESSORS_ONLN))
    fprintf(stderr, "modc: warning: bench: load average %.2f on %ld CPUs: other work shares the cores, "
            "timings will be inflated (decode most: every step waits on its threads)\n", load,
            sysconf(_SC_NPROCESSORS_ONLN));
  if (o->forward && bench_forward(l, m, o, &dm)) return 1;
  if (o->session && bench_session(l, m, o, &dm)) return 1;
  return 0;
}

int bench_main(int argc, char **argv) {
  Opts o;
  Lib l;
  if (parse_bench(argc, argv, &o) || load_lib(o.lib, &l)) return 1;
  machine_figures(&o);
  setvbuf(stdout, NULL, _IOLBF, 0);   /* each result line as it comes, also through a pipe */
  show_progress = !o.quiet;
  if (o.kv && !(kvf = fopen(o.kv, "w"))) return bfail("cannot write '%s': %s", o.kv, strerror(errno));
  modc_model *m;
  int rc = 1;
  char prof[4096] = "";
  if (o.profile && prof_begin(prof, sizeof prof)) return 1;
  double t0 = timing_now();
  if (l.open(o.weights, o.threads, &m)) bfail("modc_open: %s", l.last_error());
  else {
    o.open_s = timing_now() - t0;
    rc = o.vs ? bench_vs(&l, m, &o) : bench_model(&l, m, &o);
    l.close(m);
  }
  if (o.profile && !rc) rc = prof_report(prof, o.lib, o.threads, kvf);
  else if (o.profile) unlink(prof);
  if (kvf && fclose(kvf) && !rc) rc = bfail("writing '%s' failed", o.kv);
  kvf = NULL;
  return rc;
}
