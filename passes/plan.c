/* plan.c: the plan-memory pass: every value gets a place, activations share one arena.
 * require: typed, lowered (no regions).  provide: st and offset on every node, arena_size.
 *
 * Inputs live in the caller's token and position arrays, weights in the packed blob at
 * their layout offset, the graph's result in the caller's logits buffer.  Every other
 * value is placed in the arena first-fit, at 64-byte alignment, sized at its symbols'
 * bounds; its space is reused once the last node reading it has run.  A node's result is
 * placed before its operands' space is released, so no kernel's output aliases its inputs,
 * with one exception: a scatter (scatter_gate, matmul_scatter_gate) whose h is an arena
 * value read last by that scatter takes h's storage, and its kernel updates only the chosen
 * rows in place (every element of such a result is read from h and written by the same
 * thread, read first); the rows that skip the block are then never copied.
 */
#include <stdlib.h>
#include <string.h>
#include "passes.h"

#define ALIGN 64
#define MAX_ARENA ((int64_t)1 << 46) /* 64 TiB: far past any real model, far from overflow */

typedef struct Live {
  int64_t off, size;
  int node;
} Live;

typedef struct Arena {
  Live *live;               /* sorted by offset */
  int n;
  int64_t high;             /* arena size so far */
} Arena;

static int64_t arena_alloc(Arena *a, int node, int64_t size) {
  size = (size + ALIGN - 1) / ALIGN * ALIGN;
  int64_t off = 0;
  int at = 0;
  for (; at < a->n; at++) {
    if (a->live[at].off - off >= size) break;
    off = a->live[at].off + a->live[at].size;
  }
  memmove(&a->live[at + 1], &a->live[at], (a->n - at) * sizeof(Live));
  a->live[at] = (Live){off, size, node};
  a->n++;
  if (off + size > a->high) a->high = off + size;
  return off;
}

static void arena_free(Arena *a, int node) {
  for (int i = 0; i < a->n; i++)
    if (a->live[i].node == node) {
      memmove(&a->live[i], &a->live[i + 1], (a->n - i - 1) * sizeof(Live));
      a->n--;
      return;
    }
}

/* the operand a node may update in place, or -1 */
static int inplace_operand(Op op) {
  return op == OP_SCATTER_GATE ? 0 : op == OP_MATMUL_SCATTER_GATE ? 3 : -1;
}

/* Node i takes the storage of its in-place operand when that operand dies at i. */
static int take_inplace(Graph *g, Arena *a, const int *last, int i) {
  Node *n = &g->n[i];
  int k = inplace_operand(n->op);
  if (k < 0) return 0;
  const Node *h = &g->n[n->in[k]];
  if (h->st != ST_ARENA || last[n->in[k]] != i || !type_equal(&h->ty, &n->ty)) return 0;
  for (int j = 0; j < a->n; j++)
    if (a->live[j].node == n->in[k]) {
      a->live[j].node = i;
      n->offset = h->offset;
      return 1;
    }
  return 0;
}

static Storage fixed_storage(const Graph *g, int i, const int *is_result) {
  const Node *n = &g->n[i];
  if (n->op == OP_INPUT) return strcmp(attr_s(n, "name", ""), "pos") ? ST_TOKENS : ST_POS;
  if (n->op == OP_WEIGHT) return ST_WEIGHTS;
  if (n->op == OP_OUTPUT || is_result[i]) return ST_OUT;
  return ST_ARENA;
}

int pass_plan_memory(Graph *g, char *err, size_t errlen) {
  int *last = malloc((g->len + 1) * sizeof(int)), *is_result = calloc(g->len + 1, sizeof(int));
  Arena a = {malloc((g->len + 1) * sizeof(Live)), 0, 0};
  int rc = 0;
  for (int i = 0; i < g->len; i++) last[i] = i;
  for (int i = 0; i < g->len; i++) {
    const Node *n = &g->n[i];
    if (n->op == OP_MOD_BLOCK || n->op == OP_BLOCK_ARG || n->op == OP_YIELD) {
      snprintf(err, errlen, "plan-memory: %%%d (%s): lower-mod must run first", i, op_names[n->op]);
      rc = -1;
      goto out;
    }
    for (int k = 0; k < n->nin; k++) last[n->in[k]] = i;
    if (n->op == OP_OUTPUT) is_result[n->in[0]] = 1;
  }
  for (int i = 0; i < g->len; i++) {
    Node *n = &g->n[i];
    n->st = fixed_storage(g, i, is_result);
    n->offset = n->op == OP_WEIGHT ? attr_i(n, "offset", 0) : 0;
    if (n->st == ST_ARENA && !take_inplace(g, &a, last, i)) {
      int64_t bytes = type_bytes_bound(g, &n->ty);
      if (bytes < 0 || bytes > MAX_ARENA - a.high) {
        snprintf(err, errlen, "plan-memory: %%%d (%s): the arena would exceed %lld bytes", i,
                 op_names[n->op], (long long)MAX_ARENA);
        rc = -1;
        goto out;
      }
      n->offset = arena_alloc(&a, i, bytes);
    }
    for (int k = 0; k < n->nin; k++)
      if (last[n->in[k]] == i) arena_free(&a, n->in[k]);
    if (last[i] == i) arena_free(&a, i);
  }
  g->arena_size = a.high;
out:
  free(last);
  free(is_result);
  free(a.live);
  return rc;
}
