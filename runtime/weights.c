/* weights.c: find, map and check a model's packed weights (exec.h: "Packed weights file").
 *
 * The blob comes from the library itself (--embed-weights, path NULL), from the file the
 * caller names, or from desc->weights_file in the library's own directory (path NULL).  A
 * file is mmapped read-only (MAP_PRIVATE) and its header checked against the hash and size
 * the library was compiled with, so a library never runs on another model's weights; the
 * pages are then faulted in ahead of the first forward (MADV_WILLNEED).
 *
 * MODC_WEIGHTS_LOAD=copy in the environment copies a file's blob into private anonymous
 * memory instead (chunk by chunk, each chunk of the file mapping dropped once copied, so the
 * resident size never holds the weights twice) and unmaps the file; "map" (the default) keeps
 * the mapping; any other value is an error.  Measured on a 2-core KVM guest (Zen 5): the
 * benchmark model's 512-token forward took 0.74-0.85 of its mapped time from the copy, with
 * or without huge pages on either side, while decode and a 128-token prefill did not move:
 * the GEMMs that re-read their weights from L2/L3 lost on page-cache pages.  Embedded weights
 * are never copied.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* dladdr */
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

typedef struct {
  char magic[8];
  uint64_t hash, blob_size, blob_offset;
} WeightsHeader;

/* path of desc->weights_file beside this shared library, into buf[n]. */
static int beside_library(const modc_desc *d, char *buf, size_t n) {
  Dl_info di;
  if (!d->weights_file || !d->weights_file[0])
    return rt_error(MODC_ERR_ARG, "modc_open: this library has no default weights file; "
                    "pass a weights path");
  if (!dladdr(&modc__descs, &di) || !di.dli_fname)   /* an address inside this library */
    return rt_error(MODC_ERR_IO, "modc_open: cannot find the library's own path; "
                    "pass a weights path");
  const char *slash = strrchr(di.dli_fname, '/');
  int dirlen = slash ? (int)(slash - di.dli_fname) : 1;
  const char *dir = slash ? di.dli_fname : ".";
  if (snprintf(buf, n, "%.*s/%s", dirlen, dir, d->weights_file) >= (int)n)
    return rt_error(MODC_ERR_IO, "modc_open: weights path too long");
  return 0;
}

/* Compare the header with what the library was compiled for. */
static int check_header(const modc_desc *d, const char *path, const uint8_t *base,
                        size_t size) {
  WeightsHeader h;
  if (size < MODC_WEIGHTS_HEADER)
    return rt_error(MODC_ERR_IO, "modc_open: weights file '%s' is truncated (%zu bytes, "
                    "shorter than its %d-byte header)", path, size, MODC_WEIGHTS_HEADER);
  memcpy(&h, base, sizeof h);
  if (memcmp(h.magic, MODC_WEIGHTS_MAGIC, 8))
    return rt_error(MODC_ERR_MISMATCH, "modc_open: '%s' is not a modc weights file "
                    "(no %s magic)", path, MODC_WEIGHTS_MAGIC);
  if (h.hash != d->weights_hash || h.blob_size != (uint64_t)d->weights_size)
    return rt_error(MODC_ERR_MISMATCH, "modc_open: weights file '%s' belongs to another "
                    "model (hash %016llx, %llu bytes; expected %016llx, %lld bytes)", path,
                    (unsigned long long)h.hash, (unsigned long long)h.blob_size,
                    (unsigned long long)d->weights_hash, (long long)d->weights_size);
  if (h.blob_offset < MODC_WEIGHTS_HEADER || h.blob_offset % RT_ALIGN)
    return rt_error(MODC_ERR_MISMATCH, "modc_open: weights file '%s' has a bad blob offset "
                    "%llu", path, (unsigned long long)h.blob_offset);
  if (size < h.blob_offset || size - h.blob_offset < h.blob_size)
    return rt_error(MODC_ERR_IO, "modc_open: weights file '%s' is truncated (%zu bytes, "
                    "expected %llu)", path, size,
                    (unsigned long long)(h.blob_offset + h.blob_size));
  return 0;
}

/* Map path whole, read-only; the mapping is owned by m from here on. */
static int map_file(modc_model *m, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return rt_error(MODC_ERR_IO, "modc_open: cannot open weights file '%s': %s", path,
                    strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return rt_error(MODC_ERR_IO, "modc_open: weights file '%s' is not a regular file", path);
  }
  if (st.st_size < MODC_WEIGHTS_HEADER) {
    close(fd);
    return check_header(m->desc, path, NULL, (size_t)st.st_size);
  }
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED)
    return rt_error(MODC_ERR_IO, "modc_open: cannot map weights file '%s': %s", path,
                    strerror(errno));
  m->map = p;
  m->map_size = (size_t)st.st_size;
  return 0;
}

/* MODC_WEIGHTS_LOAD: 1 to copy, 0 to map, -1 with the error set. */
static int load_mode(void) {
  const char *v = getenv("MODC_WEIGHTS_LOAD");
  if (!v || !v[0] || !strcmp(v, "map")) return 0;
  if (!strcmp(v, "copy")) return 1;
  rt_error(MODC_ERR_ARG, "modc_open: MODC_WEIGHTS_LOAD is '%.40s'; expected map or copy", v);
  return -1;
}

/* The mapped blob [off, off + size) into anonymous memory (huge pages where the kernel gives
 * them), which replaces the mapping as m->map. */
static int copy_blob(modc_model *m, const char *path, uint64_t off, uint64_t size) {
  const size_t huge = (size_t)2 << 20, chunk = (size_t)64 << 20;
  size_t len = size ? ((size_t)size + huge - 1) / huge * huge : huge;
  uint8_t *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q == MAP_FAILED)
    return rt_error(MODC_ERR_NOMEM, "modc_open: cannot allocate %llu bytes to copy weights file "
                    "'%s' into (MODC_WEIGHTS_LOAD=copy): %s", (unsigned long long)size, path, strerror(errno));
  madvise(q, len, MADV_HUGEPAGE);
  const uint8_t *src = (const uint8_t *)m->map + off;
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  for (size_t at = 0; at < size; at += chunk) {
    size_t n = size - at < chunk ? (size_t)(size - at) : chunk;
    memcpy(q + at, src + at, n);
    uintptr_t lo = ((uintptr_t)(src + at) + page - 1) / page * page, hi = (uintptr_t)(src + at + n) / page * page;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED); /* the file's pages leave this process */
  }
  munmap(m->map, m->map_size);
  m->map = q, m->map_size = len;
  m->weights = q;
  return 0;
}

int rt_weights_open(modc_model *m, const char *path) {
  const modc_desc *d = m->desc;
  char buf[4096];
  if (!path && d->weights_embedded) {
    m->weights = d->weights_embedded;
    return 0;
  }
  if (!path) {
    int rc = beside_library(d, buf, sizeof buf);
    if (rc) return rc;
    path = buf;
  }
  int copy = load_mode();
  if (copy < 0) return MODC_ERR_ARG;
  int rc = map_file(m, path);
  if (rc) return rc;
  rc = check_header(d, path, m->map, m->map_size);
  if (rc) return rc;   /* the caller's cleanup unmaps */
  uint64_t off;
  memcpy(&off, (const uint8_t *)m->map + offsetof(WeightsHeader, blob_offset), sizeof off);
  if (copy) {
    madvise(m->map, m->map_size, MADV_SEQUENTIAL);
    return copy_blob(m, path, off, (uint64_t)d->weights_size);
  }
  m->weights = (const uint8_t *)m->map + off;
  madvise(m->map, m->map_size, MADV_WILLNEED);
  return 0;
}

void rt_weights_close(modc_model *m) {
  if (m->map) munmap(m->map, m->map_size);
  m->map = NULL;
  m->weights = NULL;
}
