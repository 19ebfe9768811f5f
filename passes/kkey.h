/* kkey.h: kernel keys, the name of a kernel by what decides its code (DESIGN section 8).
 *
 * A key is the op, its inner shapes (never the row count: one kernel serves every row
 * count, forward and session alike), dtypes, the attributes its code depends on and the
 * panel width of its weights, e.g. "k_matmul_silu_mul_n2048_k768_f32_nr32".  It names no
 * model, so tuning records (modc tune, modc compile --tuning) carry over between specs that
 * share kernels.  Codegen appends the node's schedule record to the key to name the LLVM
 * function (codegen/kernels.c), so kernels of different records are different functions.
 * Plain C on the IR, no LLVM: the schedule pass and the tools compute the same keys.
 */
#ifndef MODC_KKEY_H
#define MODC_KKEY_H

#include <stddef.h>
#include "../ir/ir.h"

/* Largest key (and the longest function name codegen builds from it, record included). */
#define KKEY_MAX 256

/* The key of node i of g into buf: 0, or -1 when the node is no kernel (graph plumbing:
 * input, weight, output, block.arg, yield, mod.block) or its inner shapes are not known
 * constants (why in buf).  The node must be typed. */
int kernel_key(const Graph *g, int i, char *buf, size_t n);

/* Does op i of g become a kernel (a function of its own)? */
int kernel_node(const Graph *g, int i);

#endif
