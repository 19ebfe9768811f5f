/* cli.c: the command line's errors and progress lines (cli.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "tools/cli.h"
#include "tools/timing.h"

int cli_quiet;
static double cli_t0;

void cli_begin(void) {
  cli_t0 = timing_now();
  cli_quiet = !isatty(2);
}

double cli_elapsed(void) { return timing_now() - cli_t0; }

void cli_progress(const char *fmt, ...) {
  if (cli_quiet) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "[%6.2fs] ", cli_elapsed());
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

int cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("modc: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return 1;
}

int cli_int(const char *flag, const char *v, long lo, long hi, int *out) {
  char *end;
  long x = strtol(v, &end, 10);
  if (!*v || *end || x < lo || x > hi) return cli_fail("%s must be an integer in [%ld, %ld], got '%s'", flag, lo, hi, v);
  *out = (int)x;
  return 0;
}

int cli_number(const char *flag, const char *v, double lo, double *out) {
  char *end;
  double x = strtod(v, &end);
  if (!*v || *end || !isfinite(x) || x <= lo) return cli_fail("%s must be a finite number > %g, got '%s'", flag, lo, v);
  *out = x;
  return 0;
}

int cli_rmdir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4400];
  if (!d) return errno == ENOENT ? 0 : -1;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name), unlink(path);
  closedir(d);
  return rmdir(dir);
}

void cli_rmdir_in_handler(const char *dir) {
  static char buf[8192] __attribute__((aligned(8)));
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  long n;
  while (fd >= 0 && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
    for (long o = 0; o < n;) {
      struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + o);
      if (strcmp(e->name, ".") && strcmp(e->name, "..")) unlinkat(fd, e->name, 0);
      o += e->reclen;
    }
  if (fd >= 0) close(fd);
  rmdir(dir);
}
