/* ops.h: the op table, written once.
 *
 * X(enum, text, n_inputs, doc) expands into the Op enum, the name table, and every
 * per-op switch (shape inference, interpreter, kernel emitter).  Adding an op is one row
 * here plus one case in each of those.  n_inputs is the exact operand count, or -1 when
 * it varies (documented in doc).
 *
 * Shapes: R = rows (tokens) of the value, which may be dynamic (a symbol, see ir.h);
 * d = d_model, H = heads, Hk = kv heads, hd = head dim.  Activations are f32; weights are
 * f32 or bf16 matrices [N,K] (PyTorch Linear layout, y = x W^T) and f32 vectors.
 */
#ifndef MODC_OPS_H
#define MODC_OPS_H

#define MODC_OPS(X) \
  /* graph boundary */ \
  X(OP_INPUT,       "input",        0, "{name=\"tokens\"|\"pos\"} -> i32[R]") \
  X(OP_WEIGHT,      "weight",       0, "{name=<tensor name>, offset=<byte offset in packed blob>} -> dt[N,K] | f32[N]") \
  X(OP_OUTPUT,      "output",       1, "(x) {name=\"logits\"}: x is the graph's result, written to the caller's buffer") \
  /* dense math */ \
  X(OP_EMBED,       "embed",        2, "(tokens i32[R], E dt[V,d]) -> f32[R,d]") \
  X(OP_RMSNORM,     "rmsnorm",      2, "(x f32[R,d], w f32[d]) {eps} -> f32[R,d]") \
  X(OP_MATMUL,      "matmul",       2, "(x f32[R,K], W dt[N,K]) -> f32[R,N] = x W^T") \
  X(OP_MATMUL_ADD,  "matmul_add",   3, "(x f32[R,K], W dt[N,K], r f32[R,N]) -> f32[R,N] = x W^T + r: a residual add in the matmul's epilogue (fuse pass)") \
  X(OP_MATMUL_SILU_MUL, "matmul_silu_mul", 3, "(x f32[R,K], Wg dt[N,K], Wu dt[N,K]) -> f32[R,N] = silu(x Wg^T) * (x Wu^T): gate and up in one pass over x (fuse pass)") \
  X(OP_MATMUL_NORM_GATHER, "matmul_norm_gather", 4, "(h f32[R,K], W dt[N,K], idx i32[k], w f32[K]) {eps} -> f32[k,N] = rmsnorm(gather(h, idx), w) W^T: a routed block's first matmuls, rows read through idx and normalised while the A panel is packed (fuse-routing pass)") \
  X(OP_MATMUL_ADD_GATHER, "matmul_add_gather", 4, "(x f32[k,K], W dt[N,K], h f32[R,N], idx i32[k]) -> f32[k,N] = x W^T + gather(h, idx): the residual read through idx in the epilogue (fuse-routing)") \
  X(OP_MATMUL_SCATTER_GATE, "matmul_scatter_gate", 6, "(x f32[k,K], W dt[N,K], r f32[k,N], h f32[R,N], idx i32[k], s f32[R,1]) {gate} -> f32[R,N] = scatter_gate(h, idx, x W^T + r, s): the scaled scatter in the down projection's epilogue; the result may take h's storage (plan-memory) (fuse-routing)") \
  X(OP_ADD,         "add",          2, "(a f32[R,C], b f32[R,C]) -> f32[R,C]") \
  X(OP_BIAS_ADD,    "bias_add",     2, "(x f32[R,N], b f32[N]) -> f32[R,N]") \
  X(OP_SILU,        "silu",         1, "(x f32[R,C]) -> f32[R,C] = x*sigmoid(x)") \
  X(OP_SILU_MUL,    "silu_mul",     2, "(g f32[R,C], u f32[R,C]) -> f32[R,C] = silu(g)*u") \
  X(OP_ROPE,        "rope",         2, "(x f32[R,nh*hd], pos i32[R]) {heads, theta} -> f32[R,nh*hd]") \
  X(OP_ATTENTION,   "attention",    4, "(q f32[R,H*hd], k f32[R,Hk*hd], v f32[R,Hk*hd], pos i32[R]) {heads, kv_heads} -> f32[R,H*hd]; row i sees rows j with pos[j] <= pos[i]") \
  X(OP_KV_ATTENTION,"kv_attention", 4, "(q, k, v, pos as attention) {layer, heads, kv_heads}: appends k,v,pos to the session's layer cache, then row i sees cached rows j with pos[j] <= pos[i]") \
  X(OP_TAKE_LAST,   "take_last",    1, "(x f32[R,C]) -> f32[1,C]: the last row") \
  /* routing */ \
  X(OP_MOD_BLOCK,   "mod.block",   -1, "(h f32[R,d], pos i32[R], w_router dt[1,d] [, b_router f32[1]] [, fc1_w, fc1_b, fc2_w, fc2_b]) {layer, capacity, k (forward) | sym (session: the symbol of its row count) [, threshold (session, default 0)], gate, predictor, router_bias} region(x f32[k,d], pos i32[k]) -> f32[R,d]") \
  X(OP_BLOCK_ARG,   "block.arg",    0, "{index}: 0 = routed rows x, 1 = their positions; only inside a mod.block region") \
  X(OP_YIELD,       "yield",        1, "(y): the region's result; last node of a mod.block region") \
  X(OP_TOPK,        "topk",         1, "(r f32[R,1]) {k} -> i32[k]: the k rows with largest r, ties to the smaller row, sorted ascending") \
  X(OP_SELECT,      "select",       2, "(p f32[R,1], pos i32[R]) {layer, sym [, threshold = 0]} -> i32[s_sym]: rows with p > threshold, ascending; m is a dynamic symbol; records the routing trace") \
  X(OP_GATHER,      "gather",       2, "(x T[R,C] or T[R], idx i32[k]) -> T[k,C] or T[k]") \
  X(OP_SCATTER_GATE,"scatter_gate", 4, "(h f32[R,d], idx i32[k], y f32[k,d], r f32[R,1]) {gate} -> f32[R,d]: h, with h[idx] = x + g(r[idx])*(y - x), x = h[idx]")

typedef enum {
#define X(e, s, n, doc) e,
  MODC_OPS(X)
#undef X
  OP_COUNT
} Op;

extern const char *const op_names[OP_COUNT];
extern const int op_ninputs[OP_COUNT];
int op_parse(const char *s, Op *out); /* 0 on success */

#endif
