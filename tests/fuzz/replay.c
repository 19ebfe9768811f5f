/* replay.c: runs a fuzz harness's LLVMFuzzerTestOneInput on saved inputs, without
 * libFuzzer, so that every crasher the fuzzers found (tests/fuzz/regressions/HARNESS/) and
 * the seed corpus are replayed by the ordinary test suite under any compiler.
 *
 *   fuzz_replay_HARNESS PATH...    each PATH a file, or a directory whose files are run
 *                                  in name order (dot files skipped)
 * A crash is the failure: the harness aborts on a broken invariant, the sanitizers (when
 * built with them) on memory errors.  Exit 0 when every input ran; 1 when a path cannot be
 * read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz_common.h"

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno)), -1;
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = malloc(cap);
  for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
    len += got;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) return fprintf(stderr, "replay: out of memory on %s\n", path), -1;
  fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
  LLVMFuzzerTestOneInput(buf, len);
  free(buf);
  return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int keep(const struct dirent *e) { return e->d_name[0] != '.'; }

/* returns the number of inputs run, or -1 */
static int run_path(const char *path) {
  struct stat st;
  if (stat(path, &st)) return fprintf(stderr, "replay: %s: %s\n", path, strerror(errno)), -1;
  if (!S_ISDIR(st.st_mode)) return run_file(path) ? -1 : 1;
  struct dirent **e;
  int n = scandir(path, &e, keep, by_name), ran = 0;
  if (n < 0) return fprintf(stderr, "replay: %s: %s\n", path, strerror(errno)), -1;
  for (int i = 0; i < n; i++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, e[i]->d_name);
    if (ran >= 0 && run_file(p) == 0) ran++;
    else ran = -1;
    free(e[i]);
  }
  free(e);
  return ran;
}

int main(int argc, char **argv) {
  int total = 0, bad = 0;
  for (int i = 1; i < argc; i++) {
    int n = run_path(argv[i]);
    if (n < 0) bad = 1;
    else total += n;
  }
  printf("replayed %d inputs%s\n", total, bad ? " (some paths unreadable)" : "");
  return bad;
}
