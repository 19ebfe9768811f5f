/* ir.c: the graph IR's op tables, builder, attributes, types and printer.
 *
 * The printer writes the text form that irparse.c reads; print(parse(print(g))) is
 * byte-identical to print(g).  The exact form (see also ir.h's header comment):
 *
 *   graph @NAME mode = forward|session syms = [s0 <= 1024, s1 <= 64] arena = N {
 *     %IDX = OPNAME %a, %b {key = val, ...} : TYPE STORAGE
 *     %IDX = mod.block %a, %b, %c {...} : TYPE {
 *       %IDX = block.arg {index = 0} : f32[2,64]
 *       ...
 *     }
 *   }
 *
 * - Every node line is indented two spaces per nesting level (top level: two).  Values are
 *   named by their global index, %IDX, also inside regions.
 * - Operands follow the op name after one space, separated by ", "; none: nothing printed.
 * - Attributes print in insertion order inside " {...}", "key = value" separated by ", ";
 *   a node without attributes prints no braces.  Values: integers as %lld; floats as the
 *   shortest of %.15g/%.16g/%.17g that reads back to the same double (so 1e-05 prints as
 *   "1e-05", not as %.17g's "1.0000000000000001e-05"), with ".0" appended when the text has
 *   no '.' or 'e' (10000 prints "10000.0"), and "inf", "-inf", "nan" for the specials (a
 *   NaN's sign and payload are not kept); strings double-quoted with \" \\ \n \t escaped
 *   and any other byte below 0x20 (or 0x7f) as \xHH.
 * - TYPE: "f32[16,64]", rank 0 "f32[]", a symbol dim "s3", un-inferred "?" (its dtype is
 *   not printed, and two un-inferred types compare equal).
 * - STORAGE, only when st != ST_NONE, after one space: "@arena+OFF", "@weights+OFF";
 *   "@tokens", "@pos", "@out", each followed by "+OFF" only when its offset is nonzero.
 *   The offset of an ST_NONE value is not printed (and is lost by a round trip).
 * - A mod.block line ends with " {"; its region's nodes (self, body_end) follow one level
 *   deeper, then "}" at the block's own indentation.  The region is taken from body_end
 *   (clamped to the enclosing range); parent is not printed, the parser rebuilds it.
 * - The graph's name prints as @NAME when it is non-empty and made only of
 *   [A-Za-z0-9_.$-]; otherwise as a quoted string, @"...".
 *
 * Misuse of the builder (too many operands or attributes, a key or string over the limits,
 * out of memory) is an internal error: a message on stderr, then abort().
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"

const char *const op_names[OP_COUNT] = {
#define X(e, s, n, doc) [e] = s,
  MODC_OPS(X)
#undef X
};

const int op_ninputs[OP_COUNT] = {
#define X(e, s, n, doc) [e] = n,
  MODC_OPS(X)
#undef X
};

static const char *const storage_names[] = {
#define X(e, s) [e] = s,
  MODC_STORAGES(X)
#undef X
};
#define NSTORAGE ((int)(sizeof storage_names / sizeof storage_names[0]))

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("modc: internal error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

int op_parse(const char *s, Op *out) {
  for (int o = 0; o < OP_COUNT; o++) {
    if (strcmp(s, op_names[o]) == 0) {
      *out = (Op)o;
      return 0;
    }
  }
  return -1;
}

static const char *op_name_safe(Op op) {
  return (unsigned)op < OP_COUNT ? op_names[op] : "<bad-op>";
}

/* ---- building ---- */

Graph *graph_new(const char *name, GraphMode mode) {
  Graph *g = calloc(1, sizeof *g);
  if (!g) die("out of memory");
  if (name && strlen(name) >= sizeof g->name) die("graph name '%s' longer than %d bytes", name, (int)sizeof g->name - 1);
  if (name) strcpy(g->name, name);
  g->mode = mode;
  return g;
}

void graph_free(Graph *g) {
  if (!g) return;
  free(g->n);
  free(g);
}

static void graph_grow(Graph *g) {
  int cap = g->cap ? g->cap * 2 : 64;
  if (cap <= g->cap) die("graph too large");
  Node *n = realloc(g->n, (size_t)cap * sizeof *n);
  if (!n) die("out of memory");
  g->n = n;
  g->cap = cap;
}

/* require: nin <= IR_MAXIN.  The node gets ty.rank = -1, parent = -1, body_end = 0,
 * st = ST_NONE, offset = 0; callers set parent and body_end for regions. */
int graph_add(Graph *g, Op op, int nin, const int *in) {
  if (nin < 0 || nin > IR_MAXIN) die("graph_add: %d operands for %s (max %d)", nin, op_name_safe(op), IR_MAXIN);
  if (g->len == g->cap) graph_grow(g);
  Node *n = &g->n[g->len];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->nin = nin;
  if (nin) memcpy(n->in, in, (size_t)nin * sizeof *in);
  n->ty.rank = -1;
  n->parent = -1;
  n->st = ST_NONE;
  return g->len++;
}

int graph_add_sym(Graph *g, int64_t bound) {
  if (g->nsym >= IR_MAXSYM) die("graph_add_sym: more than %d symbols", IR_MAXSYM);
  g->symbound[g->nsym] = bound;
  return g->nsym++;
}

Graph *graph_clone(const Graph *g) {
  Graph *c = malloc(sizeof *c);
  if (!c) die("out of memory");
  *c = *g;
  c->n = NULL;
  if (g->cap > 0) {
    c->n = malloc((size_t)g->cap * sizeof *c->n);
    if (!c->n) die("out of memory");
    memcpy(c->n, g->n, (size_t)g->len * sizeof *c->n);
  }
  return c;
}

/* ---- attributes ---- */

/* The slot for key: the existing one (cleared), else a new one at the end. */
static Attr *attr_slot(Node *n, const char *key) {
  if (strlen(key) >= IR_ATTR_KEY) die("attribute key '%s' longer than %d bytes", key, IR_ATTR_KEY - 1);
  Attr *a = (Attr *)attr_get(n, key);
  if (!a) {
    if (n->nattr >= IR_MAXATTR) die("more than %d attributes on a %s node (adding '%s')", IR_MAXATTR, op_name_safe(n->op), key);
    a = &n->attr[n->nattr++];
  }
  memset(a, 0, sizeof *a);
  strcpy(a->key, key);
  return a;
}

void attr_set_i(Node *n, const char *key, int64_t v) {
  Attr *a = attr_slot(n, key);
  a->kind = ATTR_INT;
  a->i = v;
}

void attr_set_f(Node *n, const char *key, double v) {
  Attr *a = attr_slot(n, key);
  a->kind = ATTR_FLOAT;
  a->f = v;
}

void attr_set_s(Node *n, const char *key, const char *v) {
  if (strlen(v) >= IR_ATTR_STR) die("attribute %s: string longer than %d bytes", key, IR_ATTR_STR - 1);
  Attr *a = attr_slot(n, key);
  a->kind = ATTR_STR;
  strcpy(a->s, v);
}

const Attr *attr_get(const Node *n, const char *key) {
  for (int k = 0; k < n->nattr && k < IR_MAXATTR; k++)
    if (strcmp(n->attr[k].key, key) == 0) return &n->attr[k];
  return NULL;
}

int block_is_causal(const Graph *g, const Node *b) {
  return g->mode == GRAPH_SESSION || attr_get(b, "sym") != NULL;
}

/* An int attribute's value; dflt when missing or not an int. */
int64_t attr_i(const Node *n, const char *key, int64_t dflt) {
  const Attr *a = attr_get(n, key);
  return a && a->kind == ATTR_INT ? a->i : dflt;
}

/* A float attribute's value; an int attribute reads as its value; dflt otherwise. */
double attr_f(const Node *n, const char *key, double dflt) {
  const Attr *a = attr_get(n, key);
  if (!a) return dflt;
  if (a->kind == ATTR_FLOAT) return a->f;
  if (a->kind == ATTR_INT) return (double)a->i;
  return dflt;
}

/* A string attribute's value; dflt when missing or not a string. */
const char *attr_s(const Node *n, const char *key, const char *dflt) {
  const Attr *a = attr_get(n, key);
  return a && a->kind == ATTR_STR ? a->s : dflt;
}

/* ---- types ---- */

Type type_make(DType dt, int rank, const int64_t *dims) {
  Type t;
  memset(&t, 0, sizeof t);
  if (rank < -1 || rank > IR_MAXRANK) die("type_make: rank %d", rank);
  t.dt = dt;
  t.rank = rank;
  for (int k = 0; k < rank; k++) t.dim[k] = dims[k];
  return t;
}

/* Un-inferred types are all equal (their dtype means nothing). */
int type_equal(const Type *a, const Type *b) {
  if (a->rank != b->rank) return 0;
  if (a->rank < 0) return 1;
  if (a->dt != b->dt) return 0;
  for (int k = 0; k < a->rank && k < IR_MAXRANK; k++)
    if (a->dim[k] != b->dim[k]) return 0;
  return 1;
}

/* A constant dim itself, a symbol its bound; -1 for a symbol the graph does not have. */
int64_t dim_bound(const Graph *g, int64_t d) {
  if (!DIM_IS_SYM(d)) return d;
  int s = DIM_SYMNO(d);
  if (s < 0 || s >= g->nsym) return -1;
  return g->symbound[s];
}

/* Elements with symbols at their bounds; -1 when un-inferred, a symbol is unknown or the
 * product overflows. */
int64_t type_numel_bound(const Graph *g, const Type *t) {
  if (t->rank < 0 || t->rank > IR_MAXRANK) return -1;
  int64_t n = 1;
  for (int k = 0; k < t->rank; k++) {
    int64_t d = dim_bound(g, t->dim[k]);
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return -1;
  }
  return n;
}

int64_t type_bytes_bound(const Graph *g, const Type *t) {
  int64_t n = type_numel_bound(g, t), b;
  if (n < 0 || __builtin_mul_overflow(n, (int64_t)dtype_size(t->dt), &b)) return -1;
  return b;
}

/* ---- printing ---- */

void type_print(const Type *t, FILE *out) {
  if (t->rank < 0) {
    fputc('?', out);
    return;
  }
  fprintf(out, "%s[", dtype_name(t->dt));
  for (int k = 0; k < t->rank && k < IR_MAXRANK; k++) {
    if (k) fputc(',', out);
    if (DIM_IS_SYM(t->dim[k])) fprintf(out, "s%lld", -(long long)(t->dim[k] + 1)); /* DIM_SYMNO, overflow-safe */
    else fprintf(out, "%lld", (long long)t->dim[k]);
  }
  fputc(']', out);
}

static void print_float(double v, FILE *out) {
  char buf[48];
  if (isnan(v)) {
    fputs("nan", out);
    return;
  }
  if (isinf(v)) {
    fputs(v < 0 ? "-inf" : "inf", out);
    return;
  }
  for (int p = 15; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*g", p, v);
    if (strtod(buf, NULL) == v) break;
  }
  if (!strpbrk(buf, ".e")) strcat(buf, ".0");
  fputs(buf, out);
}

static void print_string(const char *s, FILE *out) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c == '\n') fputs("\\n", out);
    else if (c == '\t') fputs("\\t", out);
    else if (c < 0x20 || c == 0x7f) fprintf(out, "\\x%02x", c);
    else fputc(c, out);
  }
  fputc('"', out);
}

static void print_attrs(const Node *n, FILE *out) {
  int na = n->nattr < IR_MAXATTR ? n->nattr : IR_MAXATTR;
  if (na <= 0) return;
  fputs(" {", out);
  for (int k = 0; k < na; k++) {
    const Attr *a = &n->attr[k];
    fprintf(out, "%s%.*s = ", k ? ", " : "", IR_ATTR_KEY, a->key);
    if (a->kind == ATTR_INT) fprintf(out, "%lld", (long long)a->i);
    else if (a->kind == ATTR_FLOAT) print_float(a->f, out);
    else print_string(a->s, out);
  }
  fputc('}', out);
}

static void print_storage(const Node *n, FILE *out) {
  if (n->st == ST_NONE) return;
  const char *s = (unsigned)n->st < NSTORAGE ? storage_names[n->st] : "<bad-storage>";
  fprintf(out, " @%s", s);
  if (n->st == ST_ARENA || n->st == ST_WEIGHTS || n->offset != 0) fprintf(out, "+%lld", (long long)n->offset);
}

/* One node's line without its newline (a mod.block's " {" included). */
static void print_node(const Graph *g, int i, int depth, FILE *out) {
  const Node *n = &g->n[i];
  fprintf(out, "%*s%%%d = %s", 2 * depth + 2, "", i, op_name_safe(n->op));
  for (int k = 0; k < n->nin && k < IR_MAXIN; k++) fprintf(out, "%s%%%d", k ? ", " : " ", n->in[k]);
  print_attrs(n, out);
  fputs(" : ", out);
  type_print(&n->ty, out);
  print_storage(n, out);
  sched_print(&n->sched, out);
}

/* Nodes [lo, hi) at the given depth; mod.block regions recurse one level deeper. */
static void print_range(const Graph *g, int lo, int hi, int depth, FILE *out) {
  int i = lo;
  while (i < hi) {
    print_node(g, i, depth, out);
    if (g->n[i].op != OP_MOD_BLOCK) {
      fputc('\n', out);
      i++;
      continue;
    }
    int end = g->n[i].body_end;
    if (end < i + 1) end = i + 1;
    if (end > hi) end = hi;
    fputs(" {\n", out);
    print_range(g, i + 1, end, depth + 1, out);
    fprintf(out, "%*s}\n", 2 * depth + 2, "");
    i = end;
  }
}

static int plain_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.$-", *s)) return 0;
  return 1;
}

void graph_print(const Graph *g, FILE *out) {
  char name[sizeof g->name + 1];
  snprintf(name, sizeof name, "%.*s", (int)sizeof g->name - 1, g->name);
  fputs("graph @", out);
  if (plain_name(name)) fputs(name, out);
  else print_string(name, out);
  fprintf(out, " mode = %s syms = [", g->mode == GRAPH_SESSION ? "session" : "forward");
  for (int s = 0; s < g->nsym && s < IR_MAXSYM; s++)
    fprintf(out, "%ss%d <= %lld", s ? ", " : "", s, (long long)g->symbound[s]);
  fprintf(out, "] arena = %lld {\n", (long long)g->arena_size);
  print_range(g, 0, g->len, 0, out);
  fputs("}\n", out);
}
