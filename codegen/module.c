/* module.c: the LLVM module around the kernels, and its emission.
 *
 * Three steps, in the order modc compile runs them:
 *   cg_target_resolve  (target.c) the triple, CPU and features;
 *   cg_emit            builds one module: per graph an exported `modc__graph_<name>(exec)`
 *                      that calls the kernels (kernels.c) in node order, the descriptor
 *                      `modc__desc` (runtime/exec.h) and, with --embed-weights, the blob;
 *                      then verifies, optimises ("default<On>") and writes obj/asm/ll;
 *   cg_link_shared     (link.c) links the object with the runtime into the .so.
 *
 * Output is deterministic: the same graphs and target give byte-identical files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <llvm-c/Analysis.h>
#include <llvm-c/Error.h>
#include <llvm-c/Transforms/PassBuilder.h>
#include "cg.h"
#include "../runtime/exec.h"
#include "../runtime/modc.h"

/* The LLVM structs below mirror the C ones field by field, all 8 bytes wide (exec.h). */
#define DESC_NFIELDS 28
_Static_assert(sizeof(modc_exec) == EXEC_NFIELDS * 8, "cg.h EXEC_* out of step with exec.h");
_Static_assert(sizeof(modc_desc) == DESC_NFIELDS * 8, "DESC_NFIELDS out of step with exec.h");

/* ---- the module and its context -------------------------------------------------------- */

static LLVMCodeGenOptLevel cg_level(int opt) {
  static const LLVMCodeGenOptLevel lv[] = {LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                           LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive};
  return lv[opt < 0 ? 0 : opt > 3 ? 3 : opt];
}

static void ctx_types(CgCtx *c) {
  LLVMContextRef x = c->ctx;
  c->t_void = LLVMVoidTypeInContext(x);
  c->t_ptr = LLVMPointerTypeInContext(x, 0);
  c->t_i1 = LLVMInt1TypeInContext(x);
  c->t_i8 = LLVMInt8TypeInContext(x);
  c->t_i16 = LLVMInt16TypeInContext(x);
  c->t_i32 = LLVMInt32TypeInContext(x);
  c->t_i64 = LLVMInt64TypeInContext(x);
  c->t_f32 = LLVMFloatTypeInContext(x);
  c->t_f64 = LLVMDoubleTypeInContext(x);
  LLVMTypeRef P = c->t_ptr, I = c->t_i64;
  LLVMTypeRef kp[CG_KPARAMS] = {P, P, I};
  for (int i = 0; i < CG_KOPS; i++) kp[3 + 2 * i] = P, kp[4 + 2 * i] = I;
  c->t_kernel = LLVMFunctionType(c->t_void, kp, CG_KPARAMS, 0);
  LLVMTypeRef tp[] = {P, I, I};
  c->t_task = LLVMFunctionType(c->t_void, tp, 3, 0);
  LLVMTypeRef ep[EXEC_NFIELDS];
  for (int i = 0; i < EXEC_NFIELDS; i++) ep[i] = i == EXEC_NTHREADS ? I : P;
  c->t_exec = LLVMStructCreateNamed(x, "modc_exec");
  LLVMStructSetBody(c->t_exec, ep, EXEC_NFIELDS, 0);
}

/* A runtime helper: hidden, because the runtime archive lives in the same library. */
static LLVMValueRef declare_rt(CgCtx *c, const char *name, LLVMTypeRef *params, int n) {
  LLVMValueRef f = LLVMAddFunction(c->mod, name, LLVMFunctionType(c->t_void, params, n, 0));
  LLVMSetVisibility(f, LLVMHiddenVisibility);
  return f;
}

static void ctx_runtime(CgCtx *c) {
  LLVMTypeRef pf[] = {c->t_ptr, c->t_ptr, c->t_ptr, c->t_i64};
  LLVMTypeRef tk[] = {c->t_ptr, c->t_i64, c->t_i64, c->t_ptr};
  c->fn_parallel_for = declare_rt(c, "modc_rt_parallel_for", pf, 4);
  c->fn_topk = declare_rt(c, "modc_rt_topk", tk, 4);
}

/* The target model (passes/target.h) answers what the vector width is. */
static void ctx_isa(CgCtx *c, const CgTarget *t) {
  cg_target_describe(t, 0, &c->desc);
  c->vw = c->desc.vw;
}

static int ctx_open(CgCtx *c, const CgTarget *t, const char *name, char *err, size_t errlen) {
  LLVMTargetRef target;
  char *msg = NULL;
  memset(c, 0, sizeof *c);
  cg_llvm_init();
  if (LLVMGetTargetFromTriple(t->triple, &target, &msg)) {
    cg_fail(err, errlen, "unknown target triple '%s' (%s)", t->triple, msg ? msg : "?");
    LLVMDisposeMessage(msg);
    return -1;
  }
  c->target = t;
  c->ctx = LLVMContextCreate();
  c->tm = LLVMCreateTargetMachine(target, t->triple, t->cpu, t->features, cg_level(t->opt_level),
                                  LLVMRelocPIC, LLVMCodeModelDefault);
  c->td = LLVMCreateTargetDataLayout(c->tm);
  c->mod = LLVMModuleCreateWithNameInContext(name, c->ctx);
  LLVMSetTarget(c->mod, t->triple);
  LLVMSetModuleDataLayout(c->mod, c->td);
  ctx_types(c);
  ctx_runtime(c);
  ctx_isa(c, t);
  return 0;
}

/* Dispose in reverse order of creation. */
static void ctx_close(CgCtx *c) {
  free(c->kernels);
  if (c->mod) LLVMDisposeModule(c->mod);
  if (c->td) LLVMDisposeTargetData(c->td);
  if (c->tm) LLVMDisposeTargetMachine(c->tm);
  if (c->ctx) LLVMContextDispose(c->ctx);
  memset(c, 0, sizeof *c);
}

static LLVMValueRef i64c(CgCtx *c, int64_t v) {
  return LLVMConstInt(c->t_i64, (unsigned long long)v, 1);
}

/* ---- graph functions ------------------------------------------------------------------- */

typedef struct GraphEmit {
  CgCtx *c;
  const Graph *g;
  LLVMBuilderRef b;
  LLVMValueRef x;                  /* the modc_exec * argument */
  LLVMValueRef base[EXEC_NFIELDS]; /* exec fields loaded at entry (pointers that never change) */
} GraphEmit;

/* Ops that are graph plumbing rather than computation: no kernel, no call. */
static int op_is_plumbing(Op op) {
  return op == OP_INPUT || op == OP_WEIGHT || op == OP_OUTPUT || op == OP_BLOCK_ARG ||
         op == OP_YIELD;
}

static const char *op_text(Op op) {
  return (unsigned)op < OP_COUNT ? op_names[op] : "<bad op>";
}

/* A value a kernel reads or writes: typed and placed. */
static int check_value(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  if (n->ty.rank < 0)
    return cg_fail(err, errlen, "internal error: graph %s: %%%d (%s) is not typed", g->name, i,
                op_text(n->op));
  if (n->st == ST_NONE)
    return cg_fail(err, errlen, "internal error: graph %s: %%%d (%s) has no storage (run "
                "plan-memory first)", g->name, i, op_text(n->op));
  if (n->ty.rank > 0 && DIM_IS_SYM(n->ty.dim[0]) && DIM_SYMNO(n->ty.dim[0]) >= g->nsym)
    return cg_fail(err, errlen, "internal error: graph %s: %%%d uses symbol s%d of %d", g->name,
                i, DIM_SYMNO(n->ty.dim[0]), g->nsym);
  return 0;
}

/* require: lowered (no regions), typed, planned. */
static int check_node(const Graph *g, int i, char *err, size_t errlen) {
  const Node *n = &g->n[i];
  if (n->op == OP_MOD_BLOCK || n->parent >= 0)
    return cg_fail(err, errlen, "internal error: graph %s is not lowered: %%%d (%s) is %s",
                g->name, i, op_text(n->op), n->parent >= 0 ? "inside a region" : "a region");
  if (op_is_plumbing(n->op)) return 0;
  if (n->nin > CG_KOPS)
    return cg_fail(err, errlen, "internal error: graph %s: %%%d (%s) has %d operands; kernels "
                "take at most %d", g->name, i, op_text(n->op), n->nin, CG_KOPS);
  int rc = check_value(g, i, err, errlen);
  for (int k = 0; k < n->nin && !rc; k++) rc = check_value(g, n->in[k], err, errlen);
  return rc;
}

static LLVMValueRef exec_load(GraphEmit *e, int field, LLVMTypeRef ty, const char *name) {
  LLVMValueRef p = LLVMBuildStructGEP2(e->b, e->c->t_exec, e->x, (unsigned)field, "");
  return LLVMBuildLoad2(e->b, ty, p, name);
}

static void load_bases(GraphEmit *e) {
  static const struct { int f; const char *name; } fs[] = {
    {EXEC_WEIGHTS, "weights"}, {EXEC_ARENA, "arena"}, {EXEC_TOKENS, "tokens"},
    {EXEC_POS, "pos"}, {EXEC_OUT, "out"}, {EXEC_DIMS, "dims"},
  };
  for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
    e->base[fs[i].f] = exec_load(e, fs[i].f, e->c->t_ptr, fs[i].name);
}

/* Storage address of node i's value: its storage's base pointer + offset. */
static LLVMValueRef value_addr(GraphEmit *e, int i) {
  static const int field[] = {
    [ST_ARENA] = EXEC_ARENA, [ST_WEIGHTS] = EXEC_WEIGHTS, [ST_TOKENS] = EXEC_TOKENS,
    [ST_POS] = EXEC_POS, [ST_OUT] = EXEC_OUT,
  };
  const Node *n = &e->g->n[i];
  LLVMValueRef p = e->base[field[n->st]];
  if (!n->offset) return p;
  char name[24];
  snprintf(name, sizeof name, "v%d", i);
  LLVMValueRef off = i64c(e->c, n->offset);
  return LLVMBuildInBoundsGEP2(e->b, e->c->t_i8, p, &off, 1, name);
}

/* Leading dimension of node i's value; a symbol is loaded afresh, since an earlier kernel
 * (select) may have just written it. */
static LLVMValueRef value_rows(GraphEmit *e, int i) {
  const Type *t = &e->g->n[i].ty;
  if (t->rank == 0) return i64c(e->c, 1);
  if (!DIM_IS_SYM(t->dim[0])) return i64c(e->c, t->dim[0]);
  char name[24];
  snprintf(name, sizeof name, "s%d", DIM_SYMNO(t->dim[0]));
  LLVMValueRef idx = i64c(e->c, DIM_SYMNO(t->dim[0]));
  LLVMValueRef p = LLVMBuildInBoundsGEP2(e->b, e->c->t_i64, e->base[EXEC_DIMS], &idx, 1, "");
  return LLVMBuildLoad2(e->b, e->c->t_i64, p, name);
}

/* kernel(exec, out, rows, a, ra, b, rb, ...) for node i, unused operand slots null / 0. */
static int emit_call(GraphEmit *e, int i, char *err, size_t errlen) {
  CgCtx *c = e->c;
  const Node *n = &e->g->n[i];
  LLVMValueRef fn = cg_kernel(c, e->g, i);
  if (!fn)
    return cg_fail(err, errlen, "internal error: graph %s: no kernel for %%%d (%s)", e->g->name,
                i, op_text(n->op));
  if (LLVMGlobalGetValueType(fn) != c->t_kernel)
    return cg_fail(err, errlen, "internal error: kernel for %%%d (%s) has the wrong signature",
                i, op_text(n->op));
  LLVMValueRef args[CG_KPARAMS] = {e->x, value_addr(e, i), value_rows(e, i)};
  for (int k = 0; k < CG_KOPS; k++) {
    int has = k < n->nin;
    args[3 + 2 * k] = has ? value_addr(e, n->in[k]) : LLVMConstPointerNull(c->t_ptr);
    args[4 + 2 * k] = has ? value_rows(e, n->in[k]) : i64c(c, 0);
  }
  LLVMBuildCall2(e->b, c->t_kernel, fn, args, CG_KPARAMS, "");
  return 0;
}

static LLVMValueRef graph_fn_add(CgCtx *c, const Graph *g, char *err, size_t errlen) {
  char name[112];
  snprintf(name, sizeof name, "modc__graph_%s%s", g->name, c->suffix);
  if (LLVMGetNamedFunction(c->mod, name)) {
    cg_fail(err, errlen, "internal error: two graphs named '%s'", g->name);
    return NULL;
  }
  LLVMTypeRef ft = LLVMFunctionType(c->t_void, &c->t_ptr, 1, 0);
  LLVMValueRef f = LLVMAddFunction(c->mod, name, ft);
  unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
  LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                          LLVMCreateEnumAttribute(c->ctx, nounwind, 0));
  LLVMSetValueName2(LLVMGetParam(f, 0), "x", 1);
  return f;
}

/* void modc__graph_<name>(modc_exec *x): the kernels of g in node order. */
static int emit_graph(CgCtx *c, const Graph *g, char *err, size_t errlen) {
  for (int i = 0; i < g->len; i++)
    if (check_node(g, i, err, errlen)) return -1;
  LLVMValueRef f = graph_fn_add(c, g, err, errlen);
  if (!f) return -1;
  GraphEmit e = {c, g, LLVMCreateBuilderInContext(c->ctx), LLVMGetParam(f, 0), {0}};
  LLVMPositionBuilderAtEnd(e.b, LLVMAppendBasicBlockInContext(c->ctx, f, "entry"));
  load_bases(&e);
  int rc = 0;
  for (int i = 0; i < g->len && !rc; i++)
    if (!op_is_plumbing(g->n[i].op)) rc = emit_call(&e, i, err, errlen);
  LLVMBuildRetVoid(e.b);
  LLVMDisposeBuilder(e.b);
  return rc;
}

/* ---- the descriptor -------------------------------------------------------------------- */

/* A private constant global holding init; returns its address. */
static LLVMValueRef const_global(CgCtx *c, LLVMValueRef init, const char *name) {
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetLinkage(g, LLVMPrivateLinkage);
  LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
  return g;
}

static LLVMValueRef const_str(CgCtx *c, const char *s, const char *name) {
  if (!s) return LLVMConstPointerNull(c->t_ptr);
  return const_global(c, LLVMConstStringInContext(c->ctx, s, (unsigned)strlen(s), 0), name);
}

static LLVMValueRef const_array(CgCtx *c, LLVMTypeRef elt, LLVMValueRef *v, int n,
                                const char *name) {
  return const_global(c, LLVMConstArray2(elt, v, (uint64_t)n), name);
}

/* The graph function of g, or a null pointer when there is no graph. */
static LLVMValueRef graph_ref(CgCtx *c, const Graph *g, char *err, size_t errlen) {
  if (!g) return LLVMConstPointerNull(c->t_ptr);
  char name[112];
  snprintf(name, sizeof name, "modc__graph_%s%s", g->name, c->suffix);
  LLVMValueRef f = LLVMGetNamedFunction(c->mod, name);
  if (!f) cg_fail(err, errlen, "internal error: the model's graph '%s' was not emitted", g->name);
  return f;
}

/* capacity f32[n_layers] and routed i32[n_layers]. */
static void desc_layers(CgCtx *c, const Spec *s, LLVMValueRef *cap, LLVMValueRef *routed) {
  LLVMValueRef cv[SPEC_MAX_LAYERS], rv[SPEC_MAX_LAYERS];
  for (int l = 0; l < s->n_layers; l++) {
    cv[l] = LLVMConstReal(c->t_f32, (float)s->capacity[l]);
    rv[l] = LLVMConstInt(c->t_i32, (unsigned long long)s->routed[l], 0);
  }
  *cap = const_array(c, c->t_f32, cv, s->n_layers, "modc.capacity");
  *routed = const_array(c, c->t_i32, rv, s->n_layers, "modc.routed");
}

/* shapes i32[n_shapes][2], forward fn[n_shapes], forward_arena and forward_nsym i64[n_shapes]. */
static int desc_shapes(CgCtx *c, const CgModel *m, LLVMValueRef out[4], char *err,
                       size_t errlen) {
  const Spec *s = m->spec;
  LLVMValueRef sh[2 * SPEC_MAX_SHAPES], fn[SPEC_MAX_SHAPES], ar[SPEC_MAX_SHAPES],
      ns[SPEC_MAX_SHAPES];
  for (int i = 0; i < s->n_shapes; i++) {
    sh[2 * i] = LLVMConstInt(c->t_i32, (unsigned long long)s->shapes[i][0], 0);
    sh[2 * i + 1] = LLVMConstInt(c->t_i32, (unsigned long long)s->shapes[i][1], 0);
    if (!m->forward || !m->forward[i])
      return cg_fail(err, errlen, "internal error: no forward graph for shape %d", i);
    if (!(fn[i] = graph_ref(c, m->forward[i], err, errlen))) return -1;
    ar[i] = i64c(c, m->forward[i]->arena_size);
    ns[i] = i64c(c, m->forward[i]->nsym);
  }
  out[0] = const_array(c, c->t_i32, sh, 2 * s->n_shapes, "modc.shapes");
  out[1] = const_array(c, c->t_ptr, fn, s->n_shapes, "modc.forward");
  out[2] = const_array(c, c->t_i64, ar, s->n_shapes, "modc.forward_arena");
  out[3] = const_array(c, c->t_i64, ns, s->n_shapes, "modc.forward_nsym");
  return 0;
}

/* The blob of the packed weights file, after its 64-byte header, must be what the model
 * describes; the assembler reads it later, so check now to get an error instead of a crash. */
static int blob_check(const CgModel *m, char *err, size_t errlen) {
  struct stat st;
  if (strpbrk(m->embed_blob, "\"\\\n"))
    return cg_fail(err, errlen, "cannot embed weights from '%s': the path contains a quote, "
                "backslash or newline", m->embed_blob);
  if (stat(m->embed_blob, &st) != 0 || !S_ISREG(st.st_mode))
    return cg_fail(err, errlen, "cannot embed weights: '%s' is not a readable file", m->embed_blob);
  if ((int64_t)st.st_size != MODC_WEIGHTS_HEADER + m->weights_size)
    return cg_fail(err, errlen, "cannot embed weights: '%s' has %lld bytes, expected %lld "
                "(64-byte header + %lld-byte blob)", m->embed_blob, (long long)st.st_size,
                (long long)(MODC_WEIGHTS_HEADER + m->weights_size), (long long)m->weights_size);
  return 0;
}

/* Module asm putting the blob in a read-only section, 64-aligned, under a local label
 * (modc__weights, suffixed for kernel sets after the first). */
static char *blob_asm(const char *triple, const char *path, const char *sfx) {
  size_t n = strlen(path) + 320;
  char *s = malloc(n);
  if (!s) return NULL;
  if (strstr(triple, "apple") || strstr(triple, "darwin") || strstr(triple, "macos"))
    snprintf(s, n, "\t.pushsection __TEXT,__const\n\t.p2align 6\n_modc__weights%s:\n"
             "\t.incbin \"%s\", %d\n\t.popsection\n", sfx, path, MODC_WEIGHTS_HEADER);
  else
    snprintf(s, n, "\t.pushsection .rodata.modc_weights,\"a\"\n\t.p2align 6\n"
             "\t.type modc__weights%s, %%object\nmodc__weights%s:\n\t.incbin \"%s\", %d\n"
             "\t.size modc__weights%s, . - modc__weights%s\n\t.popsection\n", sfx, sfx, path,
             MODC_WEIGHTS_HEADER, sfx, sfx);
  return s;
}

/* The blob, referred to from LLVM code through a hidden declaration of the asm's label
 * (the assembler resolves it inside this object). */
static LLVMValueRef embed_blob(CgCtx *c, const CgModel *m, char *err, size_t errlen) {
  const char *triple = c->target->triple;
  if (strstr(triple, "windows") || strstr(triple, "mingw") || strstr(triple, "cygwin")) {
    cg_fail(err, errlen, "--embed-weights is not supported for target %s (ELF and Mach-O only)",
         triple);
    return NULL;
  }
  if (blob_check(m, err, errlen)) return NULL;
  char *s = blob_asm(triple, m->embed_blob, c->suffix);
  if (!s) {
    cg_fail(err, errlen, "out of memory");
    return NULL;
  }
  LLVMSetModuleInlineAsm2(c->mod, s, strlen(s));
  free(s);
  char label[48];
  snprintf(label, sizeof label, "modc__weights%s", c->suffix);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMArrayType2(c->t_i8, (uint64_t)m->weights_size), label);
  LLVMSetVisibility(g, LLVMHiddenVisibility);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, 64);
  return g;
}

/* const modc_desc_set modc__descs = {n, {&modc__desc, &modc__desc_1, ...}}: the other sets'
 * descriptors are declared here and defined by their own objects, linked into one library. */
static int emit_desc_table(CgCtx *c, LLVMTypeRef desc_ty, LLVMValueRef first, int n, char *err, size_t errlen) {
  LLVMValueRef v[64];
  if (n > 64) return cg_fail(err, errlen, "internal error: %d kernel sets, at most 64", n);
  v[0] = first;
  for (int i = 1; i < n; i++) {
    char name[48];
    snprintf(name, sizeof name, "modc__desc_%d", i);
    v[i] = LLVMAddGlobal(c->mod, desc_ty, name);
    LLVMSetVisibility(v[i], LLVMHiddenVisibility);
    LLVMSetGlobalConstant(v[i], 1);
  }
  LLVMValueRef f[2] = {i64c(c, n), const_array(c, c->t_ptr, v, n, "modc.descs")};
  LLVMValueRef init = LLVMConstStructInContext(c->ctx, f, 2, 0);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), "modc__descs");
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, 8);
  LLVMSetVisibility(g, LLVMHiddenVisibility);
  return 0;
}

/* const modc_desc modc__desc = {...}: exec.h's fields, in order. */
static int emit_desc(CgCtx *c, const CgModel *m, char *err, size_t errlen) {
  const Spec *s = m->spec;
  const CgTarget *t = c->target;
  LLVMValueRef v[DESC_NFIELDS], shapes[4] = {0}, cap, routed;
  LLVMValueRef blob = LLVMConstPointerNull(c->t_ptr);
  if (m->embed_blob && !(blob = embed_blob(c, m, err, errlen))) return -1;
  if (desc_shapes(c, m, shapes, err, errlen)) return -1;
  desc_layers(c, s, &cap, &routed);
  int k = 0;
  v[k++] = i64c(c, MODC_ABI_VERSION);                       /*  0 abi_version */
  v[k++] = const_str(c, s->name, "modc.name");              /*  1 */
  v[k++] = const_str(c, t->triple, "modc.triple");          /*  2 */
  v[k++] = const_str(c, t->cpu, "modc.cpu");                /*  3 */
  v[k++] = const_str(c, t->features, "modc.features");      /*  4 */
  v[k++] = i64c(c, s->vocab_size);                          /*  5 */
  v[k++] = i64c(c, s->d_model);                             /*  6 */
  v[k++] = i64c(c, s->n_layers);                            /*  7 */
  v[k++] = i64c(c, s->n_heads);                             /*  8 */
  v[k++] = i64c(c, s->n_kv_heads);                          /*  9 */
  v[k++] = i64c(c, spec_head_dim(s));                       /* 10 */
  v[k++] = i64c(c, s->max_seq_len);                         /* 11 */
  v[k++] = i64c(c, s->threads);                             /* 12 default_threads */
  v[k++] = i64c(c, m->weights_size);                        /* 13 */
  v[k++] = i64c(c, (int64_t)m->weights_hash);               /* 14 */
  v[k++] = blob;                                            /* 15 weights_embedded */
  v[k++] = const_str(c, m->weights_file, "modc.weights_file"); /* 16 */
  v[k++] = cap;                                             /* 17 capacity */
  v[k++] = routed;                                          /* 18 routed */
  v[k++] = i64c(c, s->n_shapes);                            /* 19 */
  v[k++] = shapes[0];                                       /* 20 shapes */
  v[k++] = shapes[1];                                       /* 21 forward */
  v[k++] = shapes[2];                                       /* 22 forward_arena */
  v[k++] = shapes[3];                                       /* 23 forward_nsym */
  if (!(v[k++] = graph_ref(c, m->session, err, errlen))) return -1; /* 24 session */
  v[k++] = i64c(c, m->session ? m->session->arena_size : 0); /* 25 session_arena */
  v[k++] = i64c(c, m->session ? m->session->nsym : 0);     /* 26 session_nsym */
  v[k++] = i64c(c, s->forward == FWD_THRESHOLD);            /* 27 forward_threshold */
  LLVMValueRef init = LLVMConstStructInContext(c->ctx, v, DESC_NFIELDS, 0);
  char name[48];
  snprintf(name, sizeof name, m->set ? "modc__desc_%d" : "modc__desc", m->set);
  LLVMValueRef g = LLVMAddGlobal(c->mod, LLVMTypeOf(init), name);
  LLVMSetInitializer(g, init);
  LLVMSetGlobalConstant(g, 1);
  LLVMSetAlignment(g, 8);
  if (m->set) LLVMSetVisibility(g, LLVMHiddenVisibility);
  return m->set ? 0 : emit_desc_table(c, LLVMTypeOf(init), g, m->nsets > 1 ? m->nsets : 1, err, errlen);
}

/* ---- verify, optimise, write ----------------------------------------------------------- */

static int verify(CgCtx *c, char *err, size_t errlen) {
  char *msg = NULL;
  int bad = LLVMVerifyModule(c->mod, LLVMReturnStatusAction, &msg);
  if (bad) cg_fail(err, errlen, "internal error: LLVM rejects the generated module: %s", msg);
  LLVMDisposeMessage(msg);
  return bad ? -1 : 0;
}

static int optimise(CgCtx *c, char *err, size_t errlen) {
  char pipeline[32];
  snprintf(pipeline, sizeof pipeline, "default<O%d>", c->target->opt_level);
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
#ifndef NDEBUG
  LLVMPassBuilderOptionsSetVerifyEach(opts, 1);
#endif
  LLVMErrorRef e = LLVMRunPasses(c->mod, pipeline, c->tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (!e) return 0;
  char *msg = LLVMGetErrorMessage(e);
  cg_fail(err, errlen, "internal error: LLVM pipeline %s failed: %s", pipeline, msg);
  LLVMDisposeErrorMessage(msg);
  return -1;
}

static int write_out(CgCtx *c, EmitKind kind, const char *path, char *err, size_t errlen) {
  char *msg = NULL;
  LLVMBool bad = kind == EMIT_LLVM
                     ? LLVMPrintModuleToFile(c->mod, path, &msg)
                     : LLVMTargetMachineEmitToFile(c->tm, c->mod, path,
                                                   kind == EMIT_ASM ? LLVMAssemblyFile
                                                                    : LLVMObjectFile, &msg);
  if (bad) cg_fail(err, errlen, "cannot write %s: %s", path, msg ? msg : "unknown error");
  if (msg) LLVMDisposeMessage(msg);
  return bad ? -1 : 0;
}

int cg_emit(const CgModel *model, Graph **graphs, int n_graphs, const CgTarget *t,
            EmitKind kind, const char *path, char *err, size_t errlen) {
  CgCtx c;
  const char *name = model && model->spec ? model->spec->name : "modc";
  if (ctx_open(&c, t, name, err, errlen)) return -1;
  if (model && model->set) snprintf(c.suffix, sizeof c.suffix, "__s%d", model->set);
  c.rope_positions = CG_ROPE_TABLE_BARE;
  if (model && model->spec)
    c.rope_positions = model->spec->max_seq_len < CG_ROPE_TABLE_MAX ? model->spec->max_seq_len : CG_ROPE_TABLE_MAX;
  int rc = 0;
  for (int i = 0; i < n_graphs && !rc; i++) rc = emit_graph(&c, graphs[i], err, errlen);
  if (!rc && model) rc = emit_desc(&c, model, err, errlen);
  if (!rc) rc = verify(&c, err, errlen);
  if (!rc) rc = optimise(&c, err, errlen);
  if (!rc) rc = write_out(&c, kind, path, err, errlen);
  ctx_close(&c);
  return rc;
}
