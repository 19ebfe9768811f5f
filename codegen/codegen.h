/* codegen.h: scheduled IR -> LLVM module -> object file -> shared library.
 *
 * codegen/ is the only folder that includes the llvm-c headers.  Input: lowered, planned graphs
 * (no mod.block left, every value has storage).  Output: one object defining
 *   - one internal LLVM function per distinct kernel (op + constant shapes + attrs), with the
 *     uniform signature
 *        void k(ptr exec, ptr out, i64 rows_out, ptr a, i64 ra, ptr b, i64 rb, ..., ptr f, i64 rf)
 *     (six operand slots, cg.h CG_KOPS) where out/a..f are the storage addresses of the result and the operands (in operand
 *     order; unused ones null/0) and rows_* their leading dimension (a constant for forward
 *     graphs, a dims[] load for dynamic symbols);
 *   - one function per graph, `void modc__graph_<graph name>(modc_exec *x)`, that calls the
 *     kernels in node order (exported, so tests can call graphs directly);
 *   - when a CgModel is given, the global `modc__desc` (runtime/exec.h) and, with
 *     --embed-weights, the packed blob in .rodata via .incbin.
 */
#ifndef MODC_CODEGEN_H
#define MODC_CODEGEN_H

#include <stddef.h>
#include <stdint.h>
#include "../ir/ir.h"
#include "../frontend/spec.h"
#include "../passes/target.h"

typedef struct CgTarget {
  char triple[128];
  char cpu[64];
  char features[4096];      /* LLVM feature string, "+avx2,+fma,..." */
  int opt_level;            /* 0..3 */
  int native;               /* --cpu native: the host itself (its caches and cores) */
} CgTarget;

/* target "host" or a triple; cpu "native" or an LLVM CPU name.  Validates both against
 * LLVM's registry; error says what is unknown. */
int cg_target_resolve(const char *target, const char *cpu, int opt_level, CgTarget *out,
                      char *err, size_t errlen);
int cg_target_is_host(const CgTarget *t);
/* The target model (passes/target.h) of a resolved target; cores > 0 overrides the core
 * count (the spec's compile.threads), else native targets count the host's. */
void cg_target_describe(const CgTarget *t, int cores, TargetDesc *out);

typedef enum { EMIT_OBJ, EMIT_ASM, EMIT_LLVM } EmitKind;

/* What the model descriptor needs beyond the graphs. */
typedef struct CgModel {
  const Spec *spec;
  Graph **forward;          /* [spec->n_shapes], graph i for seq_len shapes[i][1] */
  Graph *session;
  uint64_t weights_hash;
  int64_t weights_size;
  const char *weights_file; /* default file name beside the library, e.g. "tiny_mod.weights" */
  const char *embed_blob;   /* path of the packed weights file to .incbin, or NULL */
  int set, nsets;           /* kernel set `set` of nsets (one per CPU of --cpu A,B,...): its
                             * symbols are suffixed __s<set> (set 0: none), and set 0's object
                             * defines modc__descs, the table of all (runtime/exec.h) */
} CgModel;

/* Emit graphs (and the descriptor when model != NULL; then graphs are model's) to path. */
int cg_emit(const CgModel *model, Graph **graphs, int n_graphs, const CgTarget *t,
            EmitKind kind, const char *path, char *err, size_t errlen);

/* Link an object with the runtime archive into a shared library (runs the C compiler
 * driver, $MODC_CC or cc).  Only for the host triple. */
int cg_link_shared(const char *obj_path, const char *so_path, char *err, size_t errlen);
/* The same for target t and nobj objects (a library of several kernel sets): the host, or a
 * foreign target cg_target_linkable accepts (its cross driver, $MODC_CROSS_CC or
 * ARCH-linux-gnu-gcc, and runtime archive). */
int cg_link_for(const CgTarget *t, const char *const *objs, int nobj, const char *so_path, char *err, size_t errlen);
/* 0 when a library for t can be linked here: the host, or aarch64 Linux with the cross driver
 * on $PATH and the runtime built for it; else -1 and an error naming what to install. */
int cg_target_linkable(const CgTarget *t, char *err, size_t errlen);

/* The runtime archive linked into libraries, and the folder holding modc.h: from
 * $MODC_RUNTIME_LIB / $MODC_RUNTIME_DIR, else beside an installed modc (BIN/../lib/modc,
 * BIN/../include/modc), else the build tree (runtime_files.c).  Written into buf. */
const char *cg_runtime_lib(char *buf, size_t n);
const char *cg_runtime_dir(char *buf, size_t n);
/* The runtime archive for target t (NULL: the host): for a foreign one, ARCH-OS/libmodc_rt.a
 * in the host archive's folder (e.g. aarch64-linux-gnu/libmodc_rt.a). */
const char *cg_runtime_lib_for(const CgTarget *t, char *buf, size_t n);
/* The same for an object of graphs without a model descriptor (cg_emit with model NULL: the
 * tuner's kernel libraries): only the runtime helpers its kernels call are linked in. */
int cg_link_kernels(const char *obj_path, const char *so_path, char *err, size_t errlen);
/* The C compiler driver a link of this process is running (0: none), for a signal handler
 * that must stop it (modc tune's, when it links in process: the sanitizer builds). */
int cg_link_running(void);

#endif
