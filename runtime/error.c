/* error.c: the runtime's one piece of global state, the thread-local error message.
 *
 * Every failing ABI call formats a message here and returns a negative MODC_ERR_* code;
 * modc_last_error() hands back the calling thread's last message ("" before any error).
 * Thread-local so that threads serving their own sessions never see each other's errors.
 */
#include <stdarg.h>
#include <stdio.h>
#include "internal.h"

static __thread char rt_last_error[512];

int rt_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(rt_last_error, sizeof rt_last_error, fmt, ap);
  va_end(ap);
  return code;
}

RT_API const char *modc_last_error(void) { return rt_last_error; }
