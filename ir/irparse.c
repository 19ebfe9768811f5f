/* irparse.c: the parser of the IR's text form (the printer is in ir.c; the grammar and the
 * exact printed form are described in ir.c's top comment).
 *
 * Hand-written recursive descent over the raw text, no separate lexer.  Whitespace and
 * line breaks are insignificant; "//" starts a comment that runs to the end of the line.
 * Values may have any name %[A-Za-z0-9_.$-]+ (at most 64 bytes); names are mapped to node
 * indices in order of definition, so printing a parsed graph renumbers them to %IDX.
 * Names are global to the graph (a region's names are not scoped).  The parser checks the
 * syntax and what it needs to build a well-formed array (operands defined earlier, operand
 * counts per op_ninputs, block.arg only inside a region, symbols declared in the header);
 * the region and attribute rules are graph_verify's.  Regions may nest in the text (up to
 * MAXDEPTH) so that the verifier, not the parser, rejects nesting.  parent and body_end are
 * rebuilt from the braces.
 *
 * Errors: "FILE:LINE:COL: error: message", LINE and COL 1-based (COL counts bytes), for the
 * first error only.  The parser never reads past the range it is given, whatever the input.
 *
 * graph_parse_all splits the text at lines that start with "// -----" (trailing blanks
 * allowed); pieces holding only blanks and comments are skipped.  It returns the number of
 * graphs, *out a malloc'd array of them (NULL when none; the caller frees each graph and the
 * array), or -1 with *out = NULL.  Line numbers are those of the whole text.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"

#define MAXDEPTH 16
#define MAXNAME 64

typedef struct NameEnt {
  char name[MAXNAME + 1];
  int idx;                   /* node index, or -1 for an empty slot */
} NameEnt;

typedef struct NameTab {
  NameEnt *e;
  int cap, len;              /* cap a power of two, or 0 */
} NameTab;

typedef struct Parser {
  const char *src;           /* the whole text: line/col are counted from here */
  size_t pos, end;           /* current position; the range ends at end */
  const char *file;
  char *err;
  size_t errlen;
  int failed;
  Graph *g;
  NameTab names;
  int depth;                 /* open mod.block regions */
  int open[MAXDEPTH];        /* their node indices */
  size_t open_at[MAXDEPTH];  /* where their '{' is */
} Parser;

/* ---- diagnostics ---- */

static void line_col(const Parser *p, size_t at, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t k = 0; k < at; k++) {
    if (p->src[k] == '\n') {
      ++*line;
      *col = 1;
    } else {
      ++*col;
    }
  }
}

static int perr(Parser *p, size_t at, const char *fmt, ...) {
  if (p->failed) return -1;
  p->failed = 1;
  int line, col;
  line_col(p, at, &line, &col);
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (p->err && p->errlen) snprintf(p->err, p->errlen, "%s:%d:%d: error: %s", p->file, line, col, msg);
  return -1;
}

/* ---- name table (open addressing, FNV-1a) ---- */

static unsigned name_hash(const char *s) {
  unsigned h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static NameEnt *name_slot(NameTab *t, const char *s) {
  unsigned m = (unsigned)t->cap - 1;
  for (unsigned h = name_hash(s) & m;; h = (h + 1) & m)
    if (t->e[h].idx < 0 || strcmp(t->e[h].name, s) == 0) return &t->e[h];
}

static int name_find(const NameTab *t, const char *s) {
  if (!t->cap) return -1;
  return name_slot((NameTab *)t, s)->idx;
}

static int name_grow(NameTab *t) {
  int cap = t->cap ? t->cap * 2 : 64;
  NameTab n = {calloc((size_t)cap, sizeof(NameEnt)), cap, t->len};
  if (!n.e) return -1;
  for (int k = 0; k < n.cap; k++) n.e[k].idx = -1;
  for (int k = 0; k < t->cap; k++)
    if (t->e[k].idx >= 0) *name_slot(&n, t->e[k].name) = t->e[k];
  free(t->e);
  *t = n;
  return 0;
}

/* require: s not defined yet */
static int name_add(NameTab *t, const char *s, int idx) {
  if (2 * (t->len + 1) > t->cap && name_grow(t)) return -1;
  NameEnt *e = name_slot(t, s);
  strcpy(e->name, s);
  e->idx = idx;
  t->len++;
  return 0;
}

/* ---- characters ---- */

static int peekc(const Parser *p) { return p->pos < p->end ? (unsigned char)p->src[p->pos] : 0; }
static int peekc2(const Parser *p) { return p->pos + 1 < p->end ? (unsigned char)p->src[p->pos + 1] : 0; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_word(int c) { return is_alpha(c) || is_digit(c) || c == '.'; }
static int is_name(int c) { return is_word(c) || c == '$' || c == '-'; }

/* blanks and // comments */
static void skip_ws(Parser *p) {
  for (;;) {
    int c = peekc(p);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
      p->pos++;
    } else if (c == '/' && peekc2(p) == '/') {
      while (p->pos < p->end && p->src[p->pos] != '\n') p->pos++;
    } else {
      return;
    }
  }
}

/* next non-blank character, not consumed (0 at the end) */
static int peek(Parser *p) {
  skip_ws(p);
  return peekc(p);
}

static int expect(Parser *p, char c, const char *where) {
  if (peek(p) != c) return perr(p, p->pos, "expected '%c' %s", c, where);
  p->pos++;
  return 0;
}

/* run := ok-char*, at most cap-1 bytes; empty is allowed (callers check) */
static int read_run(Parser *p, int (*ok)(int), char *buf, size_t cap, const char *what) {
  size_t at = p->pos, n = 0;
  while (ok(peekc(p))) {
    if (n + 1 >= cap) return perr(p, at, "%s longer than %d bytes", what, (int)cap - 1);
    buf[n++] = (char)peekc(p);
    p->pos++;
  }
  buf[n] = 0;
  return 0;
}

/* word := [A-Za-z_][A-Za-z0-9_.]* */
static int read_word(Parser *p, char *buf, size_t cap, const char *what) {
  if (!is_alpha(peek(p))) return perr(p, p->pos, "expected %s", what);
  return read_run(p, is_word, buf, cap, what);
}

static int expect_kw(Parser *p, const char *kw) {
  size_t at = (skip_ws(p), p->pos), n = strlen(kw);
  while (is_word(peekc(p))) p->pos++;
  if (p->pos - at != n || memcmp(p->src + at, kw, n) != 0) return perr(p, at, "expected '%s'", kw);
  return 0;
}

/* uint := [0-9]+, fitting int64 */
static int read_uint(Parser *p, int64_t *v, const char *what) {
  if (!is_digit(peek(p))) return perr(p, p->pos, "expected %s (an integer >= 0)", what);
  size_t at = p->pos;
  int64_t x = 0;
  while (is_digit(peekc(p))) {
    if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, peekc(p) - '0', &x))
      return perr(p, at, "%s out of range", what);
    p->pos++;
  }
  if (is_name(peekc(p))) return perr(p, at, "malformed %s", what);
  *v = x;
  return 0;
}

/* ---- strings and numbers ---- */

static int hexval(int c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* escape := \" | \\ | \n | \t | \xHH (not \x00); p->pos is at the backslash */
static int read_escape(Parser *p, char *out) {
  size_t at = p->pos++;
  int c = peekc(p);
  p->pos++;
  if (c == '"' || c == '\\') *out = (char)c;
  else if (c == 'n') *out = '\n';
  else if (c == 't') *out = '\t';
  else if (c == 'x' && hexval(peekc(p)) >= 0 && hexval(peekc2(p)) >= 0) {
    *out = (char)(hexval(peekc(p)) * 16 + hexval(peekc2(p)));
    p->pos += 2;
    if (!*out) return perr(p, at, "\\x00 is not allowed in a string");
  } else {
    return perr(p, at, "unknown escape in string (use \\\" \\\\ \\n \\t or \\xHH)");
  }
  return 0;
}

/* string := '"' (char | escape)* '"', on one line, at most cap-1 bytes */
static int read_string(Parser *p, char *buf, size_t cap) {
  size_t at = p->pos, n = 0;
  if (expect(p, '"', "to open a string")) return -1;
  for (;;) {
    int c = peekc(p);
    char ch;
    if (c == '"') break;
    if (c == 0 || c == '\n') return perr(p, at, "unterminated string");
    if (c == '\\') {
      if (read_escape(p, &ch)) return -1;
    } else {
      ch = (char)c;
      p->pos++;
    }
    if (n + 1 >= cap) return perr(p, at, "string longer than %d bytes", (int)cap - 1);
    buf[n++] = ch;
  }
  p->pos++;
  buf[n] = 0;
  return 0;
}

static void skip_digits(Parser *p) {
  while (is_digit(peekc(p))) p->pos++;
}

/* special := 'inf' | 'nan' (after an optional '-', which neg says) */
static int read_special(Parser *p, size_t at, int neg, Attr *a) {
  size_t w = p->pos;
  while (is_name(peekc(p))) p->pos++;
  int inf = p->pos - w == 3 && memcmp(p->src + w, "inf", 3) == 0;
  int nan = p->pos - w == 3 && memcmp(p->src + w, "nan", 3) == 0;
  if (!inf && !nan) return perr(p, at, "expected an attribute value (integer, float or string)");
  a->kind = ATTR_FLOAT;
  a->f = nan ? NAN : neg ? -INFINITY : INFINITY;
  return 0;
}

/* Converts the number text src[at, p->pos) with strtod or strtoll. */
static int convert_number(Parser *p, size_t at, int isf, Attr *a) {
  char buf[512];
  if (p->pos - at >= sizeof buf) return perr(p, at, "number longer than %d bytes", (int)sizeof buf - 1);
  memcpy(buf, p->src + at, p->pos - at);
  buf[p->pos - at] = 0;
  errno = 0;
  if (isf) {
    a->kind = ATTR_FLOAT;
    a->f = strtod(buf, NULL);
    if (errno == ERANGE && isinf(a->f)) return perr(p, at, "float out of range");
  } else {
    a->kind = ATTR_INT;
    a->i = strtoll(buf, NULL, 10);
    if (errno == ERANGE) return perr(p, at, "integer out of range");
  }
  return 0;
}

/* number := '-'? (special | digits ('.' digits*)? ([eE] [+-]? digits)?);
 * a float if it has '.', an exponent, or is special; else an int */
static int read_number(Parser *p, Attr *a) {
  size_t at = p->pos;
  int neg = peekc(p) == '-', isf = 0;
  p->pos += neg;
  if (is_alpha(peekc(p))) return read_special(p, at, neg, a);
  if (!is_digit(peekc(p))) return perr(p, at, "expected an attribute value (integer, float or string)");
  skip_digits(p);
  if (peekc(p) == '.') isf = 1, p->pos++, skip_digits(p);
  if (peekc(p) == 'e' || peekc(p) == 'E') {
    isf = 1, p->pos++;
    if (peekc(p) == '+' || peekc(p) == '-') p->pos++;
    if (!is_digit(peekc(p))) return perr(p, at, "malformed number");
    skip_digits(p);
  }
  if (is_name(peekc(p))) return perr(p, at, "malformed number");
  return convert_number(p, at, isf, a);
}

/* ---- types, attributes, storage ---- */

/* dim := uint | 's' uint (a declared symbol) */
static int parse_dim(Parser *p, int64_t *d) {
  int c = peek(p);
  size_t at = p->pos;
  if (is_digit(c)) return read_uint(p, d, "dimension");
  if (c != 's' || !is_digit(peekc2(p))) return perr(p, at, "expected a dimension (an integer or a symbol sN)");
  p->pos++;
  int64_t s;
  if (read_uint(p, &s, "symbol number")) return -1;
  if (s >= p->g->nsym) return perr(p, at, "unknown symbol s%lld (the graph declares %d)", (long long)s, p->g->nsym);
  *d = DIM_SYM(s);
  return 0;
}

/* type := '?' | dtype '[' (dim (',' dim)*)? ']' */
static int parse_type(Parser *p, Type *t) {
  char w[16];
  memset(t, 0, sizeof *t);
  t->rank = -1;
  if (peek(p) == '?') return p->pos++, 0;
  size_t at = p->pos;
  if (read_word(p, w, sizeof w, "a type (such as f32[4,8], or ? when not inferred)")) return -1;
  if (dtype_parse(w, &t->dt)) return perr(p, at, "unknown dtype '%s'", w);
  if (expect(p, '[', "after the dtype")) return -1;
  t->rank = 0;
  if (peek(p) == ']') return p->pos++, 0;
  for (;;) {
    if (t->rank == IR_MAXRANK) return perr(p, p->pos, "more than %d dimensions", IR_MAXRANK);
    if (parse_dim(p, &t->dim[t->rank++])) return -1;
    if (peek(p) == ']') return p->pos++, 0;
    if (expect(p, ',', "or ']' in the type")) return -1;
  }
}

/* attr := key '=' (number | string) */
static int parse_attr(Parser *p, Node *nd) {
  size_t at = (skip_ws(p), p->pos);
  char key[IR_ATTR_KEY];
  if (read_word(p, key, sizeof key, "an attribute name")) return -1;
  if (attr_get(nd, key)) return perr(p, at, "duplicate attribute '%s'", key);
  if (nd->nattr == IR_MAXATTR) return perr(p, at, "more than %d attributes", IR_MAXATTR);
  if (expect(p, '=', "after the attribute name")) return -1;
  Attr *a = &nd->attr[nd->nattr];
  memset(a, 0, sizeof *a);
  strcpy(a->key, key);
  if (peek(p) == '"') {
    a->kind = ATTR_STR;
    if (read_string(p, a->s, sizeof a->s)) return -1;
  } else if (read_number(p, a)) {
    return -1;
  }
  nd->nattr++;
  return 0;
}

/* attrs := '{' (attr (',' attr)*)? '}' */
static int parse_attrs(Parser *p, Node *nd) {
  if (expect(p, '{', "to open the attributes")) return -1;
  if (peek(p) == '}') return p->pos++, 0;
  for (;;) {
    if (parse_attr(p, nd)) return -1;
    if (peek(p) == '}') return p->pos++, 0;
    if (expect(p, ',', "or '}' after an attribute")) return -1;
  }
}

/* storage := '@' ('arena'|'weights'|'tokens'|'pos'|'out') ('+' uint)? */
static int parse_storage(Parser *p, Node *nd) {
  static const char *const names[] = {
#define X(e, s) [e] = s,
    MODC_STORAGES(X)
#undef X
  };
  char w[16];
  size_t at = p->pos++;
  if (!is_alpha(peekc(p))) return perr(p, at, "expected a storage name after '@'");
  if (read_run(p, is_word, w, sizeof w, "storage name")) return -1;
  int st = 1;
  while (st < (int)(sizeof names / sizeof names[0]) && strcmp(names[st], w)) st++;
  if (st == (int)(sizeof names / sizeof names[0])) return perr(p, at, "unknown storage '@%s'", w);
  nd->st = (Storage)st;
  if (peekc(p) != '+') return 0;
  p->pos++;
  return read_uint(p, &nd->offset, "offset");
}

/* sched := '#' kind '{' field '=' int (',' field '=' int)* '}', every field of the kind once */
static int parse_sched(Parser *p, Node *nd) {
  char w[16], f[24];
  size_t at = p->pos++;
  if (read_run(p, is_word, w, sizeof w, "schedule kind")) return -1;
  int k = sched_kind_parse(w);
  if (k < 0) return perr(p, at, "unknown schedule kind '#%s' (kinds: matmul, attn, ew)", w);
  nd->sched.kind = (SchedKind)k;
  if (expect(p, '{', "to open the schedule record")) return -1;
  uint32_t set = 0;
  while (peek(p) != '}') {
    if (set && expect(p, ',', "or '}' after a schedule field")) return -1;
    size_t fat = (skip_ws(p), p->pos);
    if (read_word(p, f, sizeof f, "a schedule field")) return -1;
    int i = sched_field_index((SchedKind)k, f);
    if (i < 0) return perr(p, fat, "'#%s' has no field '%s'", w, f);
    if (set >> i & 1) return perr(p, fat, "duplicate schedule field '%s'", f);
    if (expect(p, '=', "after the schedule field")) return -1;
    Attr v;
    size_t vat = (skip_ws(p), p->pos);
    if (read_number(p, &v)) return -1;
    if (v.kind != ATTR_INT) return perr(p, vat, "schedule field '%s' takes an integer", f);
    *sched_field(&nd->sched, (SchedKind)k, f) = v.i;
    set |= 1u << i;
  }
  const char *miss = sched_missing((SchedKind)k, set);
  if (miss) return perr(p, p->pos, "'#%s' record without its field '%s'", w, miss);
  p->pos++;
  return 0;
}

/* ---- nodes ---- */

/* value := '%' name; the name goes to buf (MAXNAME + 1 bytes) */
static int read_value(Parser *p, char *buf) {
  if (peek(p) != '%') return perr(p, p->pos, "expected a value (%%name)");
  size_t at = p->pos++;
  if (read_run(p, is_name, buf, MAXNAME + 1, "value name")) return -1;
  if (!buf[0]) return perr(p, at, "expected a value name after '%%'");
  return 0;
}

/* operands := (value (',' value)*)? */
static int parse_operands(Parser *p, Node *nd) {
  char name[MAXNAME + 1];
  if (peek(p) != '%') return 0;
  for (;;) {
    size_t at = p->pos;
    if (read_value(p, name)) return -1;
    int idx = name_find(&p->names, name);
    if (idx < 0) return perr(p, at, "unknown value %%%s", name);
    if (nd->nin == IR_MAXIN) return perr(p, at, "more than %d operands", IR_MAXIN);
    nd->in[nd->nin++] = idx;
    if (peek(p) != ',') return 0;
    p->pos++;
  }
}

/* The op's name and its operands; checks the operand count. */
static int parse_op(Parser *p, Node *nd) {
  char w[32];
  size_t at = (skip_ws(p), p->pos);
  if (read_word(p, w, sizeof w, "an op name")) return -1;
  if (op_parse(w, &nd->op)) return perr(p, at, "unknown op '%s'", w);
  if (parse_operands(p, nd)) return -1;
  int want = op_ninputs[nd->op];
  if (want >= 0 && nd->nin != want)
    return perr(p, at, "'%s' takes %d operand%s, got %d", w, want, want == 1 ? "" : "s", nd->nin);
  if (nd->op == OP_BLOCK_ARG && p->depth == 0) return perr(p, at, "block.arg outside a mod.block region");
  return 0;
}

/* Appends nd to the graph (in the innermost open region) and names it. */
static int add_node(Parser *p, const Node *nd, const char *name) {
  int idx = graph_add(p->g, nd->op, nd->nin, nd->in);
  Node *n = &p->g->n[idx];
  n->ty = nd->ty;
  n->nattr = nd->nattr;
  memcpy(n->attr, nd->attr, sizeof n->attr);
  n->st = nd->st;
  n->offset = nd->offset;
  n->sched = nd->sched;
  n->parent = p->depth ? p->open[p->depth - 1] : -1;
  if (name_add(&p->names, name, idx)) return perr(p, p->pos, "out of memory");
  return idx;
}

/* A mod.block's '{': opens its region. */
static int open_region(Parser *p, int idx) {
  if (peek(p) != '{') return perr(p, p->pos, "expected '{' to open the mod.block's region");
  if (p->depth == MAXDEPTH) return perr(p, p->pos, "regions nested more than %d deep", MAXDEPTH);
  p->open[p->depth] = idx;
  p->open_at[p->depth++] = p->pos++;
  return 0;
}

/* node := value '=' op operands attrs? ':' type storage? sched? region? */
static int parse_node(Parser *p) {
  char name[MAXNAME + 1];
  Node nd;
  memset(&nd, 0, sizeof nd);
  size_t at = (skip_ws(p), p->pos);
  if (read_value(p, name)) return -1;
  if (name_find(&p->names, name) >= 0) return perr(p, at, "duplicate value name %%%s", name);
  if (expect(p, '=', "after the value name") || parse_op(p, &nd)) return -1;
  if (peek(p) == '{' && parse_attrs(p, &nd)) return -1;
  if (expect(p, ':', "before the type") || parse_type(p, &nd.ty)) return -1;
  if (peek(p) == '@' && parse_storage(p, &nd)) return -1;
  if (peek(p) == '#' && parse_sched(p, &nd)) return -1;
  int idx = add_node(p, &nd, name);
  if (idx < 0) return -1;
  if (nd.op == OP_MOD_BLOCK) return open_region(p, idx);
  if (peek(p) == '{') return perr(p, p->pos, "only mod.block has a region");
  return 0;
}

/* A '}' closes the innermost region, or the graph (returns 1). */
static int close_brace(Parser *p) {
  p->pos++;
  if (p->depth == 0) return 1;
  p->g->n[p->open[--p->depth]].body_end = p->g->len;
  return 0;
}

static int at_end_error(Parser *p) {
  if (p->depth == 0) return perr(p, p->pos, "expected '}' to close graph @%s", p->g->name);
  int line, col, b = p->open[p->depth - 1];
  line_col(p, p->open_at[p->depth - 1], &line, &col);
  return perr(p, p->pos, "unterminated region: expected '}' to close the region of %%%d (mod.block) opened at line %d", b, line);
}

/* body := node* '}' (regions included) */
static int parse_body(Parser *p) {
  for (;;) {
    int c = peek(p);
    if (c == 0 && p->pos >= p->end) return at_end_error(p);
    if (c == '}') {
      if (close_brace(p)) return 0;
    } else if (c == '%') {
      if (parse_node(p)) return -1;
    } else {
      return perr(p, p->pos, "expected a value definition (%%name = op ...) or '}'");
    }
  }
}

/* ---- the graph ---- */

/* name := [A-Za-z0-9_.$-]+ | string */
static int parse_graph_name(Parser *p) {
  if (expect(p, '@', "before the graph name")) return -1;
  size_t at = p->pos;
  char *name = p->g->name;
  if (peekc(p) == '"') return read_string(p, name, sizeof p->g->name);
  if (read_run(p, is_name, name, sizeof p->g->name, "graph name")) return -1;
  if (!name[0]) return perr(p, at, "expected the graph name after '@'");
  return 0;
}

static int parse_mode(Parser *p) {
  char w[16];
  size_t at;
  if (expect_kw(p, "mode") || expect(p, '=', "after 'mode'")) return -1;
  at = (skip_ws(p), p->pos);
  if (read_word(p, w, sizeof w, "a mode (forward or session)")) return -1;
  if (strcmp(w, "forward") == 0) p->g->mode = GRAPH_FORWARD;
  else if (strcmp(w, "session") == 0) p->g->mode = GRAPH_SESSION;
  else return perr(p, at, "unknown mode '%s' (forward or session)", w);
  return 0;
}

/* sym := 's' N '<=' uint, N = the symbol's position in the list */
static int parse_sym(Parser *p) {
  Graph *g = p->g;
  size_t at = (skip_ws(p), p->pos);
  int64_t s, bound;
  if (peekc(p) != 's' || !is_digit(peekc2(p))) return perr(p, at, "expected a symbol s%d", g->nsym);
  p->pos++;
  if (read_uint(p, &s, "symbol number")) return -1;
  if (s != g->nsym) return perr(p, at, "symbols must be declared in order: expected s%d", g->nsym);
  if (g->nsym == IR_MAXSYM) return perr(p, at, "more than %d symbols", IR_MAXSYM);
  if (peek(p) != '<' || peekc2(p) != '=') return perr(p, p->pos, "expected '<=' after the symbol");
  p->pos += 2;
  if (read_uint(p, &bound, "symbol bound")) return -1;
  graph_add_sym(g, bound);
  return 0;
}

/* syms := 'syms' '=' '[' (sym (',' sym)*)? ']' */
static int parse_syms(Parser *p) {
  if (expect_kw(p, "syms") || expect(p, '=', "after 'syms'") || expect(p, '[', "to open the symbol list"))
    return -1;
  if (peek(p) == ']') return p->pos++, 0;
  for (;;) {
    if (parse_sym(p)) return -1;
    if (peek(p) == ']') return p->pos++, 0;
    if (expect(p, ',', "or ']' in the symbol list")) return -1;
  }
}

/* graph := 'graph' name 'mode' '=' mode syms 'arena' '=' uint '{' body */
static int parse_graph(Parser *p) {
  if (expect_kw(p, "graph") || parse_graph_name(p) || parse_mode(p) || parse_syms(p)) return -1;
  if (expect_kw(p, "arena") || expect(p, '=', "after 'arena'") || read_uint(p, &p->g->arena_size, "arena size"))
    return -1;
  if (expect(p, '{', "to open the graph's body") || parse_body(p)) return -1;
  skip_ws(p);
  if (p->pos < p->end) return perr(p, p->pos, "unexpected text after the end of the graph");
  return 0;
}

/* Parses the graph in src[start, end); positions are reported relative to src. */
static Graph *parse_range(const char *src, size_t start, size_t end, const char *file, char *err, size_t errlen) {
  Parser p;
  memset(&p, 0, sizeof p);
  p.src = src;
  p.pos = start;
  p.end = end;
  p.file = file ? file : "<input>";
  p.err = err;
  p.errlen = errlen;
  p.g = graph_new("", GRAPH_FORWARD);
  int rc = parse_graph(&p);
  free(p.names.e);
  if (rc == 0) return p.g;
  graph_free(p.g);
  return NULL;
}

Graph *graph_parse(const char *text, const char *filename, char *err, size_t errlen) {
  if (!text) {
    if (err && errlen) snprintf(err, errlen, "%s: error: no input", filename ? filename : "<input>");
    return NULL;
  }
  return parse_range(text, 0, strlen(text), filename, err, errlen);
}

/* ---- split files ---- */

/* Is the line at s (up to a newline or the end) a "// -----" separator? */
static int is_separator(const char *s) {
  if (strncmp(s, "// -----", 8) != 0) return 0;
  for (s += 8; *s && *s != '\n'; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
  return 1;
}

/* Only blanks and comments in src[start, end)? */
static int blank_range(const char *src, size_t start, size_t end) {
  Parser p;
  memset(&p, 0, sizeof p);
  p.src = src;
  p.pos = start;
  p.end = end;
  skip_ws(&p);
  return p.pos >= p.end;
}

/* The end of the piece that starts at start: the next separator line, or the text's end. */
static size_t piece_end(const char *text, size_t start, size_t len) {
  size_t k = start;
  while (k < len) {
    if (is_separator(text + k)) return k;
    const char *nl = memchr(text + k, '\n', len - k);
    k = nl ? (size_t)(nl - text) + 1 : len;
  }
  return len;
}

static int push_graph(Graph ***v, int *n, int *cap, Graph *g) {
  if (*n == *cap) {
    int nc = *cap ? *cap * 2 : 8;
    Graph **nv = realloc(*v, (size_t)nc * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    *cap = nc;
  }
  (*v)[(*n)++] = g;
  return 0;
}

static int fail_all(Graph **v, int n, Graph ***out) {
  for (int k = 0; k < n; k++) graph_free(v[k]);
  free(v);
  *out = NULL;
  return -1;
}

int graph_parse_all(const char *text, const char *filename, Graph ***out, char *err, size_t errlen) {
  Graph **v = NULL;
  int n = 0, cap = 0;
  size_t len = text ? strlen(text) : 0, start = 0;
  *out = NULL;
  while (start <= len) {
    size_t end = piece_end(text, start, len);
    if (!blank_range(text, start, end)) {
      Graph *g = parse_range(text, start, end, filename, err, errlen);
      if (!g) return fail_all(v, n, out);
      if (push_graph(&v, &n, &cap, g)) {
        graph_free(g);
        if (err && errlen) snprintf(err, errlen, "%s: error: out of memory", filename ? filename : "<input>");
        return fail_all(v, n, out);
      }
    }
    if (end >= len) break;
    const char *nl = memchr(text + end, '\n', len - end);
    start = nl ? (size_t)(nl - text) + 1 : len + 1;
  }
  *out = v;
  return n;
}
