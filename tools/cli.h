/* cli.h: how the modc command line talks: errors, warnings and progress lines (cli.c).
 *
 * Every subcommand reports a user error as "modc: error: ..." on stderr and returns 1 (so
 * `return cli_fail(...)` ends a command), and long steps print "[  1.23s] what" lines on a
 * terminal: cli_quiet is set when stderr is not one (or by -q), cli_start when the command
 * began.
 */
#ifndef MODC_CLI_H
#define MODC_CLI_H

#include <stddef.h>
#include <sys/types.h>

extern int cli_quiet;

/* Start the clock of the progress lines; quiet unless stderr is a terminal. */
void cli_begin(void);
/* Seconds since cli_begin. */
double cli_elapsed(void);
/* "[  1.23s] " fmt "\n" on stderr, unless cli_quiet. */
void cli_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A flag's value: a whole decimal integer in [lo, hi] / a finite number > lo; else 1 after
 * cli_fail naming the flag and the value. */
int cli_int(const char *flag, const char *v, long lo, long hi, int *out);
int cli_number(const char *flag, const char *v, double lo, double *out);
/* Remove dir's files and dir itself; 0, or -1 with errno set (a dir that does not exist is 0). */
int cli_rmdir(const char *dir);
/* The same from a signal handler: async-signal-safe calls only
 * (open, getdents64, unlinkat, rmdir), never malloc, which an interrupted thread may hold. */
void cli_rmdir_in_handler(const char *dir);
/* Children that are this modc (tune runs compile and bench so): its own executable
 * (/proc/self/exe) into buf[n]; argv run by the executable self with stdout and stderr into
 * the file outf, the child in *pid; waiting for pid, a failure quoting the start of outf as
 * "<what> failed:".  Each returns 0, or 1 after cli_fail. */
int cli_self_exe(char *buf, size_t n);
int cli_spawn(const char *self, char *const argv[], const char *outf, pid_t *pid);
int cli_reap(pid_t pid, const char *what, const char *outf);
/* An interrupted tune stops its children and every process they started (the C compiler
 * driver, its collect2 and linker), and waits for them all, so that nothing writes after it
 * has removed its work folder, and the driver deletes its temporary files (in $TMPDIR):
 * cli_catch_children makes this process the subreaper of its descendants (Linux); children
 * lead their own process group (cli_spawn does so; a forked child calls setpgid);
 * cli_stop_child_in_handler sends SIGTERM to pid's group; cli_reap_all_in_handler waits for
 * every descendant, orphans included.  Both are async-signal-safe. */
void cli_catch_children(void);
void cli_stop_child_in_handler(pid_t pid);
void cli_reap_all_in_handler(void);
/* "modc: error: " fmt "\n" on stderr; returns 1. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
