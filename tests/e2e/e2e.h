/* e2e.h: what the end-to-end tests share (test_e2e.c, e2e_eval.c): one random spec compiled
 * and loaded (a Case), the reference's weights blob, and the CHECK that counts a failure and
 * returns -1. */
#ifndef MODC_E2E_H
#define MODC_E2E_H

#include <stdint.h>
#include <stdio.h>
#include "frontend/graph.h"
#include "frontend/spec.h"
#include "passes/passes.h"
#include "runtime/modc.h"

#define TOL 1e-4
#define MARGIN 1e-3
#define TRIES 8

typedef struct Lib {
  void *h;
  int (*open)(const char *, int, modc_model **);
  void (*close)(modc_model *);
  const char *(*last_error)(void);
  int (*forward)(modc_model *, int, int, const int32_t *, float *);
  int (*session_open)(modc_model *, modc_session **);
  int (*prefill)(modc_session *, const int32_t *, int, float *);
  int (*decode)(modc_session *, int32_t, float *);
  void (*session_close)(modc_session *);
  int (*routing)(const modc_session *, int, uint8_t *, int);
} Lib;

typedef struct Case {
  Spec spec;
  WLayout layout;
  const uint8_t *blob;
  Lib lib;
  modc_model *m;
  uint64_t rng;
  int skipped, compared;
} Case;

extern int failures;

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
  fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); failures++; return -1; } } while (0)

/* infer shapes or exit(2) */
Graph *e2e_typed(Graph *g);
/* n token ids uniform in [0, vocab) from the case's generator */
void e2e_draw_tokens(Case *c, int32_t *t, int n);
/* modc eval on the case's library, in both modes, against the interpreter's NLL (e2e_eval.c) */
int check_eval(Case *c, const char *modc, const char *lib, const char *dir);

#endif
