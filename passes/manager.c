/* manager.c: the pass pipeline, read top to bottom.
 * Each pass is a row of the table; print-after-all uses the IR printer, and the verifier
 * runs between passes when asked (always in tests and debug builds). */
#include <string.h>
#include "passes.h"
#include "schedule.h"

typedef struct Pass {
  const char *name;
  int (*run)(Graph **g, const PassOptions *o, char *err, size_t errlen);
  int optional;             /* skipped when PassOptions.no_fuse says so */
} Pass;

static int run_infer(Graph **g, const PassOptions *o, char *err, size_t n) { (void)o; return pass_infer_shapes(*g, err, n); }
static int run_lower(Graph **g, const PassOptions *o, char *err, size_t n) { (void)o; return pass_lower_mod(g, err, n); }
static int run_fuse(Graph **g, const PassOptions *o, char *err, size_t n) { (void)o; return pass_fuse_epilogues(g, err, n); }
static int run_route(Graph **g, const PassOptions *o, char *err, size_t n) { (void)o; return pass_fuse_routing(g, err, n); }
static int run_plan(Graph **g, const PassOptions *o, char *err, size_t n) { (void)o; return pass_plan_memory(*g, err, n); }
static int run_sched(Graph **g, const PassOptions *o, char *err, size_t n) { return pass_schedule(*g, o->target, o->tuning, err, n); }

static const Pass pipeline[] = {
  {"infer-shapes", run_infer, 0},
  {"lower-mod", run_lower, 0},
  {"fuse-epilogues", run_fuse, 1},
  {"fuse-routing", run_route, 1},
  {"plan-memory", run_plan, 0},
  {"schedule", run_sched, 0},
};
#define NPASSES ((int)(sizeof pipeline / sizeof pipeline[0]))

int pass_run_named(Graph **g, const char *name, const PassOptions *opt, char *err, size_t errlen) {
  PassOptions none = {0};
  for (int i = 0; i < NPASSES; i++)
    if (!strcmp(pipeline[i].name, name)) return pipeline[i].run(g, opt ? opt : &none, err, errlen);
  snprintf(err, errlen, "unknown pass '%s' (passes: infer-shapes, lower-mod, fuse-epilogues, fuse-routing, "
           "plan-memory, schedule)", name);
  return -1;
}

int passes_run(Graph **g, const PassOptions *opt, char *err, size_t errlen) {
  for (int i = 0; i < NPASSES; i++) {
    const Pass *p = &pipeline[i];
    if (p->optional && opt->no_fuse) continue;
    if (p->run(g, opt, err, errlen)) return -1;
    if (opt->print_after_all) {
      fprintf(opt->print, "// *** IR after %s (%s) ***\n", p->name, (*g)->name);
      graph_print(*g, opt->print);
    }
    if (opt->verify) {
      char verr[512];
      if (graph_verify(*g, verr, sizeof verr)) {
        snprintf(err, errlen, "internal error: IR invalid after %s: %s", p->name, verr);
        return -1;
      }
    }
    if (opt->stop_after && !strcmp(opt->stop_after, p->name)) break;
  }
  return 0;
}
