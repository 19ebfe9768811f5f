/* tune_routing.h: modc tune --routing (tools/tune_routing.c), per-layer capacities or causal
 * thresholds searched against NLL and latency measured on this CPU (DESIGN section 7). */
#ifndef MODC_TUNE_ROUTING_H
#define MODC_TUNE_ROUTING_H

/* argv: the arguments after "tune" (with --routing among them); returns the exit status. */
int tune_routing_main(int argc, char **argv);

#endif
