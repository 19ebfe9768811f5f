/* test_interp_ops.c: hand-checkable tests of single ops run through the interpreter.
 *
 * Each test builds a tiny graph with the IR API, sets every node's type by hand, puts its
 * data in a small f32 "blob" read through weight nodes, runs interp_run and compares with
 * values worked out on paper (the expected expressions below are that arithmetic).
 * Run: test_interp_ops (exit status 0 when every check passes).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "ir/interp.h"
#include "ir/ir.h"

static int fails, checks;

#define NEAR(want, got) near_at((want), (got), #want, __LINE__)
#define CHECK(cond) check_at((cond), #cond, __LINE__)

static void near_at(double want, double got, const char *what, int line) {
  checks++;
  if (fabs(want - got) <= 1e-12 * (1 + fabs(want))) return;
  fails++;
  printf("FAIL line %d: %s: want %.15g, got %.15g\n", line, what, want, got);
}

static void check_at(int ok, const char *what, int line) {
  checks++;
  if (ok) return;
  fails++;
  printf("FAIL line %d: %s\n", line, what);
}

/* ---- building tiny graphs ---- */

typedef struct Blob {
  uint8_t b[4096];
  int64_t used;
} Blob;

static int node(Graph *g, Op op, int nin, const int *in, DType dt, int rank, int64_t d0,
                int64_t d1) {
  int64_t dims[2] = {d0, d1};
  int i = graph_add(g, op, nin, in);
  g->n[i].ty = type_make(dt, rank, dims);
  return i;
}

static int input(Graph *g, const char *name, int64_t rows) {
  int i = node(g, OP_INPUT, 0, NULL, DT_I32, 1, rows, 0);
  attr_set_s(&g->n[i], "name", name);
  return i;
}

/* A weight node holding vals (f32) as a [d0,d1] matrix (rank 2) or [d0] vector (rank 1). */
static int data(Graph *g, Blob *bl, const float *vals, int rank, int64_t d0, int64_t d1) {
  int64_t n = rank == 2 ? d0 * d1 : d0;
  int i = node(g, OP_WEIGHT, 0, NULL, DT_F32, rank, d0, d1);
  attr_set_s(&g->n[i], "name", "w");
  attr_set_i(&g->n[i], "offset", bl->used);
  memcpy(bl->b + bl->used, vals, n * 4);
  bl->used += (n * 4 + 63) / 64 * 64;
  return i;
}

static int op1(Graph *g, Op op, int a, DType dt, int rank, int64_t d0, int64_t d1) {
  return node(g, op, 1, (int[]){a}, dt, rank, d0, d1);
}

static int op2(Graph *g, Op op, int a, int b, DType dt, int rank, int64_t d0, int64_t d1) {
  return node(g, op, 2, (int[]){a, b}, dt, rank, d0, d1);
}

static void output(Graph *g, int x) {
  int o = node(g, OP_OUTPUT, 1, (int[]){x}, g->n[x].ty.dt, g->n[x].ty.rank, g->n[x].ty.dim[0],
               g->n[x].ty.dim[1]);
  attr_set_s(&g->n[o], "name", "logits");
}

static int run(Graph *g, Blob *bl, const int32_t *tok, const int32_t *pos, int64_t rows,
               InterpSession *s, double *out, InterpStats *st) {
  char err[256];
  int rc = interp_run(g, bl->b, tok, pos, rows, s, out, st, err, sizeof err);
  if (rc) printf("interp_run: %s\n", err);
  return rc;
}

static const int32_t tok0[8], pos01[8] = {0, 1, 2, 3, 4, 5, 6, 7};

/* ---- the tests ---- */

/* rmsnorm([3,4], w=[1,2], eps=0): mean square 12.5 */
static void test_rmsnorm(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int x = data(g, &bl, (float[]){3, 4}, 2, 1, 2), w = data(g, &bl, (float[]){1, 2}, 1, 2, 0);
  int y = op2(g, OP_RMSNORM, x, w, DT_F32, 2, 1, 2);
  attr_set_f(&g->n[y], "eps", 0.0);
  output(g, y);
  double out[2];
  CHECK(run(g, &bl, tok0, pos01, 1, NULL, out, NULL) == 0);
  NEAR(3 / sqrt(12.5), out[0]);
  NEAR(8 / sqrt(12.5), out[1]);
  graph_free(g);
}

/* [[1,2,3],[4,5,6]] x [[1,0,-1],[2,1,0]]^T */
static void test_matmul(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int x = data(g, &bl, (float[]){1, 2, 3, 4, 5, 6}, 2, 2, 3);
  int w = data(g, &bl, (float[]){1, 0, -1, 2, 1, 0}, 2, 2, 3);
  output(g, op2(g, OP_MATMUL, x, w, DT_F32, 2, 2, 2));
  double out[4];
  CHECK(run(g, &bl, tok0, pos01, 1, NULL, out, NULL) == 0);
  NEAR(1 - 3, out[0]);
  NEAR(2 + 2, out[1]);
  NEAR(4 - 6, out[2]);
  NEAR(8 + 5, out[3]);
  graph_free(g);
}

/* one head, hd = 4, theta 10000: inv_freq = [1, 0.01]; row 0 at pos 0 stays, row 1 at pos 1
 * rotates pairs (e0,e2) by 1 rad and (e1,e3) by 0.01 rad */
static void test_rope(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int x = data(g, &bl, (float[]){1, 2, 3, 4, 1, 2, 3, 4}, 2, 2, 4);
  int p = input(g, "pos", 2);
  int y = op2(g, OP_ROPE, x, p, DT_F32, 2, 2, 4);
  attr_set_i(&g->n[y], "heads", 1);
  attr_set_f(&g->n[y], "theta", 10000.0);
  output(g, y);
  double out[8];
  CHECK(run(g, &bl, tok0, pos01, 2, NULL, out, NULL) == 0);
  for (int i = 0; i < 4; i++) NEAR(i + 1.0, out[i]);
  NEAR(1 * cos(1.0) - 3 * sin(1.0), out[4]);
  NEAR(2 * cos(0.01) - 4 * sin(0.01), out[5]);
  NEAR(3 * cos(1.0) + 1 * sin(1.0), out[6]);
  NEAR(4 * cos(0.01) + 2 * sin(0.01), out[7]);
  graph_free(g);
}

/* rope with two heads applies the same rotation to each head of hd = 2 */
static void test_rope_heads(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int x = data(g, &bl, (float[]){1, 0, 0, 1}, 2, 1, 4);
  int p = input(g, "pos", 1);
  int y = op2(g, OP_ROPE, x, p, DT_F32, 2, 1, 4);
  attr_set_i(&g->n[y], "heads", 2);
  attr_set_f(&g->n[y], "theta", 10000.0);
  output(g, y);
  double out[4];
  int32_t pos[1] = {3};
  CHECK(run(g, &bl, tok0, pos, 1, NULL, out, NULL) == 0);
  NEAR(cos(3.0), out[0]);
  NEAR(sin(3.0), out[1]);
  NEAR(-sin(3.0), out[2]);
  NEAR(cos(3.0), out[3]);
  graph_free(g);
}

/* GQA: 2 query heads share one kv head (hd = 1).  pos = [1, 0]: row 1 (pos 0) sees only
 * itself, row 0 (pos 1) sees both rows. */
static void test_attention(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int q = data(g, &bl, (float[]){1, 2, 5, 7}, 2, 2, 2);
  int k = data(g, &bl, (float[]){1, 0}, 2, 2, 1);
  int v = data(g, &bl, (float[]){20, 10}, 2, 2, 1);
  int p = input(g, "pos", 2);
  int a = node(g, OP_ATTENTION, 4, (int[]){q, k, v, p}, DT_F32, 2, 2, 2);
  attr_set_i(&g->n[a], "heads", 2);
  attr_set_i(&g->n[a], "kv_heads", 1);
  output(g, a);
  double out[4], e = exp(1.0), e2 = exp(2.0);
  int32_t pos[2] = {1, 0};
  CHECK(run(g, &bl, tok0, pos, 2, NULL, out, NULL) == 0);
  NEAR((20 * e + 10) / (e + 1), out[0]);   /* head 0: scores [1*1, 1*0] */
  NEAR((20 * e2 + 10) / (e2 + 1), out[1]); /* head 1: scores [2*1, 2*0] */
  NEAR(10, out[2]);
  NEAR(10, out[3]);
  graph_free(g);
}

/* attention scales scores by 1/sqrt(hd): hd = 4, q.k = 4 -> score 2 */
static void test_attention_scale(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int q = data(g, &bl, (float[]){0, 0, 0, 0, 1, 1, 1, 1}, 2, 2, 4);
  int k = data(g, &bl, (float[]){0, 0, 0, 0, 1, 1, 1, 1}, 2, 2, 4);
  int v = data(g, &bl, (float[]){1, 1, 1, 1, 3, 3, 3, 3}, 2, 2, 4);
  int p = input(g, "pos", 2);
  int a = node(g, OP_ATTENTION, 4, (int[]){q, k, v, p}, DT_F32, 2, 2, 4);
  attr_set_i(&g->n[a], "heads", 1);
  attr_set_i(&g->n[a], "kv_heads", 1);
  output(g, a);
  double out[8], e2 = exp(2.0);
  CHECK(run(g, &bl, tok0, pos01, 2, NULL, out, NULL) == 0);
  NEAR(1, out[0]);
  NEAR((1 + 3 * e2) / (1 + e2), out[4]);
  graph_free(g);
}

/* topk of [1,3,3,2,3]: ties to the smaller row, result ascending; margin at the cut */
static void test_topk(void) {
  int64_t ks[3] = {2, 3, 4};
  double want[3][4] = {{1, 2}, {1, 2, 4}, {1, 2, 3, 4}}, margin[3] = {0, 1, 1};
  for (int c = 0; c < 3; c++) {
    Graph *g = graph_new("t", GRAPH_FORWARD);
    Blob bl = {0};
    int r = data(g, &bl, (float[]){1, 3, 3, 2, 3}, 2, 5, 1);
    int t = op1(g, OP_TOPK, r, DT_I32, 1, ks[c], 0);
    attr_set_i(&g->n[t], "k", ks[c]);
    output(g, t);
    double out[4];
    InterpStats st;
    CHECK(run(g, &bl, tok0, pos01, 1, NULL, out, &st) == 0);
    for (int j = 0; j < ks[c]; j++) NEAR(want[c][j], out[j]);
    NEAR(margin[c], st.min_margin);
    graph_free(g);
  }
}

/* select p = [0.5,-1,0,2] at positions 4..7 -> rows [0,3], m bound to symbol 1; then a
 * gather sized by that symbol; the trace of layer 1 records positions 4 and 7 */
static void test_select_gather(void) {
  Graph *g = graph_new("t", GRAPH_SESSION);
  Blob bl = {0};
  graph_add_sym(g, 8);
  int m = graph_add_sym(g, 8);
  int p = data(g, &bl, (float[]){0.5, -1, 0, 2}, 2, 4, 1);
  int x = data(g, &bl, (float[]){10, 11, 20, 21, 30, 31, 40, 41}, 2, 4, 2);
  int pos = input(g, "pos", DIM_SYM(0));
  int sel = op2(g, OP_SELECT, p, pos, DT_I32, 1, DIM_SYM(m), 0);
  attr_set_i(&g->n[sel], "layer", 1);
  output(g, op2(g, OP_GATHER, x, sel, DT_F32, 2, DIM_SYM(m), 2));
  InterpSession *s = interp_session_new(2, 8, 1);
  int32_t ps[4] = {4, 5, 6, 7};
  double out[4];
  InterpStats st;
  CHECK(run(g, &bl, tok0, ps, 4, s, out, &st) == 0);
  NEAR(10, out[0]);
  NEAR(11, out[1]);
  NEAR(40, out[2]);
  NEAR(41, out[3]);
  NEAR(0, st.min_margin);
  CHECK(st.routed_rows[1] == 2);
  const uint8_t *tr = interp_routing(s, 1);
  CHECK(tr && tr[4] == 1 && tr[5] == 0 && tr[6] == 0 && tr[7] == 1);
  CHECK(interp_routing(s, 2) == NULL);
  interp_session_free(s);
  graph_free(g);
}

/* gather of a vector: [5,6,7][2,0] = [7,5] */
static void test_gather_vec(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int x = data(g, &bl, (float[]){5, 6, 7}, 1, 3, 0);
  int i = input(g, "tokens", 2);
  output(g, op2(g, OP_GATHER, x, i, DT_F32, 1, 2, 0));
  int32_t idx[2] = {2, 0};
  double out[2];
  CHECK(run(g, &bl, idx, pos01, 2, NULL, out, NULL) == 0);
  NEAR(7, out[0]);
  NEAR(5, out[1]);
  idx[0] = 3; /* out of range: an error, not a crash */
  char err[128];
  CHECK(interp_run(g, bl.b, idx, pos01, 2, NULL, out, NULL, err, sizeof err) == -1);
  graph_free(g);
}

/* scatter_gate h=[1,2,3], idx=[0,2], y=[5,7], r=[0.5,9,-1] */
static void test_scatter_gate(void) {
  for (int sg = 0; sg < 2; sg++) {
    Graph *g = graph_new("t", GRAPH_FORWARD);
    Blob bl = {0};
    int h = data(g, &bl, (float[]){1, 2, 3}, 2, 3, 1);
    int y = data(g, &bl, (float[]){5, 7}, 2, 2, 1);
    int r = data(g, &bl, (float[]){0.5, 9, -1}, 2, 3, 1);
    int idx = input(g, "tokens", 2);
    int o = node(g, OP_SCATTER_GATE, 4, (int[]){h, idx, y, r}, DT_F32, 2, 3, 1);
    attr_set_s(&g->n[o], "gate", sg ? "sigmoid" : "raw");
    output(g, o);
    double out[3];
    CHECK(run(g, &bl, (int32_t[]){0, 2}, pos01, 2, NULL, out, NULL) == 0);
    double g0 = sg ? 1 / (1 + exp(-0.5)) : 0.5, g2 = sg ? 1 / (1 + exp(1.0)) : -1;
    NEAR(1 + g0 * 4, out[0]);
    NEAR(2, out[1]);
    NEAR(3 + g2 * 4, out[2]);
    graph_free(g);
  }
}

/* take_last of [3,2] and silu_mul on its row: silu(g)*u with g=[5,-2]... */
static void test_take_last_silu_mul(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  int x = data(g, &bl, (float[]){1, 2, 3, 4, 1, -2}, 2, 3, 2);
  int u = data(g, &bl, (float[]){3, 4}, 2, 1, 2);
  int l = op1(g, OP_TAKE_LAST, x, DT_F32, 2, 1, 2);
  output(g, op2(g, OP_SILU_MUL, l, u, DT_F32, 2, 1, 2));
  double out[2];
  CHECK(run(g, &bl, tok0, pos01, 1, NULL, out, NULL) == 0);
  NEAR(3 / (1 + exp(-1.0)), out[0]);
  NEAR(-8 / (1 + exp(2.0)), out[1]);
  graph_free(g);
}

/* bf16 weights widen by shifting the bits: 0x3FC0 = 1.5, 0xC040 = -3 */
static void test_bf16_embed(void) {
  Graph *g = graph_new("t", GRAPH_FORWARD);
  Blob bl = {0};
  uint16_t e[4] = {0x3FC0, 0xC040, 0x4000, 0x0000};
  memcpy(bl.b, e, sizeof e);
  int E = node(g, OP_WEIGHT, 0, NULL, DT_BF16, 2, 2, 2);
  attr_set_i(&g->n[E], "offset", 0);
  int t = input(g, "tokens", 2);
  output(g, op2(g, OP_EMBED, t, E, DT_F32, 2, 2, 2));
  double out[4];
  CHECK(run(g, &bl, (int32_t[]){1, 0}, pos01, 2, NULL, out, NULL) == 0);
  NEAR(2, out[0]);
  NEAR(0, out[1]);
  NEAR(1.5, out[2]);
  NEAR(-3, out[3]);
  char err[128];
  CHECK(interp_run(g, bl.b, (int32_t[]){2, 0}, pos01, 2, NULL, out, NULL, err, sizeof err) == -1);
  CHECK(strstr(err, "out of range") != NULL);
  graph_free(g);
}

/* kv_attention across two calls of a session graph: token t's embedding is (q, k, v).
 * Call 1: tokens 0,1 at pos 0,1; call 2: token 2 at pos 2 sees all three cached rows. */
static Graph *kv_graph(Blob *bl) {
  Graph *g = graph_new("s", GRAPH_SESSION);
  graph_add_sym(g, 4);
  int E = data(g, bl, (float[]){1, 0, 10, 1, 1, 20, 1, 2, 30}, 2, 3, 3);
  int wq = data(g, bl, (float[]){1, 0, 0}, 2, 1, 3), wk = data(g, bl, (float[]){0, 1, 0}, 2, 1, 3);
  int wv = data(g, bl, (float[]){0, 0, 1}, 2, 1, 3);
  int t = input(g, "tokens", DIM_SYM(0)), p = input(g, "pos", DIM_SYM(0));
  int x = op2(g, OP_EMBED, t, E, DT_F32, 2, DIM_SYM(0), 3);
  int q = op2(g, OP_MATMUL, x, wq, DT_F32, 2, DIM_SYM(0), 1);
  int k = op2(g, OP_MATMUL, x, wk, DT_F32, 2, DIM_SYM(0), 1);
  int v = op2(g, OP_MATMUL, x, wv, DT_F32, 2, DIM_SYM(0), 1);
  int a = node(g, OP_KV_ATTENTION, 4, (int[]){q, k, v, p}, DT_F32, 2, DIM_SYM(0), 1);
  attr_set_i(&g->n[a], "layer", 0);
  attr_set_i(&g->n[a], "heads", 1);
  attr_set_i(&g->n[a], "kv_heads", 1);
  output(g, op1(g, OP_TAKE_LAST, a, DT_F32, 2, 1, 1));
  return g;
}

static void test_kv_attention(void) {
  Blob bl = {0};
  Graph *g = kv_graph(&bl);
  InterpSession *s = interp_session_new(1, 4, 1);
  double out[1], e = exp(1.0), e2 = exp(2.0);
  CHECK(run(g, &bl, (int32_t[]){0, 1}, (int32_t[]){0, 1}, 2, s, out, NULL) == 0);
  NEAR((10 + 20 * e) / (1 + e), out[0]);
  CHECK(run(g, &bl, (int32_t[]){2}, (int32_t[]){2}, 1, s, out, NULL) == 0);
  NEAR((10 + 20 * e + 30 * e2) / (1 + e + e2), out[0]);
  CHECK(run(g, &bl, (int32_t[]){2}, NULL, 1, s, out, NULL) == 0); /* default pos = 3 */
  char err[128];
  CHECK(interp_run(g, bl.b, (int32_t[]){2}, NULL, 1, s, out, NULL, err, sizeof err) == -1);
  CHECK(strstr(err, "full") != NULL);
  interp_session_free(s);
  graph_free(g);
}

/* A mod.block whose region yields 2x: h[S] = x + g(r)*(2x - x) = x (1 + g(r)), r = h (w = 1).
 * Forward, k = 1 of h = [1,2,3]: row 2 -> 3*4 = 12.  Session, h = [-1,2,0.5]: rows with r > 0
 * (1 and 2) take the block. */
static Graph *block_graph(GraphMode mode, Blob *bl, const float *h3) {
  Graph *g = graph_new("b", mode);
  int64_t R = mode == GRAPH_SESSION ? DIM_SYM(0) : 3, m = 1;
  if (mode == GRAPH_SESSION) graph_add_sym(g, 3), m = DIM_SYM(graph_add_sym(g, 3));
  int h = data(g, bl, h3, 2, 3, 1), w = data(g, bl, (float[]){1}, 2, 1, 1);
  int p = input(g, "pos", R);
  int b = node(g, OP_MOD_BLOCK, 3, (int[]){h, p, w}, DT_F32, 2, 3, 1);
  attr_set_i(&g->n[b], "layer", 0);
  attr_set_i(&g->n[b], "k", 1);
  attr_set_s(&g->n[b], "gate", "raw");
  attr_set_s(&g->n[b], "predictor", "router");
  int x = node(g, OP_BLOCK_ARG, 0, NULL, DT_F32, 2, m, 1);
  attr_set_i(&g->n[x], "index", 0);
  int y = op2(g, OP_ADD, x, x, DT_F32, 2, m, 1);
  int yl = op1(g, OP_YIELD, y, DT_F32, 2, m, 1);
  for (int i = x; i <= yl; i++) g->n[i].parent = b;
  g->n[b].body_end = yl + 1;
  output(g, b);
  return g;
}

static void test_mod_block(void) {
  Blob bl = {0};
  Graph *g = block_graph(GRAPH_FORWARD, &bl, (float[]){1, 2, 3});
  double out[3];
  InterpStats st;
  CHECK(run(g, &bl, tok0, pos01, 3, NULL, out, &st) == 0);
  NEAR(1, out[0]);
  NEAR(2, out[1]);
  NEAR(12, out[2]);
  NEAR(1, st.min_margin);
  CHECK(st.routed_rows[0] == 1);
  graph_free(g);
  Blob b2 = {0};
  g = block_graph(GRAPH_SESSION, &b2, (float[]){-1, 2, 0.5});
  InterpSession *s = interp_session_new(1, 3, 1);
  CHECK(run(g, &b2, tok0, pos01, 3, s, out, &st) == 0);
  NEAR(-1, out[0]);
  NEAR(6, out[1]);
  NEAR(0.75, out[2]);
  NEAR(0.5, st.min_margin);
  CHECK(st.routed_rows[0] == 2);
  const uint8_t *tr = interp_routing(s, 0);
  CHECK(tr[0] == 0 && tr[1] == 1 && tr[2] == 1);
  interp_session_free(s);
  graph_free(g);
}

int main(void) {
  test_rmsnorm();
  test_matmul();
  test_rope();
  test_rope_heads();
  test_attention();
  test_attention_scale();
  test_topk();
  test_select_gather();
  test_gather_vec();
  test_scatter_gate();
  test_take_last_silu_mul();
  test_bf16_embed();
  test_kv_attention();
  test_mod_block();
  printf("test_interp_ops: %d checks, %d failed\n", checks, fails);
  return fails != 0;
}
