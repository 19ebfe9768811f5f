/* tune.h: `modc tune` (tools/tune.c), the schedule search, and its --merge. */
#ifndef MODC_TUNE_H
#define MODC_TUNE_H

/* argv: the arguments after "tune"; returns the exit status. */
int tune_main(int argc, char **argv);

#endif
