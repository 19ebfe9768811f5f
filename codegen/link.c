/* link.c: object file + runtime archive -> lib<name>.so, by running the C compiler driver.
 *
 *   $MODC_CC -shared -o SO OBJ -Wl,--whole-archive RUNTIME_LIB -Wl,--no-whole-archive
 *            OPENMP_FLAGS RT_LINK_FLAGS -lm -Wl,-soname,<basename of SO>
 *
 * RT_LINK_FLAGS is empty except in sanitizer builds of modc (CMake's MODC_SANITIZE or
 * MODC_TSAN), whose runtime archive is instrumented: then it is -fsanitize=..., so that the
 * library links the sanitizer's runtime that the archive's code calls.
 *
 * The driver ($MODC_CC, else the compiler modc was built with, else "cc"; either may be
 * several words, e.g. "ccache gcc") knows the system's crt files, libgomp and libm, which is
 * why modc does not call the linker itself.  The archive is linked whole: the generated
 * object references only the runtime's helpers, yet every modc_* entry point of the ABI must
 * be in the library.  The runtime is compiled with -fvisibility=hidden and marks the ABI
 * visible, so the library exports exactly modc_* (plus the graph functions).
 * The driver runs through fork/execvp, without a shell, so paths may hold spaces; what it
 * prints is collected and becomes the error message if it fails.
 *
 * A foreign target that modc can link (cg_target_linkable: AArch64 Linux) uses Debian's
 * cross driver ($MODC_CROSS_CC, else ARCH-linux-gnu-gcc) with -fopenmp, and the runtime
 * archive built for that architecture (cg_runtime_lib_for); never the sanitizer flags, since
 * the cross runtime is not instrumented.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codegen.h"

#ifndef MODC_CC
#define MODC_CC "cc"
#endif
#ifndef MODC_OPENMP_FLAGS
#define MODC_OPENMP_FLAGS "-fopenmp"
#endif
#ifndef MODC_RT_LINK_FLAGS
#define MODC_RT_LINK_FLAGS ""
#endif

#define LINK_MAXARG 64

typedef struct Argv {
  char *v[LINK_MAXARG + 1];
  int n;
  char words[2048];         /* storage for the words split out of cc and the OpenMP flags */
  char rtlib[4096];         /* the runtime archive's path */
  size_t used;
} Argv;

static int link_fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int arg_add(Argv *a, const char *s) {
  if (a->n >= LINK_MAXARG) return -1;
  a->v[a->n++] = (char *)s;
  a->v[a->n] = NULL;
  return 0;
}

/* Append the blank-separated words of s (a command or a flag list, never a path). */
static int arg_words(Argv *a, const char *s) {
  for (const char *p = s; *p;) {
    p += strspn(p, " \t");
    size_t len = strcspn(p, " \t");
    if (!len) break;
    if (a->used + len + 1 > sizeof a->words) return -1;
    char *w = memcpy(a->words + a->used, p, len);
    w[len] = 0;
    a->used += len + 1;
    if (arg_add(a, w)) return -1;
    p += len;
  }
  return 0;
}

/* The C compiler driver for t (NULL: the host): its words into out[n]. */
static void driver_for(const CgTarget *t, char *out, size_t n) {
  const char *cc = getenv(t && !cg_target_is_host(t) ? "MODC_CROSS_CC" : "MODC_CC");
  if (cc && *cc) snprintf(out, n, "%s", cc);
  else if (t && !cg_target_is_host(t)) snprintf(out, n, "%.*s-linux-gnu-gcc", (int)strcspn(t->triple, "-"), t->triple);
  else snprintf(out, n, "%s", MODC_CC);
}

/* whole: the runtime archive whole (a model's library: every modc_* entry point); else only
 * what the object calls (a kernel library without a model, cg_link_kernels). */
static int build_argv(Argv *a, const CgTarget *t, const char *const *objs, int nobj, const char *so, char *soname,
                      int whole) {
  int cross = t && !cg_target_is_host(t);
  char cc[512];
  const char *base = strrchr(so, '/');
  snprintf(soname, 512, "-Wl,-soname,%s", base ? base + 1 : so);
  memset(a, 0, sizeof *a);
  driver_for(t, cc, sizeof cc);
  int bad = arg_words(a, cc);
  const char *fixed[] = {"-shared", "-o", so, "-Wl,--whole-archive", cg_runtime_lib_for(t, a->rtlib, sizeof a->rtlib),
                         "-Wl,--no-whole-archive"};
  for (size_t i = 0; i < 3; i++) bad |= arg_add(a, fixed[i]);
  for (int i = 0; i < nobj; i++) bad |= arg_add(a, objs[i]);
  for (size_t i = 3; i < sizeof fixed / sizeof fixed[0]; i++)
    if (whole || i == 4) bad |= arg_add(a, fixed[i]);
  bad |= arg_words(a, cross ? "-fopenmp" : MODC_OPENMP_FLAGS);
  if (!cross) bad |= arg_words(a, MODC_RT_LINK_FLAGS);
  bad |= arg_add(a, "-lm");
  bad |= arg_add(a, soname);
  return bad || a->n == 0 ? -1 : 0;
}

/* The child: stdout and stderr into the pipe, then the driver. */
static void run_child(int fd, char *const *argv) {
  dup2(fd, 1);
  dup2(fd, 2);
  close(fd);
  execvp(argv[0], argv);
  dprintf(2, "cannot run '%s': %s", argv[0], strerror(errno));
  _exit(127);
}

/* Everything the child printed, into out[n] (what does not fit is dropped). */
static void drain(int fd, char *out, size_t n) {
  size_t used = 0;
  char buf[4096];
  ssize_t got;
  while ((got = read(fd, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR)) {
    size_t k = got > 0 ? (size_t)got : 0;
    if (used + k >= n) k = n - 1 - used;
    memcpy(out + used, buf, k);
    used += k;
  }
  out[used] = 0;
  while (used && (out[used - 1] == '\n' || out[used - 1] == ' ')) out[--used] = 0;
}

static volatile int running_driver; /* the driver's pid while run() waits for it */

int cg_link_running(void) { return running_driver; }

/* Run argv, collecting its output; returns its exit status (-1 if it did not exit). */
static int run(char *const *argv, char *out, size_t n) {
  int fds[2];
  out[0] = 0;
  if (pipe(fds) != 0) {
    snprintf(out, n, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(out, n, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    close(fds[0]);
    run_child(fds[1], argv);
  }
  running_driver = (int)pid;
  close(fds[1]);
  drain(fds[0], out, n);
  close(fds[0]);
  int st, rc = 0;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) {
      rc = -1;
      break;
    }
  running_driver = 0;
  return rc ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int link_so(const CgTarget *t, const char *const *objs, int nobj, const char *so_path, int whole, char *err,
                   size_t errlen) {
  Argv a;
  char soname[512], out[4096];
  if (build_argv(&a, t, objs, nobj, so_path, soname, whole))
    return link_fail(err, errlen, "internal error: the link command line is too long");
  int st = run(a.v, out, sizeof out);
  if (st == 0) return 0;
  if (st < 0)
    return link_fail(err, errlen, "linking %s: %s did not finish: %s", so_path, a.v[0], out);
  return link_fail(err, errlen, "linking %s failed (%s exited with status %d; set MODC_CC to "
                   "choose the C compiler driver):\n%s", so_path, a.v[0], st, out);
}

int cg_link_shared(const char *obj_path, const char *so_path, char *err, size_t errlen) {
  return link_so(NULL, &obj_path, 1, so_path, 1, err, errlen);
}

int cg_link_for(const CgTarget *t, const char *const *objs, int nobj, const char *so_path, char *err, size_t errlen) {
  return link_so(t, objs, nobj, so_path, 1, err, errlen);
}

int cg_link_kernels(const char *obj_path, const char *so_path, char *err, size_t errlen) {
  return link_so(NULL, &obj_path, 1, so_path, 0, err, errlen);
}

/* Is the first word of cmd an executable on $PATH (or a path to one)? */
static int on_path(const char *cmd) {
  char word[512], p[4096];
  snprintf(word, sizeof word, "%.*s", (int)strcspn(cmd, " \t"), cmd);
  if (strchr(word, '/')) return access(word, X_OK) == 0;
  const char *path = getenv("PATH");
  for (const char *d = path ? path : "/usr/bin:/bin"; *d;) {
    size_t len = strcspn(d, ":");
    snprintf(p, sizeof p, "%.*s/%s", (int)len, d, word);
    if (len && access(p, X_OK) == 0) return 1;
    d += len + (d[len] == ':');
  }
  return 0;
}

/* Debian's packages for a cross target's driver and OpenMP runtime. */
static const char *debian_packages(const char *arch) {
  return !strcmp(arch, "aarch64") ? "gcc-aarch64-linux-gnu and libgomp1-arm64-cross" : NULL;
}

int cg_target_linkable(const CgTarget *t, char *err, size_t errlen) {
  if (cg_target_is_host(t)) return 0;
  char arch[64], cc[512], rt[4096];
  snprintf(arch, sizeof arch, "%.*s", (int)strcspn(t->triple, "-"), t->triple);
  const char *pkgs = debian_packages(arch);
  if (!pkgs || !strstr(t->triple, "-linux-gnu"))
    return link_fail(err, errlen, "cannot link a shared library for foreign target '%s' (modc links "
                     "the host's and aarch64-linux-gnu); use --emit obj|asm|llvm", t->triple);
  driver_for(t, cc, sizeof cc);
  if (!on_path(cc))
    return link_fail(err, errlen, "linking for %s needs the cross C compiler '%s', which is not "
                     "installed: install Debian's %s (or set MODC_CROSS_CC)", t->triple, cc, pkgs);
  if (access(cg_runtime_lib_for(t, rt, sizeof rt), R_OK))
    return link_fail(err, errlen, "no modc runtime for %s at %s: modc was built without the cross "
                     "compiler; install Debian's %s and rebuild modc", t->triple, rt, pkgs);
  return 0;
}
