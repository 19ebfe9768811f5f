/* cli.c: the command line's errors and progress lines (cli.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <spawn.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

extern char **environ;

int cli_self_exe(char *buf, size_t n) {
  ssize_t got = readlink("/proc/self/exe", buf, n - 1);
  if (got <= 0) return cli_fail("cannot find this modc's executable: %s", strerror(errno));
  buf[got] = 0;
  return 0;
}

int cli_spawn(const char *self, char *const argv[], const char *outf, pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, outf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP); /* its own group (cli_stop_child_in_handler) */
  posix_spawnattr_setpgroup(&at, 0);
  int rc = posix_spawn(pid, self, &fa, &at, argv, environ);
  posix_spawnattr_destroy(&at);
  posix_spawn_file_actions_destroy(&fa);
  return rc ? cli_fail("cannot run %s: %s", self, strerror(rc)) : 0;
}

void cli_catch_children(void) { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

void cli_stop_child_in_handler(pid_t pid) {
  if (pid <= 0) return;
  if (kill(-pid, SIGTERM) != 0) kill(pid, SIGTERM); /* not yet its group's leader */
}

void cli_reap_all_in_handler(void) {
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
}

int cli_reap(pid_t pid, const char *what, const char *outf) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  char msg[1024] = "";
  FILE *f = fopen(outf, "r");
  size_t got = f ? fread(msg, 1, sizeof msg - 1, f) : 0;
  msg[got] = 0;
  if (f) fclose(f);
  return cli_fail("%s failed:\n%s", what, msg);
}
