/* runtime_files.c: where modc finds what it puts into every library it writes: the runtime
 * archive libmodc_rt.a (linked in) and the ABI header modc.h (copied into NAME.h and beside
 * it).  In order: $MODC_RUNTIME_LIB / $MODC_RUNTIME_DIR; next to an installed modc,
 * BIN/../lib/modc/libmodc_rt.a and BIN/../include/modc/modc.h (cmake --install lays them out
 * so, and a prefix moved as a whole keeps working); else the build tree modc was built in
 * (MODC_RUNTIME_LIB, MODC_RUNTIME_DIR, set by CMakeLists.txt).  A foreign target's archive
 * (the runtime cross-built for AArch64) sits in a folder named by its triple without the
 * vendor beside the host's: aarch64-linux-gnu/libmodc_rt.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "codegen.h"

#ifndef MODC_RUNTIME_LIB
#define MODC_RUNTIME_LIB "libmodc_rt.a"
#endif
#ifndef MODC_RUNTIME_DIR
#define MODC_RUNTIME_DIR "runtime"
#endif

/* BIN/../REL when that file exists, into buf (its folder only when dir_only); 0 if found */
static int beside_executable(const char *rel, int dir_only, char *buf, size_t n) {
  char exe[4096];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return -1;
  exe[len] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = 0;
  if (snprintf(buf, n, "%s/../%s", exe, rel) >= (int)n || access(buf, R_OK)) return -1;
  if (dir_only) *strrchr(buf, '/') = 0;
  return 0;
}

static const char *pick(const char *env, const char *rel, int dir_only, const char *built, char *buf, size_t n) {
  const char *e = getenv(env);
  if (e && *e) snprintf(buf, n, "%s", e);
  else if (beside_executable(rel, dir_only, buf, n)) snprintf(buf, n, "%s", built);
  return buf;
}

const char *cg_runtime_lib(char *buf, size_t n) {
  return pick("MODC_RUNTIME_LIB", "lib/modc/libmodc_rt.a", 0, MODC_RUNTIME_LIB, buf, n);
}

const char *cg_runtime_dir(char *buf, size_t n) {
  return pick("MODC_RUNTIME_DIR", "include/modc/modc.h", 1, MODC_RUNTIME_DIR, buf, n);
}

const char *cg_runtime_lib_for(const CgTarget *t, char *buf, size_t n) {
  cg_runtime_lib(buf, n);
  if (!t || cg_target_is_host(t)) return buf;
  char host[4096];
  snprintf(host, sizeof host, "%s", buf);
  char *slash = strrchr(host, '/');
  const char *arch_end = t->triple + strcspn(t->triple, "-");  /* "aarch64-unknown-linux-gnu" */
  const char *os = *arch_end ? arch_end + 1 + strcspn(arch_end + 1, "-") : arch_end;
  if (slash) *slash = 0;
  snprintf(buf, n, "%s%s%.*s%s/libmodc_rt.a", slash ? host : "", slash ? "/" : "", (int)(arch_end - t->triple),
           t->triple, os);
  return buf;
}
