/* calibrate.h: this machine's f32 FMA peak and DRAM read bandwidth at a thread count, measured
 * in well under a second or read from a per-CPU cache file (tools/calibrate.c; DESIGN 9). */
#ifndef MODC_TOOLS_CALIBRATE_H
#define MODC_TOOLS_CALIBRATE_H

typedef struct Calib {
  double peak_gflops;   /* f32 FMA peak of `threads` threads together */
  double dram_gbs;      /* DRAM read bandwidth of `threads` threads, each reading its own slice */
  double buffer_mib;    /* size of the buffer the bandwidth was read from */
  double llc_mib;       /* the last-level cache sysfs reports (the buffer is 4x, capped) */
  double seconds;       /* how long the measurement took (0 when read from the cache) */
  double load;          /* the 1-minute load average when it was measured */
  int threads, cached;  /* cached: read from `file`, else measured now */
  char isa[16];         /* the FMA kernel used: "avx512f", "avx2+fma" or "portable" */
  char cpu[128];        /* the CPU model name: with threads, the cache key */
  char file[1024];      /* the cache file ("" when no cache directory could be found) */
  char why[300];        /* why it was measured rather than read from the cache */
  char note[1200];      /* why the cache file was ignored or not written, or "" */
} Calib;

/* Fills c for `threads` threads: from the cache file of this CPU and thread count when it is
 * there and valid and `recalibrate` is 0, else measured (and the cache file written when its
 * folder can be).  A cache file that does not parse is ignored with a warning on stderr.
 * Never fails; the figures are positive and finite. */
void calibrate(int threads, int recalibrate, Calib *c);

/* The measurements alone, for tests and for calibrate(): GFLOP/s and GB/s of `threads`
 * threads.  calib_bandwidth's buffer is chosen from the last-level cache (see calibrate.c). */
double calib_peak(int threads, char *isa, int isa_size);
double calib_bandwidth(int threads, double *buffer_mib, double *llc_mib);

/* whether a load average means other work shares the cores (> half the online CPUs) */
int calib_busy(double load);

#endif
