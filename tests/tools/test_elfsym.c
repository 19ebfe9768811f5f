/* test_elfsym.c: tools/elfsym.c, the symbol reader of modc bench --profile.
 *
 *   - this test's own executable (a PIE with a .symtab): a function's offset from the load
 *     address (dladdr) names that function, an address inside it too, address 0 nothing;
 *   - the file cut at many lengths, and with bytes of its ELF and section headers overwritten:
 *     each load is an error with a message or a table, never a crash or an out-of-bounds read
 *     (the sanitizer build runs this too); a missing file and a text file are errors.
 *
 * usage: test_elfsym WORK_DIR
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tools/elfsym.h"

static int fails;
#define CHECK(c, ...) do { if (c) printf("ok   " __VA_ARGS__); else { printf("FAIL " __VA_ARGS__); fails++; } printf("\n"); } while (0)

__attribute__((noinline)) int elfsym_marker_function(int x) { return x * 3 + 1; }

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)len);
  *n = b && fread(b, 1, (size_t)len, f) == (size_t)len ? (size_t)len : 0;
  fclose(f);
  return b;
}

static void put(const char *path, const char *b, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f) fwrite(b, 1, n, f), fclose(f);
}

/* A load of b[0..n) written to path: returns 1 when it gave a table or an error message. */
static int load_copy(const char *path, const char *b, size_t n) {
  char err[512] = "";
  put(path, b, n);
  ElfSyms *s = elfsym_load(path, err, sizeof err);
  int good = s != NULL || err[0] != 0;
  (void)elfsym_find(s, 0x1000);
  elfsym_free(s);
  return good;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: test_elfsym WORK_DIR\n");
    return 2;
  }
  mkdir(argv[1], 0755);
  char self[4096], path[4200], err[512];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return fprintf(stderr, "no /proc/self/exe\n"), 1;
  self[len] = 0;
  Dl_info di;
  CHECK(dladdr((void *)elfsym_marker_function, &di) && di.dli_fbase, "dladdr finds this executable");
  uint64_t off = (uintptr_t)(void *)elfsym_marker_function - (uintptr_t)di.dli_fbase;
  ElfSyms *s = elfsym_load(self, err, sizeof err);
  CHECK(s != NULL, "loads its own symbols (%s)", s ? "ok" : err);
  const char *nm = elfsym_find(s, off), *mid = elfsym_find(s, off + 1);
  CHECK(nm && !strcmp(nm, "elfsym_marker_function"), "offset 0x%llx names %s", (unsigned long long)off, nm ? nm : "nothing");
  CHECK(mid && !strcmp(mid, "elfsym_marker_function"), "an address inside it names it too");
  CHECK(elfsym_find(s, 0) == NULL, "address 0 names nothing");
  elfsym_free(s);

  err[0] = 0;
  CHECK(!elfsym_load("/nonexistent/lib.so", err, sizeof err) && strstr(err, "cannot open"), "missing file: %s", err);
  snprintf(path, sizeof path, "%s/text.so", argv[1]);
  put(path, "not an ELF file at all\n", 23);
  CHECK(!elfsym_load(path, err, sizeof err) && strstr(err, "not a little-endian ELF64"), "text file: %s", err);

  size_t n = 0;
  char *b = slurp(self, &n);
  CHECK(b && n > sizeof(Elf64_Ehdr), "reads its own file (%zu bytes)", n);
  if (!b || n <= sizeof(Elf64_Ehdr)) return 1;
  snprintf(path, sizeof path, "%s/cut.so", argv[1]);
  int all = 1, tried = 0;
  for (size_t cut = 0; cut < n; cut += cut < 4096 ? 61 : n / 97 + 1, tried++) all &= load_copy(path, b, cut);
  CHECK(all, "%d truncations: each an error or a table", tried);
  /* overwrite header fields (offsets, counts, sizes, links) with hostile values */
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
  uint64_t shoff = eh->e_shoff;
  unsigned shnum = eh->e_shnum;
  static const uint64_t bad[] = {0, 1, 7, 0xffffffffull, 0xffffffffffffffffull, 0x7fffffffffffffffull, 64};
  char *c = malloc(n);
  all = 1, tried = 0;
  for (size_t v = 0; v < sizeof bad / sizeof *bad; v++) {
    for (size_t at = 16; at < sizeof(Elf64_Ehdr); at += 2, tried++) {   /* the ELF header */
      memcpy(c, b, n);
      memcpy(c + at, &bad[v], at + 8 <= sizeof(Elf64_Ehdr) ? 8 : sizeof(Elf64_Ehdr) - at);
      all &= load_copy(path, c, n);
    }
    for (unsigned i = 0; i < shnum && shoff + (i + 1) * sizeof(Elf64_Shdr) <= n; i++)   /* section headers */
      for (size_t fld = 0; fld < sizeof(Elf64_Shdr); fld += 4, tried++) {
        memcpy(c, b, n);
        size_t at = shoff + i * sizeof(Elf64_Shdr) + fld;
        memcpy(c + at, &bad[v], 4);
        all &= load_copy(path, c, n);
      }
  }
  CHECK(all, "%d corrupted headers: each an error or a table", tried);
  free(c);
  free(b);
  printf(fails ? "%d failure(s)\n" : "all passed\n", fails);
  return fails != 0;
}
