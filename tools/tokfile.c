/* tokfile.c: reading token files (--tokens ids, --bytes raw bytes), see tokfile.h. */
#include "tools/tokfile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools/cli.h"

#define TOK_MAX (1 << 30) /* tokens in one file: far beyond any window, and n stays an int */

typedef struct TokBuf {
  int32_t *v;
  int n, cap;
} TokBuf;

static int push(TokBuf *b, int32_t t) {
  if (b->n == TOK_MAX) return -1;
  if (b->n == b->cap) {
    int cap = b->cap ? b->cap * 2 : 4096;
    int32_t *v = realloc(b->v, (size_t)cap * sizeof *v);
    if (!v) return -1;
    b->v = v, b->cap = cap;
  }
  b->v[b->n++] = t;
  return 0;
}

static int fail_free(TokBuf *b, FILE *f) {
  free(b->v);
  b->v = NULL;
  if (f) fclose(f);
  return 1;
}

static int read_bytes(const char *path, FILE *f, TokBuf *b) {
  int c;
  while ((c = getc(f)) != EOF)
    if (push(b, (int32_t)c)) return cli_fail("%s: more than %d tokens, or out of memory", path, TOK_MAX);
  return ferror(f) ? cli_fail("cannot read '%s': %s", path, strerror(errno)) : 0;
}

/* one id: digits only (no sign, no base prefix), below vocab (or INT32_MAX) */
static int read_id(const char *path, FILE *f, int line, int first, int vocab, int32_t *out) {
  char word[32];
  int len = 0, c = first;
  while (c != EOF && !isspace(c)) {
    if (len < (int)sizeof word - 1) word[len++] = (char)c;
    c = getc(f);
  }
  word[len] = 0;
  if (c != EOF) ungetc(c, f);
  long long v = 0;
  for (int i = 0; i < len; i++) {
    if (!isdigit((unsigned char)word[i]))
      return cli_fail("%s:%d: expected a token id (digits), got '%s'", path, line, word);
    v = v * 10 + (word[i] - '0');
    if (v > INT32_MAX) break;
  }
  long long hi = vocab > 0 ? vocab : (long long)INT32_MAX + 1;
  if (v >= hi)
    return cli_fail("%s:%d: token id %s is out of range (vocab_size %lld)", path, line, word, hi);
  *out = (int32_t)v;
  return 0;
}

static int read_ids(const char *path, FILE *f, int vocab, TokBuf *b) {
  int line = 1, c;
  while ((c = getc(f)) != EOF) {
    if (c == '\n') line++;
    if (isspace(c)) continue;
    int32_t t = 0;
    if (read_id(path, f, line, c, vocab, &t)) return 1;
    if (push(b, t)) return cli_fail("%s: more than %d tokens, or out of memory", path, TOK_MAX);
  }
  return ferror(f) ? cli_fail("cannot read '%s': %s", path, strerror(errno)) : 0;
}

int tok_read(const char *path, int bytes, int vocab, int32_t **out, int *n) {
  TokBuf b = {0};
  *out = NULL, *n = 0;
  if (bytes && vocab > 0 && vocab < 256)
    return cli_fail("--bytes needs a model with vocab_size >= 256 (byte tokens); this one has %d", vocab);
  FILE *f = fopen(path, bytes ? "rb" : "r");
  if (!f) return cli_fail("cannot read '%s': %s", path, strerror(errno));
  if (bytes ? read_bytes(path, f, &b) : read_ids(path, f, vocab, &b)) return fail_free(&b, f);
  fclose(f);
  *out = b.v, *n = b.n;
  return 0;
}
