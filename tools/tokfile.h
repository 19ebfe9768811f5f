/* tokfile.h: token files for modc run, eval and tune --routing (tools/tokfile.c).
 *
 * Two forms (DESIGN section 7): --tokens FILE holds whitespace-separated decimal ids;
 * --bytes FILE makes each byte of the file one token (byte-level models, vocab 256).
 * Errors say "FILE:LINE: ..." (ids) or "FILE: ..." through cli_fail and free what was read.
 */
#ifndef MODC_TOKFILE_H
#define MODC_TOKFILE_H

#include <stdint.h>

/* Read path into *out (malloc'd, the caller frees) and *n.  vocab > 0: every id must be in
 * [0, vocab) (bytes: vocab must be at least 256); vocab 0: ids are only checked to fit
 * int32 and be >= 0.  Returns 0, or 1 after cli_fail (*out NULL). */
int tok_read(const char *path, int bytes, int vocab, int32_t **out, int *n);

#endif
