/* fuzz_ir.c: libFuzzer harness of the IR text parser (ir/irparse.c), the printer (ir.c),
 * the verifier (verify.c, with the shape rules of shape.c) and the passes.
 *
 * Input: IR text, possibly several graphs separated by "// -----" lines.  For each graph
 * that parses, the invariants checked are:
 *   - the printer's text parses back and prints the same bytes (ir.c: round trip exact);
 *   - a graph that verifies survives every pass: the pipeline infer-shapes -> lower-mod ->
 *     fuse-epilogues -> fuse-routing -> plan-memory -> schedule, and each pass alone, may refuse it with a message but never crash, and
 *     whatever a pass returns successfully verifies again and round-trips.  A crash or an
 *     invalid result on verified input is a bug in the verifier or in the pass.
 */
#include <string.h>
#include "fuzz_common.h"
#include "ir/ir.h"
#include "passes/passes.h"

static const char *const pass_names[] = {"infer-shapes", "lower-mod", "fuse-epilogues", "fuse-routing", "plan-memory",
                                           "schedule"};
#define NPASS ((int)(sizeof pass_names / sizeof pass_names[0]))

/* graph_print into a malloc'd string */
static char *print_str(const Graph *g) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  FUZZ_CHECK(f, "open_memstream");
  graph_print(g, f);
  fclose(f);
  return buf;
}

static void round_trip(const Graph *g, const char *when) {
  char err[1024];
  char *a = print_str(g);
  Graph *h = graph_parse(a, "printed", err, sizeof err);
  FUZZ_CHECK(h, "%s: printed graph does not parse: %s\n%s", when, err, a);
  char *b = print_str(h);
  FUZZ_CHECK(!strcmp(a, b), "%s: print(parse(print(g))) differs:\n%s\n---\n%s", when, a, b);
  char e1[1024], e2[1024];
  int v1 = graph_verify(g, e1, sizeof e1), v2 = graph_verify(h, e2, sizeof e2);
  FUZZ_CHECK(v1 == v2, "%s: verify gives %d before the round trip, %d after (%s / %s)", when,
             v1, v2, v1 ? e1 : "", v2 ? e2 : "");
  graph_free(h);
  free(a);
  free(b);
}

/* A pass on a verified graph: it may fail cleanly; if it succeeds, the result verifies. */
static int run_checked(Graph **g, const char *pass) {
  char err[1024], verr[1024];
  err[0] = 0;
  if (pass_run_named(g, pass, NULL, err, sizeof err)) {
    FUZZ_CHECK(err[0], "pass %s failed without a message", pass);
    return -1;
  }
  FUZZ_CHECK(!graph_verify(*g, verr, sizeof verr), "after %s: %s", pass, verr);
  round_trip(*g, pass);
  return 0;
}

static void check_graph(const Graph *g) {
  char err[1024];
  round_trip(g, "parsed");
  if (graph_verify(g, err, sizeof err)) return;
  Graph *p = graph_clone(g);
  for (int k = 0; k < NPASS && !run_checked(&p, pass_names[k]); k++) {
  }
  graph_free(p);
  for (int k = 0; k < NPASS; k++) {
    Graph *c = graph_clone(g);
    run_checked(&c, pass_names[k]);
    graph_free(c);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[1024];
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  Graph **v;
  int n = graph_parse_all(text, "fuzz.mir", &v, err, sizeof err);
  FUZZ_CHECK(n >= -1, "graph_parse_all returned %d", n);
  if (n < 0) FUZZ_CHECK(!v && err[0], "failed parse left graphs or no message");
  for (int i = 0; i < n; i++) {
    check_graph(v[i]);
    graph_free(v[i]);
  }
  free(v);
  free(text);
  return 0;
}
