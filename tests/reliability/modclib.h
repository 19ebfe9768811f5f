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
#include "runtime/modc_load.h"

/* dlopen path and resolve every ABI symbol (runtime/modc_load.h); 0, or -1 with a message
 * on stderr. */
static inline int modclib_load(const char *path, ModcLib *l) {
  char err[4200];
  if (modc_load(path, l, err, sizeof err)) return fprintf(stderr, "%s\n", err), -1;
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
