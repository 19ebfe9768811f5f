/* cg.h: codegen's internal state, shared by module.c (module, graphs, descriptor, emission)
 * and kernels.c (one LLVM function per kernel).  Not included outside codegen/. */
#ifndef MODC_CG_H
#define MODC_CG_H

/* Operand slots of a kernel (codegen.h): the most operands any lowered op takes. */
#define CG_KOPS 6
/* Parameters of a kernel: exec, out, rows, then (ptr, rows) per operand slot. */
#define CG_KPARAMS (3 + 2 * CG_KOPS)

#include <llvm-c/Core.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include "codegen.h"

typedef struct CgKernel {
  char key[256];            /* op + constant shapes + attrs: equal keys share one function */
  LLVMValueRef fn;
} CgKernel;

typedef struct CgCtx {
  LLVMContextRef ctx;
  LLVMModuleRef mod;
  LLVMTargetMachineRef tm;
  LLVMTargetDataRef td;
  const CgTarget *target;
  TargetDesc desc;          /* the target model of target (passes/target.h) */
  int vw;                   /* floats per vector register: 16 (AVX-512), 8 (AVX/AVX2), 4 otherwise */
  LLVMTypeRef t_void, t_ptr, t_i1, t_i8, t_i16, t_i32, t_i64, t_f32, t_f64;
  LLVMTypeRef t_kernel;     /* void(ptr exec, ptr out, i64 rows, then CG_KOPS x (ptr, i64)) */
  LLVMTypeRef t_task;       /* void(ptr args, i64 lo, i64 hi) */
  LLVMTypeRef t_exec;       /* struct modc_exec: { ptr x11, i64, ptr } (runtime/exec.h field order) */
  LLVMValueRef fn_parallel_for; /* void modc_rt_parallel_for(ptr exec, ptr fn, ptr args, i64 n) */
  LLVMValueRef fn_topk;     /* void modc_rt_topk(ptr r, i64 n, i64 k, ptr idx) */
  CgKernel *kernels;
  int nkernels, capkernels;
  char suffix[16];          /* of the exported symbols: "" or "__s<set>" (runtime/exec.h) */
  int64_t rope_positions;   /* positions [0, n) whose RoPE cos/sin are constant tables (n >= 1) */
} CgCtx;

/* RoPE tables cover the model's max_seq_len up to CG_ROPE_TABLE_MAX positions (1 MiB a table
 * pair at head_dim 64); kernels emitted without a model (cg_emit's model NULL: the kernel
 * tests) get CG_ROPE_TABLE_BARE.  A position beyond the tables computes its angles as it goes. */
#define CG_ROPE_TABLE_MAX 4096
#define CG_ROPE_TABLE_BARE 64

/* Field indices of modc_exec (runtime/exec.h). */
enum {
  EXEC_WEIGHTS, EXEC_ARENA, EXEC_TOKENS, EXEC_POS, EXEC_OUT, EXEC_DIMS, EXEC_KV_K, EXEC_KV_V,
  EXEC_KV_POS, EXEC_KV_LEN, EXEC_ROUTE, EXEC_NTHREADS, EXEC_POOL, EXEC_NFIELDS
};

/* target.c: shared helpers */
int cg_fail(char *err, size_t errlen, const char *fmt, ...);   /* formats err, returns -1 */
void cg_llvm_init(void);                                      /* all targets, once */

/* kernels.c: the function for node `node` of g (created on first use, shared by equal keys).
 * Nodes of op input/weight/output/block.arg/yield have no kernel and return NULL. */
LLVMValueRef cg_kernel(CgCtx *c, const Graph *g, int node);

#endif
