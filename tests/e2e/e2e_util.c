/* e2e_util.c: see e2e_util.h. */
#include <fcntl.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "e2e_util.h"
#include "codegen/codegen.h"
#include "runtime/exec.h"

const uint8_t *e2e_map_blob(const char *path) {
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    if (fd >= 0) close(fd);
    return NULL;
  }
  const uint8_t *p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  return p == MAP_FAILED ? NULL : p + MODC_WEIGHTS_HEADER;
}

int e2e_layout(const Spec *s, WLayout *l, char *err, size_t n) {
  CgTarget t;
  TargetDesc desc;
  if (cg_target_resolve(s->target, s->cpu, 2, &t, err, n)) return -1;
  cg_target_describe(&t, s->threads, &desc);
  wlayout_build(s, &desc, l);
  return 0;
}

double e2e_rel_err(const float *a, const double *b, int64_t n) {
  double num = 0, den = 1e-30;
  for (int64_t i = 0; i < n; i++) {
    num = fmax(num, fabs(a[i] - b[i]));
    den = fmax(den, fabs(b[i]));
  }
  return num / den;
}
