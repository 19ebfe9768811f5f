/* tune_kern.h: one kernel of a model, alone, on random data: what `modc tune` times.
 *
 * A TuneCall is one way a model calls a kernel (passes/kkey.h names the kernel): a small
 * graph holding copies of the node's operands as data (weights packed as the model packs
 * them, activations, indices and positions filled with deterministic random values of the
 * model's own shapes) and the node itself as the result; for a session's decode step every
 * row symbol is 1, and kv_attention finds a cache of kv_len rows before it.  Candidates are
 * the same graph with another schedule record on the node.  All candidates of a round go
 * into one object (codegen/module.c: one function per graph), linked with the runtime's
 * helpers into one library (cg_link_kernels) and loaded; each is then called on the same
 * data, its output compared with the heuristic record's and its time taken as the median
 * of repeated calls, on the tuner's own worker pool (runtime/pool.h) as a model would run.
 */
#ifndef MODC_TUNE_KERN_H
#define MODC_TUNE_KERN_H

#include <stddef.h>
#include <stdint.h>
#include "codegen/codegen.h"
#include "ir/ir.h"
#include "runtime/exec.h"

typedef struct TuneCall {
  Graph *tmpl;              /* operands as data + the node (ST_OUT); its record the heuristic's */
  int node;                 /* the kernel node in tmpl */
  int decode;               /* a session's one-row step (else the graph's own rows) */
  int path;                 /* TUNE_ONE (tune_space.h) when the call takes the one-row path
                               (decode, or one row), else TUNE_MANY */
  uint8_t *blob;            /* the operands' data, 64-byte aligned offsets */
  int64_t blen;
  /* Copies of the blob that successive runs take in turn, so that together they outgrow the
   * last-level cache: each run then reads its weights from memory, as in a model, where the
   * kernels between two calls of one kernel read other weights (a GEMV timed on weights left
   * in the cache by its previous run would be timed at cache speed, not DRAM's). */
  uint8_t **copies;         /* [ncopies], copies[0] = blob */
  int ncopies, next;
  int32_t *pos;             /* ST_POS input [npos], or NULL */
  int64_t dims[IR_MAXSYM];  /* the symbols' values in this call */
  int64_t nout;             /* result elements */
  float *out0;              /* [nout] the result buffer before the call (in-place scatter), or NULL */
  float *ref;               /* [nout] the heuristic record's output, once taken */
  /* kv_attention: the cache of layer kv_layer holds kv_len0 rows before each call */
  int kv_layer;
  int64_t kv_len0, kv_w, kv_cap;
  float *kv_k, *kv_v;
  int32_t *kv_pos;
} TuneCall;

/* The call of node i of g (typed, scheduled, planned); decode: g is a session graph and the
 * call is one decode step after kv_len cached rows; cache: bytes of the last-level cache (the
 * blob is copied until the copies hold twice that, at most TUNE_MAX_COPIES; 0: no copies).
 * 0, or -1 with err. */
#define TUNE_MAX_COPIES 32
int tcall_make(TuneCall *c, const Graph *g, int i, int decode, int64_t kv_len, int64_t cache, char *err, size_t n);
void tcall_free(TuneCall *c);

/* One candidate: call c's kernel with record rec. */
typedef struct TuneJob {
  TuneCall *call;
  Sched rec;
  Graph *g;                 /* the candidate's graph (tune_build makes it) */
  modc_graph_fn fn;
} TuneJob;

/* Does rec fit c's kernel (the verifier's answer)?  1 yes, 0 no. */
int tjob_valid(const TuneCall *c, const Sched *rec);

/* Libraries of one round, loaded. */
#define TUNE_MAX_PARTS 64
typedef struct TuneLibs {
  void *dl[TUNE_MAX_PARTS];
  int n;
} TuneLibs;

/* Build jobs[0..n) into libraries under dir (named by stem) and resolve their functions: the
 * jobs cut into `parts` contiguous parts, each compiled and linked by a child process of its
 * own, all at once (LLVM compiles one module on one core).  The libraries stay loaded in
 * libs (tune_unload).  0, or -1 with err. */
int tune_build(TuneJob *jobs, int n, const CgTarget *t, const char *dir, const char *stem, int parts,
               TuneLibs *libs, char *err, size_t errlen);
void tune_unload(TuneLibs *libs, TuneJob *jobs, int n);
/* Stop the children of a build in progress, their groups with them (a signal handler's clean-up;
 * cli_reap_all_in_handler then waits for them). */
void tune_kill_builds(void);

/* The runner: threads, the worker pool, the output buffer (big enough for any call). */
typedef struct TuneRunner {
  int threads;
  void *pool;               /* rt_pool, NULL on one thread */
  float *out;
  int64_t outcap;
  int fault;                /* $MODC_TUNE_FAULT set (a test hook): every output of a record other
                               than the heuristic's is made wrong after its run, which the
                               check must catch, so that no such record is ever chosen */
} TuneRunner;
int trunner_init(TuneRunner *r, int threads);
void trunner_free(TuneRunner *r);

/* Median milliseconds of j's call over repeats (at least min_reps, more until min_ms of
 * calls or max_reps), after one warm-up call whose output is left in r->out. */
double tjob_time(TuneRunner *r, TuneJob *j, int min_reps, int max_reps, double min_ms);
/* Medians (ms) of a's and b's calls made in turn, a b a b ..., after a warm-up call of each:
 * at least min_reps pairs, more until min_ms of calls or max_reps.  Alternating call by call
 * cancels the machine's slow drifts (a neighbour's load, the clock), which timing one record
 * after the other does not. */
void tjob_time_pair(TuneRunner *r, TuneJob *a, TuneJob *b, int min_reps, int max_reps, double min_ms, double *ma,
                    double *mb);
/* The same for n jobs (at most TUNE_MAX_ROT): each repetition calls every job once, starting
 * one further along each time (no job always follows the same one); medians into ms[]. */
#define TUNE_MAX_ROT 32
void tjob_time_rot(TuneRunner *r, TuneJob **jobs, int n, int min_reps, int max_reps, double min_ms, double *ms);
/* Run j once (its milliseconds in *ms, a first, cold measure); 1 if its output agrees with
 * the call's reference (first run of the heuristic's record: takes the reference and returns
 * 1), 0 if not (max |diff| over max |ref| above 1e-5, or a NaN or inf where the reference has
 * none), with what differs in why (NULL: not wanted).  f32 outputs only (the tuned kinds). */
int tjob_check(TuneRunner *r, TuneJob *j, double *ms, char *why, size_t n);

#endif
