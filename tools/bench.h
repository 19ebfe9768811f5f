/* bench.h: `modc bench`, timings of a compiled library through its ABI (tools/bench.c). */
#ifndef MODC_TOOLS_BENCH_H
#define MODC_TOOLS_BENCH_H

/* argv holds the arguments after "bench"; returns the process exit status. */
int bench_main(int argc, char **argv);

#endif
