/* test_ir_api.c: the IR's C API: op and dtype tables, the builder's defaults and growth,
 * symbols, attributes (replace in place, kinds, the internal-error aborts), types and
 * their bounds, cloning, and the verifier on graphs built wrong on purpose.
 * chibicc-style ASSERT lists; exits 1 on the first failing run. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ir/ir.h"

static int nfail;

#define ASSERT(cond)                                                                      \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);       \
      nfail++;                                                                            \
    }                                                                                     \
  } while (0)

static void test_tables(void) {
  Op op;
  DType dt;
  ASSERT(strcmp(op_names[OP_MOD_BLOCK], "mod.block") == 0);
  ASSERT(strcmp(op_names[OP_SCATTER_GATE], "scatter_gate") == 0);
  ASSERT(op_ninputs[OP_MATMUL] == 2 && op_ninputs[OP_MOD_BLOCK] == -1 && op_ninputs[OP_INPUT] == 0);
  ASSERT(op_parse("kv_attention", &op) == 0 && op == OP_KV_ATTENTION);
  ASSERT(op_parse("block.arg", &op) == 0 && op == OP_BLOCK_ARG);
  ASSERT(op_parse("nope", &op) == -1);
  for (int k = 0; k < OP_COUNT; k++) ASSERT(op_parse(op_names[k], &op) == 0 && op == (Op)k);
  ASSERT(strcmp(dtype_name(DT_BF16), "bf16") == 0 && dtype_size(DT_BF16) == 2);
  ASSERT(dtype_size(DT_F32) == 4 && dtype_size(DT_I32) == 4 && dtype_size(DT_F16) == 2);
  ASSERT(dtype_parse("i32", &dt) == 0 && dt == DT_I32);
  ASSERT(dtype_parse("f64", &dt) == -1);
  ASSERT(strcmp(dtype_name((DType)99), "invalid") == 0);
}

static void test_builder(void) {
  Graph *g = graph_new("g", GRAPH_SESSION);
  ASSERT(g->len == 0 && g->nsym == 0 && g->arena_size == 0 && g->mode == GRAPH_SESSION);
  ASSERT(graph_add_sym(g, 1024) == 0 && graph_add_sym(g, 8) == 1 && g->symbound[1] == 8);
  int a = graph_add(g, OP_INPUT, 0, NULL);
  ASSERT(a == 0);
  const Node *n = &g->n[a];
  ASSERT(n->ty.rank == -1 && n->parent == -1 && n->body_end == 0 && n->st == ST_NONE);
  ASSERT(n->offset == 0 && n->nattr == 0 && n->nin == 0);
  for (int k = 1; k < 1000; k++) ASSERT(graph_add(g, OP_SILU, 1, (int[]){k - 1}) == k);
  ASSERT(g->len == 1000 && g->cap >= 1000 && g->n[999].in[0] == 998 && g->n[999].nin == 1);
  int in8[IR_MAXIN] = {1, 2, 3, 4, 5, 6, 7, 8};
  int b = graph_add(g, OP_MOD_BLOCK, IR_MAXIN, in8);
  ASSERT(g->n[b].nin == 8 && g->n[b].in[7] == 8);
  graph_free(g);
  graph_free(NULL);
}

static void test_attrs(void) {
  Graph *g = graph_new("g", GRAPH_FORWARD);
  int w = graph_add(g, OP_WEIGHT, 0, NULL); /* before taking &g->n[..]: adding may move the array */
  Node *n = &g->n[w];
  attr_set_s(n, "name", "w");
  attr_set_i(n, "offset", 64);
  attr_set_f(n, "eps", 1e-5);
  ASSERT(n->nattr == 3);
  attr_set_i(n, "name", 7); /* replaces in place, kind and all */
  ASSERT(n->nattr == 3 && strcmp(n->attr[0].key, "name") == 0 && n->attr[0].kind == ATTR_INT);
  ASSERT(attr_i(n, "name", -1) == 7 && attr_s(n, "name", "dflt")[0] == 'd');
  ASSERT(attr_i(n, "offset", -1) == 64 && attr_f(n, "offset", -1) == 64.0);
  ASSERT(attr_f(n, "eps", 0) == 1e-5 && attr_i(n, "eps", -3) == -3);
  ASSERT(attr_get(n, "missing") == NULL && attr_i(n, "missing", 5) == 5 && attr_f(n, "missing", 2.5) == 2.5);
  attr_set_s(n, "s", "x");
  attr_set_s(n, "s", "yz");
  ASSERT(n->nattr == 4 && strcmp(attr_s(n, "s", ""), "yz") == 0);
  char key[IR_ATTR_KEY], str[IR_ATTR_STR];
  memset(key, 'k', sizeof key - 1), key[sizeof key - 1] = 0;
  memset(str, 's', sizeof str - 1), str[sizeof str - 1] = 0;
  attr_set_s(n, key, str); /* the longest allowed */
  ASSERT(strcmp(attr_s(n, key, ""), str) == 0);
  graph_free(g);
}

/* Does fn abort (SIGABRT) in a child process? */
static int aborts(void (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stderr);
    fn();
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static Node *one_node(void) {
  Graph *g = graph_new("g", GRAPH_FORWARD);
  int i = graph_add(g, OP_INPUT, 0, NULL);
  return &g->n[i];
}
static void long_key(void) { attr_set_i(one_node(), "a_key_of_twenty_four_byt", 1); }
static void long_str(void) {
  char s[IR_ATTR_STR + 1];
  memset(s, 'x', IR_ATTR_STR), s[IR_ATTR_STR] = 0;
  attr_set_s(one_node(), "k", s);
}
static void many_attrs(void) {
  Node *n = one_node();
  char key[8];
  for (int k = 0; k <= IR_MAXATTR; k++) snprintf(key, sizeof key, "a%d", k), attr_set_i(n, key, k);
}
static void many_operands(void) {
  Graph *g = graph_new("g", GRAPH_FORWARD);
  int in[IR_MAXIN + 1] = {0};
  graph_add(g, OP_MOD_BLOCK, IR_MAXIN + 1, in);
}
static void many_syms(void) {
  Graph *g = graph_new("g", GRAPH_FORWARD);
  for (int k = 0; k <= IR_MAXSYM; k++) graph_add_sym(g, 1);
}
static void fine(void) { attr_set_i(one_node(), "k", 1); }

static void test_aborts(void) {
  ASSERT(!aborts(fine));
  ASSERT(aborts(long_key));
  ASSERT(aborts(long_str));
  ASSERT(aborts(many_attrs));
  ASSERT(aborts(many_operands));
  ASSERT(aborts(many_syms));
}

static void test_types(void) {
  Graph *g = graph_new("g", GRAPH_SESSION);
  int s = graph_add_sym(g, 1024);
  int64_t d[2] = {DIM_SYM(s), 64};
  Type t = type_make(DT_BF16, 2, d), u = type_make(DT_BF16, 2, d);
  ASSERT(DIM_IS_SYM(t.dim[0]) && DIM_SYMNO(t.dim[0]) == s && t.dim[1] == 64);
  ASSERT(type_equal(&t, &u));
  u.dim[0] = 1024;
  ASSERT(!type_equal(&t, &u));
  u = type_make(DT_F32, 2, d);
  ASSERT(!type_equal(&t, &u));
  ASSERT(dim_bound(g, 5) == 5 && dim_bound(g, DIM_SYM(0)) == 1024 && dim_bound(g, DIM_SYM(3)) == -1);
  ASSERT(type_numel_bound(g, &t) == 1024 * 64 && type_bytes_bound(g, &t) == 1024 * 64 * 2);
  Type r0 = type_make(DT_F32, 0, NULL), q = type_make(DT_F32, -1, NULL), q2 = type_make(DT_I32, -1, NULL);
  ASSERT(type_numel_bound(g, &r0) == 1 && type_bytes_bound(g, &r0) == 4);
  ASSERT(type_numel_bound(g, &q) == -1 && type_equal(&q, &q2) && !type_equal(&q, &r0));
  int64_t big[4] = {1LL << 40, 1LL << 40, 1, 1};
  Type huge = type_make(DT_F32, 4, big);
  ASSERT(type_numel_bound(g, &huge) == -1);
  graph_free(g);
}

static void test_clone(void) {
  Graph *g = graph_new("g", GRAPH_FORWARD);
  graph_add_sym(g, 3);
  int a = graph_add(g, OP_INPUT, 0, NULL);
  attr_set_s(&g->n[a], "name", "tokens");
  Graph *c = graph_clone(g);
  ASSERT(c->n != g->n && c->len == 1 && c->nsym == 1 && c->symbound[0] == 3 && strcmp(c->name, "g") == 0);
  attr_set_s(&c->n[0], "name", "pos");
  graph_add(c, OP_SILU, 1, (int[]){0});
  ASSERT(strcmp(attr_s(&g->n[0], "name", ""), "tokens") == 0 && g->len == 1);
  graph_free(c);
  graph_free(g);
}

/* ---- the verifier on broken graphs ---- */

/* A small valid forward graph: tokens, pos, E, router, norm weight, embed, a mod.block
 * (k = 2) whose body norms its rows, and the output. */
static Graph *valid(void) {
  char err[256];
  const char *text =
    "graph @v mode = forward syms = [s0 <= 16] arena = 0 {\n"
    "  %0 = input {name = \"tokens\"} : i32[16]\n"
    "  %1 = input {name = \"pos\"} : i32[16]\n"
    "  %2 = weight {name = \"e\", offset = 0} : f32[256,64]\n"
    "  %3 = weight {name = \"r\", offset = 0} : f32[1,64]\n"
    "  %4 = weight {name = \"n\", offset = 0} : f32[64]\n"
    "  %5 = embed %0, %2 : f32[16,64]\n"
    "  %6 = mod.block %5, %1, %3 {layer = 1, capacity = 0.125, k = 2, gate = \"raw\", predictor = \"router\"} : f32[16,64] {\n"
    "    %7 = block.arg {index = 0} : f32[2,64]\n"
    "    %8 = block.arg {index = 1} : i32[2]\n"
    "    %9 = rmsnorm %7, %4 {eps = 1e-05} : f32[2,64]\n"
    "    %10 = yield %9 : f32[2,64]\n"
    "  }\n"
    "  %11 = output %6 {name = \"logits\"} : f32[16,64]\n"
    "}\n";
  Graph *g = graph_parse(text, "v", err, sizeof err);
  if (!g) fprintf(stderr, "%s\n", err), exit(1);
  return g;
}

static void expect_error(Graph *g, const char *want, int line) {
  char err[512];
  int rc = graph_verify(g, err, sizeof err);
  if (rc == 0 || !strstr(err, want)) {
    fprintf(stderr, "%s:%d: verify: want \"%s\", got %s\"%s\"\n", __FILE__, line, want, rc ? "" : "success ",
            rc ? err : "");
    nfail++;
  }
  graph_free(g);
}
#define EXPECT_ERROR(g, want) expect_error(g, want, __LINE__)

static void test_verify(void) {
  char err[512];
  Graph *g = valid();
  ASSERT(graph_verify(g, err, sizeof err) == 0);
  graph_free(g);

  g = valid(), g->n[5].in[1] = 9;
  EXPECT_ERROR(g, "verify: %5 (embed): operand 1 (%9) is not an earlier node");
  g = valid(), g->n[5].nin = 1;
  EXPECT_ERROR(g, "verify: %5 (embed): takes 2 operands, has 1");
  g = valid(), g->n[6].nin = 5;
  EXPECT_ERROR(g, "verify: %6 (mod.block): takes 3, 4, 7 or 8 operands");
  g = valid(), g->n[9].nattr = 0;
  EXPECT_ERROR(g, "verify: %9 (rmsnorm): missing attribute 'eps'");
  g = valid(), attr_set_s(&g->n[2], "offset", "0");
  EXPECT_ERROR(g, "verify: %2 (weight): attribute 'offset' must be an integer");
  g = valid(), attr_set_s(&g->n[0], "name", "ids");
  EXPECT_ERROR(g, "verify: %0 (input): name must be \"tokens\" or \"pos\"");
  g = valid(), g->n[5].ty.dim[0] = DIM_SYM(1);
  EXPECT_ERROR(g, "verify: %5 (embed): dim 0 is symbol s1 but the graph has 1 symbols");
  g = valid(), g->n[5].offset = -8;
  EXPECT_ERROR(g, "verify: %5 (embed): negative offset -8");
  g = valid(), g->n[9].parent = -1;
  EXPECT_ERROR(g, "verify: %9 (rmsnorm): parent is -1 but the node is in the region of %6");
  g = valid(), g->n[11].parent = 6;
  EXPECT_ERROR(g, "verify: %11 (output): parent is 6 but the node is outside any region");
  g = valid(), g->n[6].body_end = 10;
  EXPECT_ERROR(g, "verify: %6 (mod.block): region must end with yield");
  g = valid(), g->n[6].body_end = 40;
  EXPECT_ERROR(g, "verify: %6 (mod.block): region (6, 40) is empty or out of range");
  g = valid(), g->n[8].op = OP_SILU, g->n[8].nin = 1, g->n[8].in[0] = 7, g->n[8].nattr = 0;
  g->n[8].op = OP_TAKE_LAST, g->n[9].op = OP_BLOCK_ARG, g->n[9].nin = 0;
  attr_set_i(&g->n[9], "index", 1);
  EXPECT_ERROR(g, "verify: %9 (block.arg): block.arg after the region's other nodes");
  g = valid(), g->n[9].in[0] = 5;
  EXPECT_ERROR(g, "verify: %9 (rmsnorm): operand 0 (%5) is outside the region of %6");
  g = valid(), g->n[11].in[0] = 9;
  EXPECT_ERROR(g, "verify: %11 (output): operand 0 (%9) is inside the region of %6");
  g = valid(), g->n[9].ty.dim[1] = 32;
  EXPECT_ERROR(g, "verify: %9 (rmsnorm): type is f32[2,32] but its operands give f32[2,64]");
  g = valid(), g->n[5].ty.dt = DT_I32;
  EXPECT_ERROR(g, "verify: %5 (embed): type is i32[16,64] but its operands give f32[16,64]");
  g = valid(), g->n[4].ty.dim[0] = 32;
  EXPECT_ERROR(g, "verify: %9 (rmsnorm): vector length differs from row width");
  g = valid(), g->nsym = IR_MAXSYM + 1;
  EXPECT_ERROR(g, "verify: graph @v: bad symbol count");

  /* a region nested in another is rejected (the parser accepts it) */
  const char *nested =
    "graph @n mode = forward syms = [] arena = 0 {\n"
    "  %0 = input {name = \"pos\"} : ?\n"
    "  %1 = mod.block %0, %0, %0 {layer = 1, capacity = 0.5, gate = \"raw\", predictor = \"router\"} : ? {\n"
    "    %2 = block.arg {index = 0} : ?\n"
    "    %3 = mod.block %2, %2, %2 {layer = 1, capacity = 0.5, gate = \"raw\", predictor = \"router\"} : ? {\n"
    "      %4 = block.arg {index = 0} : ?\n"
    "      %5 = yield %4 : ?\n"
    "    }\n"
    "    %6 = yield %3 : ?\n"
    "  }\n"
    "}\n";
  g = graph_parse(nested, "n", err, sizeof err);
  ASSERT(g != NULL);
  if (g) EXPECT_ERROR(g, "verify: %3 (mod.block): regions do not nest: mod.block inside the region of %1");
}

int main(void) {
  test_tables();
  test_builder();
  test_attrs();
  test_aborts();
  test_types();
  test_clone();
  test_verify();
  if (nfail) {
    fprintf(stderr, "test_ir_api: %d failure(s)\n", nfail);
    return 1;
  }
  puts("test_ir_api: ok");
  return 0;
}
