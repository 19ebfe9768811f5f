/* modc-randweights: deterministic random weights for a spec, as a safetensors file.
 *
 *   modc-randweights SPEC [-o OUT.safetensors] [--dtype f32|bf16|f16] [--seed N] [-D k=v ...]
 *
 * The weights are st_write_random's (frontend/safetensors_random.c says how they are
 * drawn): the same seed gives the same bytes on every machine, and a MoD model and its dense
 * twin (routing: none) share every block.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/safetensors.h"
#include "frontend/spec.h"

#define MAX_DEFS 64

static const char *usage =
    "usage: modc-randweights SPEC [-o OUT.safetensors] [--dtype f32|bf16|f16] [--seed N]\n"
    "                        [-D key.path=value ...]\n"
    "Writes deterministic random weights for SPEC (default: the spec's weights path).\n";

typedef struct Opts {
  const char *spec, *out;
  DType dtype;
  unsigned long long seed;
  const char *defs[MAX_DEFS];
  int ndefs;
} Opts;

/* one option with its value v (NULL if none follows); returns 0, or an exit status */
static int option(Opts *o, const char *a, const char *v) {
  char *end;
  if (!v) return fprintf(stderr, "modc-randweights: %s needs a value\n", a), 2;
  if (!strcmp(a, "-o")) {
    o->out = v;
  } else if (!strcmp(a, "--dtype")) {
    if (dtype_parse(v, &o->dtype) || o->dtype == DT_I32)
      return fprintf(stderr, "modc-randweights: --dtype must be f32, bf16 or f16\n"), 2;
  } else if (!strcmp(a, "--seed")) {
    o->seed = strtoull(v, &end, 0);
    if (*end || !*v) return fprintf(stderr, "modc-randweights: --seed needs an integer\n"), 2;
  } else if (o->ndefs == MAX_DEFS) {
    return fprintf(stderr, "modc-randweights: too many -D options\n"), 2;
  } else {
    o->defs[o->ndefs++] = v;
  }
  return 0;
}

/* returns 0 to go on, 1 after --help, or 2 for a usage error */
static int parse_args(int argc, char **argv, Opts *o) {
  o->dtype = DT_F32;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(usage, stdout), 1;
    if (!strcmp(a, "-o") || !strcmp(a, "--dtype") || !strcmp(a, "--seed") || !strcmp(a, "-D"))
      rc = option(o, a, next), i++;
    else if (!strncmp(a, "-D", 2)) rc = option(o, "-D", a + 2);
    else if (a[0] == '-')
      rc = (fprintf(stderr, "modc-randweights: unknown option '%s'\n%s", a, usage), 2);
    else if (!o->spec) o->spec = a;
    else rc = (fprintf(stderr, "modc-randweights: more than one spec given\n"), 2);
    if (rc) return rc;
  }
  if (!o->spec) return fputs(usage, stderr), 2;
  return 0;
}

int main(int argc, char **argv) {
  Opts o = {0};
  Spec s;
  char err[2048];
  int rc = parse_args(argc, argv, &o), n = 0;
  int64_t params = 0;
  if (rc) return rc == 1 ? 0 : rc;
  if (spec_load(o.spec, o.defs, o.ndefs, &s, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  const char *out = o.out ? o.out : s.weights_path;
  if (st_write_random(&s, out, o.dtype, o.seed, &n, &params, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  printf("wrote %d tensors (%lld parameters, %s) to %s\n", n, (long long)params, dtype_name(o.dtype), out);
  return 0;
}
