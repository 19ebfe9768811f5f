/* modclib.h: the reliability tests' view of a compiled library, through dlopen/dlsym (as any
 * user of the ABI sees it), plus the few helpers they share.  Header-only: each test is one
 * .c file that includes it.
 */
#ifndef MODC_TEST_MODCLIB_H
#define MODC_TEST_MODCLIB_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "runtime/modc.h"

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

/* dlopen path and resolve every ABI symbol; 0, or -1 with a message on stderr. */
static inline int modclib_load(const char *path, ModcLib *l) {
  memset(l, 0, sizeof *l);
  l->h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!l->h) return fprintf(stderr, "dlopen %s: %s\n", path, dlerror()), -1;
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
      return fprintf(stderr, "%s: no symbol %s\n", path, syms[i].name), -1;
  return 0;
}

/* xorshift64: the tests' only source of "random" tokens, so every run sees the same ones. */
static inline uint64_t modclib_rng(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* n tokens in [0, vocab) from seed. */
static inline void modclib_tokens(int32_t *t, int n, int vocab, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull | 1;
  for (int i = 0; i < n; i++) t[i] = (int32_t)(modclib_rng(&s) % (uint64_t)vocab);
}

/* Index of the first float whose bits differ, or -1: memcmp's answer, made reportable. */
static inline long modclib_first_diff(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(a + i, b + i, sizeof *a)) return (long)i;
  return -1;
}

#endif
