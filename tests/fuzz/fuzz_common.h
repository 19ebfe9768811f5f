/* fuzz_common.h: what the three fuzz harnesses share.
 *
 * spec_load and st_open read a path, so each input is written to an anonymous in-memory
 * file (memfd) and handed over as /proc/self/fd/N: nothing touches the disk, and every
 * iteration reuses the same descriptor.  FUZZ_CHECK is an invariant of the code under
 * test (not of the input): when it fails, the harness aborts so libFuzzer reports a crash.
 */
#ifndef MODC_FUZZ_COMMON_H
#define MODC_FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define FUZZ_CHECK(cond, ...)                                          \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n  ", #cond,  \
              __FILE__, __LINE__);                                     \
      fprintf(stderr, __VA_ARGS__);                                    \
      fputc('\n', stderr);                                             \
      abort();                                                         \
    }                                                                  \
  } while (0)

/* One memfd per name, created on first use; returns its /proc path after writing data. */
typedef struct FuzzFile {
  int fd;
  char path[64];
} FuzzFile;

static inline const char *fuzz_file_write(FuzzFile *f, const char *name, const void *data,
                                          size_t n) {
  if (f->fd <= 0) {
    f->fd = memfd_create(name, 0);
    if (f->fd < 0) {
      perror("memfd_create");
      abort();
    }
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
  }
  if (ftruncate(f->fd, 0) || (n && pwrite(f->fd, data, n, 0) != (ssize_t)n)) {
    perror("fuzz: writing the memfd");
    abort();
  }
  return f->path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
