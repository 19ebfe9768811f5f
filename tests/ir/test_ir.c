/* test_ir.c: the IR text form: printing graphs built through the API, parsing, exact round
 * trips (print(parse(print(parse(x)))) == print(parse(x)) byte for byte), split files,
 * parser diagnostics with their locations, and a mutation smoke test of the parser (it
 * must never crash, and whatever it accepts must round-trip).  chibicc-style: a list of
 * ASSERTs; the first failure prints and the run exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"

static int nfail;

#define ASSERT(cond)                                                   \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond); \
      nfail++;                                                         \
    }                                                                  \
  } while (0)

#define ASSERT_STR(want, got)                                          \
  do {                                                                 \
    const char *w_ = (want), *g_ = (got);                              \
    if (strcmp(w_, g_) != 0) {                                         \
      fprintf(stderr, "%s:%d: want:\n%s\n--- got:\n%s\n", __FILE__, __LINE__, w_, g_); \
      nfail++;                                                         \
    }                                                                  \
  } while (0)

/* graph_print into a malloc'd string */
static char *print_str(const Graph *g) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  graph_print(g, f);
  fclose(f);
  return buf;
}

/* print(parse(text)), or NULL with the error on stderr */
static char *canon(const char *text) {
  char err[512];
  Graph *g = graph_parse(text, "t.mlir", err, sizeof err);
  if (!g) {
    fprintf(stderr, "parse failed: %s\n", err);
    return NULL;
  }
  char *s = print_str(g);
  graph_free(g);
  return s;
}

/* print(parse(print(parse(x)))) == print(parse(x)) */
static void check_round_trip(const char *text) {
  char *a = canon(text);
  ASSERT(a != NULL);
  if (!a) return;
  char *b = canon(a);
  ASSERT(b != NULL);
  if (b) ASSERT_STR(a, b);
  free(a);
  free(b);
}

/* ---- a graph built through the API ---- */

static int add_weight(Graph *g, const char *name, int64_t off, int rank, int64_t d0, int64_t d1) {
  int64_t d[2] = {d0, d1};
  int w = graph_add(g, OP_WEIGHT, 0, NULL);
  attr_set_s(&g->n[w], "name", name);
  attr_set_i(&g->n[w], "offset", off);
  g->n[w].ty = type_make(DT_F32, rank, d);
  g->n[w].st = ST_WEIGHTS;
  g->n[w].offset = off;
  return w;
}

static Graph *build_session(void) {
  Graph *g = graph_new("session", GRAPH_SESSION);
  int n = graph_add_sym(g, 1024), m = graph_add_sym(g, 1024);
  int64_t rows = DIM_SYM(n), taken = DIM_SYM(m);
  int tok = graph_add(g, OP_INPUT, 0, NULL);
  attr_set_s(&g->n[tok], "name", "tokens");
  g->n[tok].ty = type_make(DT_I32, 1, &rows);
  g->n[tok].st = ST_TOKENS;
  int pos = graph_add(g, OP_INPUT, 0, NULL);
  attr_set_s(&g->n[pos], "name", "pos");
  g->n[pos].ty = type_make(DT_I32, 1, &rows);
  g->n[pos].st = ST_POS;
  int E = add_weight(g, "model.embed_tokens.weight", 0, 2, 256, 64);
  int wr = add_weight(g, "model.layers.1.router.weight", 65536, 2, 1, 64);
  int wn = add_weight(g, "model.layers.1.input_layernorm.weight", 65792, 1, 64, 0);
  int h = graph_add(g, OP_EMBED, 2, (int[]){tok, E});
  int blk = graph_add(g, OP_MOD_BLOCK, 3, (int[]){h, pos, wr});
  Node *b = &g->n[blk];
  attr_set_i(b, "layer", 1);
  attr_set_f(b, "capacity", 0.125);
  attr_set_s(b, "gate", "raw");
  attr_set_s(b, "predictor", "router");
  attr_set_i(b, "sym", m);
  int x = graph_add(g, OP_BLOCK_ARG, 0, NULL);
  attr_set_i(&g->n[x], "index", 0);
  int xp = graph_add(g, OP_BLOCK_ARG, 0, NULL);
  attr_set_i(&g->n[xp], "index", 1);
  int nx = graph_add(g, OP_RMSNORM, 2, (int[]){x, wn});
  attr_set_f(&g->n[nx], "eps", 1e-5);
  int y = graph_add(g, OP_YIELD, 1, &nx);
  for (int k = x; k <= y; k++) g->n[k].parent = blk;
  g->n[blk].body_end = y + 1;
  int out = graph_add(g, OP_OUTPUT, 1, &blk);
  attr_set_s(&g->n[out], "name", "logits");
  g->n[out].st = ST_OUT;
  (void)taken;
  return g;
}

static const char *session_text =
  "graph @session mode = session syms = [s0 <= 1024, s1 <= 1024] arena = 0 {\n"
  "  %0 = input {name = \"tokens\"} : i32[s0] @tokens\n"
  "  %1 = input {name = \"pos\"} : i32[s0] @pos\n"
  "  %2 = weight {name = \"model.embed_tokens.weight\", offset = 0} : f32[256,64] @weights+0\n"
  "  %3 = weight {name = \"model.layers.1.router.weight\", offset = 65536} : f32[1,64] @weights+65536\n"
  "  %4 = weight {name = \"model.layers.1.input_layernorm.weight\", offset = 65792} : f32[64] @weights+65792\n"
  "  %5 = embed %0, %2 : ?\n"
  "  %6 = mod.block %5, %1, %3 {layer = 1, capacity = 0.125, gate = \"raw\", predictor = \"router\", sym = 1} : ? {\n"
  "    %7 = block.arg {index = 0} : ?\n"
  "    %8 = block.arg {index = 1} : ?\n"
  "    %9 = rmsnorm %7, %4 {eps = 1e-05} : ?\n"
  "    %10 = yield %9 : ?\n"
  "  }\n"
  "  %11 = output %6 {name = \"logits\"} : ? @out\n"
  "}\n";

static void test_print_api(void) {
  Graph *g = build_session();
  char err[512];
  ASSERT(graph_verify(g, err, sizeof err) == 0);
  char *s = print_str(g);
  ASSERT_STR(session_text, s);
  free(s);
  /* and what the parser makes of that text is the same graph */
  Graph *p = graph_parse(session_text, "t", err, sizeof err);
  ASSERT(p != NULL);
  if (p) {
    ASSERT(p->len == g->len && p->nsym == 2 && p->mode == GRAPH_SESSION);
    for (int i = 0; i < p->len && i < g->len; i++) {
      ASSERT(p->n[i].parent == g->n[i].parent);
      ASSERT(p->n[i].op != OP_MOD_BLOCK || p->n[i].body_end == g->n[i].body_end);
      ASSERT(type_equal(&p->n[i].ty, &g->n[i].ty));
      ASSERT(p->n[i].nattr == g->n[i].nattr);
    }
    graph_free(p);
  }
  graph_free(g);
}

/* Type and storage corner cases printed by the API. */
static void test_print_corners(void) {
  Graph *g = graph_new("weird name!", GRAPH_FORWARD);
  graph_add_sym(g, 7);
  g->arena_size = 128;
  int a = graph_add(g, OP_INPUT, 0, NULL);
  attr_set_s(&g->n[a], "name", "tab\there \"q\" back\\slash\x7f");
  attr_set_f(&g->n[a], "f1", 10000.0);
  attr_set_f(&g->n[a], "f2", 0.1);
  attr_set_f(&g->n[a], "f3", -1.0 / 0.0);
  attr_set_f(&g->n[a], "f4", -0.0);
  attr_set_i(&g->n[a], "i", -42);
  g->n[a].ty = type_make(DT_BF16, 0, NULL);
  g->n[a].st = ST_POS;
  g->n[a].offset = 8;
  int64_t d[3] = {DIM_SYM(0), 3, 0};
  int b = graph_add(g, OP_SILU, 1, &a);
  g->n[b].ty = type_make(DT_F16, 3, d);
  g->n[b].st = ST_ARENA;
  g->n[b].offset = 64;
  char *s = print_str(g);
  ASSERT_STR("graph @\"weird name!\" mode = forward syms = [s0 <= 7] arena = 128 {\n"
             "  %0 = input {name = \"tab\\there \\\"q\\\" back\\\\slash\\x7f\", f1 = 10000.0, f2 = 0.1, f3 = -inf, f4 = -0.0, i = -42} : bf16[] @pos+8\n"
             "  %1 = silu %0 : f16[s0,3,0] @arena+64\n"
             "}\n",
             s);
  check_round_trip(s);
  char *again = canon(s);
  if (again) ASSERT_STR(s, again);
  free(again);
  free(s);
  graph_free(g);
}

/* ---- round trips of text ---- */

static const char *corpus[] = {
  /* a forward graph with a region, every storage, odd names and values */
  "// leading comment\n"
  "graph @fwd mode = forward syms = [] arena = 4096 {\n"
  "  %tok = input {name = \"tokens\"} : i32[16] @tokens\n"
  "  %pos = input {name = \"pos\"} : i32[16] @pos\n"
  "  %E = weight {name = \"e\", offset = 0} : f32[256,64] @weights+0\n"
  "  %w.r = weight {name = \"r\", offset = 64} : bf16[1,64] @weights+64\n"
  "  %h = embed %tok, %E : f32[16,64] @arena+0   // trailing comment\n"
  "  %b = mod.block %h, %pos, %w.r {layer = 1, capacity = 0.125, k = 2, gate = \"raw\", predictor = \"router\"} : f32[16,64] @arena+4096 {\n"
  "    %x = block.arg {index = 0} : f32[2,64]\n"
  "    %p = block.arg {index = 1} : i32[2]\n"
  "    %y = yield %x : f32[2,64]\n"
  "  }\n"
  "  %o = output %b {name = \"logits\"} : f32[16,64] @out\n"
  "}\n",
  /* free layout, floats in every spelling */
  "graph @g mode=session syms=[s0<=1,s1<=2] arena=0{%a=input{name=\"x\",a=1e-05,b=10000.0,c=1E3,d=-2.5e+300,"
  "e=5e-324,f=nan,g=-inf,h=123456789.123456789,i=0.30000000000000004}:f32[]"
  "%b=silu %a{j=-9223372036854775808,k=\"\"}:?}",
  /* an empty graph; an empty region; a nested region (the verifier's to reject) */
  "graph @e mode = forward syms = [] arena = 0 {\n}\n",
  "graph @r mode = forward syms = [] arena = 0 { %0 = input {} : ? %1 = mod.block %0, %0, %0 : ? { } }",
  "graph @n mode = forward syms = [] arena = 0 { %0 = input : ? %1 = mod.block %0, %0, %0 : ? {\n"
  "  %2 = block.arg : ? %3 = mod.block %2, %2, %2 : ? { %4 = block.arg : ? } %5 = yield %3 : ? } %6 = silu %1 : ? }",
};

static void test_round_trips(void) {
  for (size_t k = 0; k < sizeof corpus / sizeof *corpus; k++) check_round_trip(corpus[k]);
  /* the floats of corpus[1] print in their shortest exact form */
  char *s = canon(corpus[1]);
  ASSERT(s && strstr(s, "a = 1e-05, b = 10000.0, c = 1000.0, d = -2.5e+300, e = 4.94065645841247e-324, f = nan, "
                        "g = -inf, h = 123456789.12345679, i = 0.30000000000000004} : f32[]\n  %1 = silu %0 {j = -9223372036854775808, k = \"\"} : ?\n"));
  free(s);
  s = canon(corpus[4]);
  ASSERT(s && strstr(s, "    %3 = mod.block %2, %2, %2 : ? {\n      %4 = block.arg : ?\n    }\n    %5 = yield %3 : ?\n  }\n  %6 = silu %1"));
  free(s);
}

/* ---- split files ---- */

static void test_parse_all(void) {
  const char *text =
    "// RUN: nothing\n"
    "graph @a mode = forward syms = [] arena = 0 {\n}\n"
    "// -----\n"
    "// only a comment here\n"
    "// -----   \n"
    "graph @b mode = forward syms = [] arena = 0 {\n}\n"
    "// -----\n";
  Graph **gs;
  char err[512];
  int n = graph_parse_all(text, "f", &gs, err, sizeof err);
  ASSERT(n == 2);
  if (n == 2) {
    ASSERT_STR("a", gs[0]->name);
    ASSERT_STR("b", gs[1]->name);
    graph_free(gs[0]);
    graph_free(gs[1]);
    free(gs);
  }
  ASSERT(graph_parse_all("", "f", &gs, err, sizeof err) == 0 && gs == NULL);
  /* line numbers count from the start of the file */
  const char *bad = "graph @a mode = forward syms = [] arena = 0 {\n}\n// -----\n\ngraph @b mode = forward syms = [] arena = 0 {\n  %0 = nop : ?\n}\n";
  ASSERT(graph_parse_all(bad, "f.mlir", &gs, err, sizeof err) == -1 && gs == NULL);
  ASSERT_STR("f.mlir:6:8: error: unknown op 'nop'", err);
  /* graph_parse sees the separator as a comment: two graphs are trailing text */
  ASSERT(graph_parse(text, "f", err, sizeof err) == NULL);
  ASSERT_STR("f:7:1: error: unexpected text after the end of the graph", err);
}

/* ---- diagnostics ---- */

#define HDR "graph @g mode = forward syms = [s0 <= 4] arena = 0 {\n"

static const struct {
  const char *text, *err;
} bad_inputs[] = {
  {"", "t:1:1: error: expected 'graph'"},
  {"graph g", "t:1:7: error: expected '@' before the graph name"},
  {"graph @g mode = backward", "t:1:17: error: unknown mode 'backward' (forward or session)"},
  {"graph @g mode = forward syms = [s1 <= 4]", "t:1:33: error: symbols must be declared in order: expected s0"},
  {"graph @g mode = forward syms = [s0 < 4]", "t:1:36: error: expected '<=' after the symbol"},
  {"graph @g mode = forward syms = [] arena = -1 {", "t:1:43: error: expected arena size (an integer >= 0)"},
  {HDR "  %0 = foo : ?\n}", "t:2:8: error: unknown op 'foo'"},
  {HDR "  %0 = silu %x : ?\n}", "t:2:13: error: unknown value %x"},
  {HDR "  %0 = input : ?\n  %1 = matmul %0 : ?\n}", "t:3:8: error: 'matmul' takes 2 operands, got 1"},
  {HDR "  %0 = input : ?\n  %0 = silu %0 : ?\n}", "t:3:3: error: duplicate value name %0"},
  {HDR "  %0 = block.arg {index = 0} : ?\n}", "t:2:8: error: block.arg outside a mod.block region"},
  {HDR "  %0 = input : f32[4,s1]\n}", "t:2:22: error: unknown symbol s1 (the graph declares 1)"},
  {HDR "  %0 = input : f32[1,2,3,4,5]\n}", "t:2:28: error: more than 4 dimensions"},
  {HDR "  %0 = input : f64[1]\n}", "t:2:16: error: unknown dtype 'f64'"},
  {HDR "  %0 = input : f32[1 2]\n}", "t:2:22: error: expected ',' or ']' in the type"},
  {HDR "  %0 = input {a = 1, a = 2} : ?\n}", "t:2:22: error: duplicate attribute 'a'"},
  {HDR "  %0 = input {a = raw} : ?\n}", "t:2:19: error: expected an attribute value (integer, float or string)"},
  {HDR "  %0 = input {a = 1.5x} : ?\n}", "t:2:19: error: malformed number"},
  {HDR "  %0 = input {a = 1e} : ?\n}", "t:2:19: error: malformed number"},
  {HDR "  %0 = input {a = 99999999999999999999} : ?\n}", "t:2:19: error: integer out of range"},
  {HDR "  %0 = input {a = 1e999} : ?\n}", "t:2:19: error: float out of range"},
  {HDR "  %0 = input {a = \"x\\q\"} : ?\n}", "t:2:21: error: unknown escape in string (use \\\" \\\\ \\n \\t or \\xHH)"},
  {HDR "  %0 = input {a = \"abc} : ?\n}", "t:2:19: error: unterminated string"},
  {HDR "  %0 = input {abcdefghijklmnopqrstuvwxyz = 1} : ?\n}", "t:2:15: error: an attribute name longer than 23 bytes"},
  {HDR "  %0 = input : ? @heap\n}", "t:2:18: error: unknown storage '@heap'"},
  {HDR "  %0 = input : ? {\n}", "t:2:18: error: only mod.block has a region"},
  {HDR "  %0 = input : ?\n  %1 = mod.block %0, %0, %0 : ?\n}", "t:4:1: error: expected '{' to open the mod.block's region"},
  {HDR "  %0 = input : ?\n  %1 = mod.block %0, %0, %0 : ? {\n    %2 = block.arg : ?\n",
   "t:5:1: error: unterminated region: expected '}' to close the region of %1 (mod.block) opened at line 3"},
  {HDR "  %0 = input : ?\n", "t:3:1: error: expected '}' to close graph @g"},
  {HDR "}\n}\n", "t:3:1: error: unexpected text after the end of the graph"},
  {HDR "  0 = input : ?\n}", "t:2:3: error: expected a value definition (%name = op ...) or '}'"},
};

static void test_errors(void) {
  char err[512];
  for (size_t k = 0; k < sizeof bad_inputs / sizeof *bad_inputs; k++) {
    Graph *g = graph_parse(bad_inputs[k].text, "t", err, sizeof err);
    ASSERT(g == NULL);
    graph_free(g);
    if (!g) ASSERT_STR(bad_inputs[k].err, err);
  }
  /* a long string: 127 bytes fit, 128 do not */
  char text[512];
  snprintf(text, sizeof text, HDR "  %%0 = input {a = \"%0127d\"} : ?\n}", 0);
  Graph *g = graph_parse(text, "t", err, sizeof err);
  ASSERT(g && strlen(attr_s(&g->n[0], "a", "")) == 127);
  graph_free(g);
  snprintf(text, sizeof text, HDR "  %%0 = input {a = \"%0128d\"} : ?\n}", 0);
  ASSERT(graph_parse(text, "t", err, sizeof err) == NULL);
  ASSERT_STR("t:2:19: error: string longer than 127 bytes", err);
}

/* ---- mutation smoke test ---- */

static unsigned rng = 12345;
static unsigned next_rand(void) {
  rng = rng * 1103515245u + 12345u;
  return rng >> 8;
}

/* One random edit: flip, insert or delete a byte, or cut the text short. */
static void mutate(char *s, size_t cap) {
  static const char alphabet[] = "{}[]%@=:,\"\\-.0123456789esx?/ \n";
  size_t len = strlen(s), at = len ? next_rand() % len : 0;
  char c = alphabet[next_rand() % (sizeof alphabet - 1)];
  switch (next_rand() % 4) {
  case 0: if (len) s[at] = c; break;
  case 1: if (len + 1 < cap) memmove(s + at + 1, s + at, len - at + 1), s[at] = c; break;
  case 2: if (len) memmove(s + at, s + at + 1, len - at); break;
  default: s[at] = 0;
  }
}

static void test_mutations(void) {
  char buf[4096], err[512];
  int accepted = 0;
  for (int iter = 0; iter < 20000; iter++) {
    snprintf(buf, sizeof buf, "%s", corpus[iter % (sizeof corpus / sizeof *corpus)]);
    for (int m = 1 + (int)(next_rand() % 4); m > 0; m--) mutate(buf, sizeof buf);
    Graph *g = graph_parse(buf, "fuzz", err, sizeof err);
    if (!g) {
      ASSERT(strncmp(err, "fuzz:", 5) == 0);
      continue;
    }
    accepted++;
    (void)graph_verify(g, err, sizeof err);
    char *a = print_str(g);
    char *b = canon(a);
    ASSERT(b && strcmp(a, b) == 0);
    free(a);
    free(b);
    graph_free(g);
  }
  ASSERT(accepted > 0);
}

int main(void) {
  test_print_api();
  test_print_corners();
  test_round_trips();
  test_parse_all();
  test_errors();
  test_mutations();
  if (nfail) {
    fprintf(stderr, "test_ir: %d failure(s)\n", nfail);
    return 1;
  }
  puts("test_ir: ok");
  return 0;
}
