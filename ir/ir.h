/* ir.h: the graph IR.
 *
 * A Graph is one array of Nodes in topological order; a node's operands are indices of
 * earlier nodes, and each node has exactly one result, whose Type (dtype + static shape)
 * it carries.  A dimension is either a constant (>= 0) or a dynamic symbol (< 0, see
 * DIM_SYM): symbols stand for row counts known only at run time (the tokens of a session
 * call, the tokens that took a routed block), each with a compile-time upper bound, so
 * memory can be planned statically.
 *
 * Regions: a mod.block node owns the nodes that follow it up to body_end (exclusive);
 * those have parent = the block's index, start with block.arg nodes and end with a yield.
 * Body nodes may use nodes of their own region and top-level weight nodes, nothing else.
 * Regions do not nest.
 *
 * Text form (printer and parser in ir.c / irparse.c, round-trip exact):
 *
 *   graph @forward_t16 mode = forward syms = [] arena = 0 {
 *     %0 = input {name = "tokens"} : i32[16]
 *     %1 = weight {name = "model.embed_tokens.weight", offset = 0} : f32[256,64]
 *     %2 = embed %0, %1 : f32[16,64] @arena+0
 *     %3 = mod.block %2, %0, %1 {layer = 1, ...} : f32[16,64] {
 *       %4 = block.arg {index = 0} : f32[2,64]
 *       %5 = yield %4 : f32[2,64]
 *     }
 *   }
 *
 * Types print as dt[d0,d1]; a symbol prints as s<N>; an un-inferred type prints as "?".
 * Storage assigned by planning prints as "@arena+OFF", "@weights+OFF", "@tokens", "@pos",
 * "@out"; unplanned values print no storage.  A schedule record (sched.h) follows as
 * "#kind{field = value, ...}".
 */
#ifndef MODC_IR_H
#define MODC_IR_H

#include <stdint.h>
#include <stdio.h>
#include "dtype.h"
#include "ops.h"
#include "sched.h"

#define IR_MAXRANK 4
#define IR_MAXIN 8
#define IR_MAXATTR 10
#define IR_MAXSYM 520
#define IR_ATTR_KEY 24
#define IR_ATTR_STR 128

#define DIM_SYM(s) (-(int64_t)(s) - 1)   /* the dim value that stands for symbol s */
#define DIM_IS_SYM(d) ((d) < 0)
#define DIM_SYMNO(d) ((int)(-(d) - 1))

typedef struct Type {
  DType dt;
  int rank;                  /* -1: not inferred yet */
  int64_t dim[IR_MAXRANK];   /* constant (>= 0) or DIM_SYM(s) */
} Type;

typedef enum { ATTR_INT, ATTR_FLOAT, ATTR_STR } AttrKind;

typedef struct Attr {
  char key[IR_ATTR_KEY];
  AttrKind kind;
  int64_t i;
  double f;
  char s[IR_ATTR_STR];
} Attr;

/* Where a value lives at run time; set by the memory-planning pass. */
#define MODC_STORAGES(X) \
  X(ST_NONE,    "")        \
  X(ST_ARENA,   "arena")   \
  X(ST_WEIGHTS, "weights") \
  X(ST_TOKENS,  "tokens")  \
  X(ST_POS,     "pos")     \
  X(ST_OUT,     "out")
typedef enum {
#define X(e, s) e,
  MODC_STORAGES(X)
#undef X
} Storage;

typedef struct Node {
  Op op;
  int nin;
  int in[IR_MAXIN];          /* operand node indices, each smaller than this node's */
  Type ty;                   /* the result */
  int nattr;
  Attr attr[IR_MAXATTR];
  int parent;                /* enclosing mod.block, or -1 */
  int body_end;              /* mod.block only: its region is (self, body_end) */
  Storage st;                /* set by planning; ST_NONE before */
  int64_t offset;            /* byte offset within the storage (arena, weights) */
  Sched sched;              /* the kernel's schedule record (sched.h); set by the schedule pass */
} Node;

typedef enum { GRAPH_FORWARD, GRAPH_SESSION } GraphMode;

typedef struct Graph {
  char name[64];
  GraphMode mode;            /* forward: top-k routing (or causal, block_is_causal), the call's rows
                                constant; session: causal routing, rows dynamic (symbol 0 = rows
                                of the call) */
  Node *n;
  int len, cap;
  int nsym;
  int64_t symbound[IR_MAXSYM]; /* upper bound of each symbol */
  int64_t arena_size;        /* bytes, set by planning; 0 before */
} Graph;

/* ir.c: building */
Graph *graph_new(const char *name, GraphMode mode);
void graph_free(Graph *g);
int graph_add(Graph *g, Op op, int nin, const int *in); /* returns the new node's index; type un-inferred */
int graph_add_sym(Graph *g, int64_t bound);            /* returns the symbol number */
Graph *graph_clone(const Graph *g);

void attr_set_i(Node *n, const char *key, int64_t v);
void attr_set_f(Node *n, const char *key, double v);
void attr_set_s(Node *n, const char *key, const char *v);
const Attr *attr_get(const Node *n, const char *key);
int64_t attr_i(const Node *n, const char *key, int64_t dflt);
double attr_f(const Node *n, const char *key, double dflt);
const char *attr_s(const Node *n, const char *key, const char *dflt);
/* mod.block b routes causally (p > threshold; its region's rows are the symbol in attr sym) in
 * every session graph, and in a forward graph when it has a sym (routing.forward: threshold);
 * otherwise by top-k (attr k rows) */
int block_is_causal(const Graph *g, const Node *b);

Type type_make(DType dt, int rank, const int64_t *dims);
int type_equal(const Type *a, const Type *b);
int64_t type_numel_bound(const Graph *g, const Type *t); /* symbols at their bounds */
int64_t type_bytes_bound(const Graph *g, const Type *t);
int64_t dim_bound(const Graph *g, int64_t d);

/* ir.c: printing (same text the parser reads) */
void graph_print(const Graph *g, FILE *out);
void type_print(const Type *t, FILE *out);

/* irparse.c: parsing; on error returns NULL and writes "file:line:col: error: ..." to err */
Graph *graph_parse(const char *text, const char *filename, char *err, size_t errlen);
/* parse a file that may hold several graphs separated by lines "// -----" */
int graph_parse_all(const char *text, const char *filename, Graph ***out, char *err, size_t errlen);

/* verify.c: structural and type checks; 0 if valid, else -1 with a message naming the node */
int graph_verify(const Graph *g, char *err, size_t errlen);

#endif
