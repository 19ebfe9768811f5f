/* test_hostcpu.c: the runtime's CPU check accepts the host's own LLVM feature string.
 *
 * A library compiled with --cpu native carries LLVMGetHostCPUFeatures() as its features;
 * modc_open on the same machine must never refuse it.  Every "+feature" LLVM reports for
 * this host must be found by CPUID/XGETBV (or be unknown to the runtime's table).
 */
#include <stdio.h>
#include <llvm-c/Core.h>
#include <llvm-c/TargetMachine.h>

int modc_rt_missing_features(const char *features, char *missing, size_t n);

int main(void) {
  char *features = LLVMGetHostCPUFeatures(), missing[1024];
  int n = modc_rt_missing_features(features, missing, sizeof missing);
  if (n) fprintf(stderr, "host features refused: %s\n(from %s)\n", missing, features);
  else printf("test_hostcpu: host features accepted\n");
  LLVMDisposeMessage(features);
  return n != 0;
}
