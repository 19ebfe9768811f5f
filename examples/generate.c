/* generate.c: text generation with any library modc emits, through the ABI alone.
 *
 *   generate LIB [--weights FILE] [--prompt TEXT | --tokens 1,2,3] [--max-new N]
 *                [--temperature T] [--seed S] [--threads N]
 *
 * The library is dlopened and its modc_* functions looked up by name, so one binary serves
 * every model (no generated header needed).  With a 256-token vocabulary the prompt's bytes
 * are the tokens and the output is printed as bytes; otherwise give --tokens and token ids
 * are printed.  Sampling is greedy at temperature 0, else softmax(logits / T) drawn with a
 * seeded xorshift generator, so a run is reproducible.
 */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "modc.h"

typedef struct {
  int (*open)(const char *, int, modc_model **);
  void (*close)(modc_model *);
  const modc_info *(*info)(const modc_model *);
  const char *(*last_error)(void);
  int (*session_open)(modc_model *, modc_session **);
  int (*prefill)(modc_session *, const int32_t *, int, float *);
  int (*decode)(modc_session *, int32_t, float *);
  void (*session_close)(modc_session *);
} Modc;

typedef struct {
  const char *lib, *weights, *prompt, *tokens;
  int max_new, threads;
  float temperature;
  uint64_t seed;
} Options;

/* Look a symbol up into a function pointer (the POSIX dlsym idiom); report a missing one. */
static int bind(void *lib, const char *path, const char *name, void *slot) {
  *(void **)slot = dlsym(lib, name);
  if (*(void **)slot) return 0;
  fprintf(stderr, "generate: %s is not a modc library (no %s)\n", path, name);
  return -1;
}

static int load(const char *path, Modc *f) {
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) { fprintf(stderr, "generate: %s\n", dlerror()); return -1; }
  if (bind(lib, path, "modc_open", &f->open) || bind(lib, path, "modc_close", &f->close) ||
      bind(lib, path, "modc_get_info", &f->info) ||
      bind(lib, path, "modc_last_error", &f->last_error) ||
      bind(lib, path, "modc_session_open", &f->session_open) ||
      bind(lib, path, "modc_prefill", &f->prefill) ||
      bind(lib, path, "modc_decode", &f->decode) ||
      bind(lib, path, "modc_session_close", &f->session_close))
    return -1;
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: generate LIB [--weights FILE] [--prompt TEXT | --tokens 1,2,3] "
          "[--max-new N] [--temperature T] [--seed S] [--threads N]\n");
  exit(2);
}

static Options parse_args(int argc, char **argv) {
  Options o = {.prompt = "Once upon a time", .max_new = 64, .seed = 1};
  if (argc < 2 || argv[1][0] == '-') usage();
  o.lib = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (!strcmp(a, "--weights")) o.weights = v;
    else if (!strcmp(a, "--prompt")) o.prompt = v;
    else if (!strcmp(a, "--tokens")) o.tokens = v;
    else if (!strcmp(a, "--max-new")) o.max_new = atoi(v);
    else if (!strcmp(a, "--temperature")) o.temperature = strtof(v, NULL);
    else if (!strcmp(a, "--seed")) o.seed = strtoull(v, NULL, 0);
    else if (!strcmp(a, "--threads")) o.threads = atoi(v);
    else usage();
    i++;
  }
  return o;
}

/* The prompt as tokens: --tokens ids, or the prompt's bytes for a byte-level vocabulary. */
static int prompt_tokens(const Options *o, int vocab, int32_t *out, int cap) {
  int n = 0;
  if (o->tokens) {
    char *end;
    for (const char *p = o->tokens; *p && n < cap; p = *end ? end + 1 : end) {
      out[n++] = (int32_t)strtol(p, &end, 10);
      if (end == p || (*end && *end != ',')) {
        fprintf(stderr, "generate: --tokens wants comma-separated ids, got '%s'\n", o->tokens);
        return -1;
      }
    }
    return n;
  }
  if (vocab != 256) {
    fprintf(stderr, "generate: vocabulary is %d, not bytes; give --tokens\n", vocab);
    return -1;
  }
  for (const char *p = o->prompt; *p && n < cap; p++) out[n++] = (uint8_t)*p;
  return n;
}

static uint64_t xorshift(uint64_t *s) {
  *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
  return *s * 0x2545F4914F6CDD1DULL;
}

static int32_t argmax(const float *l, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; i++) if (l[i] > l[best]) best = i;
  return best;
}

/* Draw from softmax(l / t); l is overwritten with the unnormalised probabilities. */
static int32_t sample(float *l, int n, float t, uint64_t *rng) {
  if (t <= 0) return argmax(l, n);
  float mx = l[argmax(l, n)];
  double sum = 0;
  for (int i = 0; i < n; i++) sum += l[i] = expf((l[i] - mx) / t);
  double u = (xorshift(rng) >> 11) * (1.0 / 9007199254740992.0) * sum, c = 0;
  for (int i = 0; i < n; i++) if ((c += l[i]) > u) return i;
  return n - 1;
}

static void emit(int32_t tok, int vocab) {
  if (vocab == 256) putchar(tok);
  else printf("%d ", tok);
  fflush(stdout);
}

/* Prefill the prompt, then sample and decode until max_new tokens or the session is full. */
static int generate(const Modc *f, modc_session *s, const modc_info *info, const Options *o,
                    const int32_t *prompt, int n, float *logits) {
  uint64_t rng = o->seed ? o->seed : 0x9E3779B97F4A7C15ULL;
  if (f->prefill(s, prompt, n, logits)) return -1;
  for (int i = 0; i < n; i++) emit(prompt[i], info->vocab_size);
  for (int i = 0, len = n; i < o->max_new; i++, len++) {
    int32_t tok = sample(logits, info->vocab_size, o->temperature, &rng);
    emit(tok, info->vocab_size);
    if (i + 1 == o->max_new || len == info->max_seq_len) break;
    if (f->decode(s, tok, logits)) return -1;
  }
  putchar('\n');
  return 0;
}

int main(int argc, char **argv) {
  Options o = parse_args(argc, argv);
  Modc f;
  modc_model *m = NULL;
  modc_session *s = NULL;
  if (load(o.lib, &f)) return 1;
  if (f.open(o.weights, o.threads, &m) || f.session_open(m, &s)) {
    fprintf(stderr, "generate: %s\n", f.last_error());
    return 1;
  }
  const modc_info *info = f.info(m);
  int32_t *prompt = malloc(sizeof *prompt * info->max_seq_len);
  float *logits = malloc(sizeof *logits * info->vocab_size);
  int n = prompt_tokens(&o, info->vocab_size, prompt, info->max_seq_len);
  int rc = n < 0 ? 1 : generate(&f, s, info, &o, prompt, n, logits) ? 1 : 0;
  if (n >= 0 && rc) fprintf(stderr, "generate: %s\n", f.last_error());
  free(prompt);
  free(logits);
  f.session_close(s);
  f.close(m);
  return rc;
}
