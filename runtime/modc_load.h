/* modc_load.h: a compiled library seen through dlopen/dlsym, as any user of the ABI
 * (DESIGN section 6) sees it.  Header-only, one table of the ABI's functions, shared by the
 * CLI (modc run, modc bench) and the tests, so that every client resolves the same symbols.
 */
#ifndef MODC_LOAD_H
#define MODC_LOAD_H

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include "modc.h"

typedef struct ModcLib {
  void *h;
  int (*open)(const char *, int, modc_model **);
  void (*close)(modc_model *);
  const modc_info *(*info)(const modc_model *);
  const char *(*last_error)(void);
  int (*forward)(modc_model *, int, int, const int32_t *, float *);
  int (*session_open)(modc_model *, modc_session **);
  int (*prefill)(modc_session *, const int32_t *, int, float *);
  int (*decode)(modc_session *, int32_t, float *);
  int (*reset)(modc_session *);
  void (*session_close)(modc_session *);
  int (*routing)(const modc_session *, int, uint8_t *, int);
} ModcLib;

/* dlopen lib (a bare file name is taken from the current folder, not the search path) and
 * resolve every ABI symbol: 0, or -1 with the reason in err. */
static inline int modc_load(const char *lib, ModcLib *l, char *err, size_t n) {
  char path[4096];
  memset(l, 0, sizeof *l);
  snprintf(path, sizeof path, "%s%s", strchr(lib, '/') ? "" : "./", lib);
  if (!(l->h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
    return snprintf(err, n, "cannot load '%s': %s", lib, dlerror()), -1;
  struct { void **slot; const char *name; } syms[] = {
    {(void **)&l->open, "modc_open"}, {(void **)&l->close, "modc_close"},
    {(void **)&l->info, "modc_get_info"}, {(void **)&l->last_error, "modc_last_error"},
    {(void **)&l->forward, "modc_forward"}, {(void **)&l->session_open, "modc_session_open"},
    {(void **)&l->prefill, "modc_prefill"}, {(void **)&l->decode, "modc_decode"},
    {(void **)&l->reset, "modc_session_reset"},
    {(void **)&l->session_close, "modc_session_close"}, {(void **)&l->routing, "modc_routing"},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
    if (!(*syms[i].slot = dlsym(l->h, syms[i].name)))
      return snprintf(err, n, "'%s' is not a modc library (no %s)", lib, syms[i].name), -1;
  return 0;
}

#endif
