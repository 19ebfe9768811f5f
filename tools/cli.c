/* cli.c: the command line's errors and progress lines (cli.h). */
#include <stdarg.h>
#include <stdio.h>
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
