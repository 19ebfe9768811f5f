#!/bin/bash
# device-bundle.sh: a self-contained modc for a machine without LLVM (the GPU machine of
# the issues): modc linked statically against LLVM 19 (xz-compressed, it is ~100 MB
# stripped), modc-randweights, the runtime archive and runtime/modc.h, in one folder; with
# KERNELS=1 also the kernel parity test inside modc (run through a link named test_kernels;
# it links its case library with that machine's cc and MODC_RUNTIME_LIB) and bench_interp
# (a library's forward against the reference interpreter).
#
#   scripts/device-bundle.sh BUILD_DIR OUT_DIR
#
# BUILD_DIR is a configured and built tree (cmake --build BUILD_DIR).  On the other machine:
#   python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('OUT/modc.xz'), open('modc','wb'))"
#   chmod +x modc; export MODC_RUNTIME_LIB=$PWD/OUT/libmodc_rt.a MODC_RUNTIME_DIR=$PWD/OUT
# and modc compiles, links (with that machine's cc and OpenMP) and benches as here.  Only
# libc, libstdc++, libm, libgomp and libzstd stay dynamic.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: device-bundle.sh BUILD_DIR OUT_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd) out=$2
mkdir -p "$out"

# LLVM's x86 back end alone: the other targets' initializers (LLVMInitializeAll* calls every
# target LLVM was built with) are empty stubs, which halves the binaries, so that the bundle
# and the repository fit one call's 64 MiB; --target aarch64 does not work there.
libs=$(llvm-config-19 --link-static --libs x86 core target analysis passes mc support bitwriter)
stubs=$(mktemp -d)/llvm_stubs.c
for t in $(llvm-config-19 --targets-built); do
  [ "$t" = X86 ] && continue
  for f in TargetInfo Target TargetMC AsmPrinter AsmParser Disassembler; do echo "void LLVMInitialize$t$f(void) {}"; done
done > "$stubs"
cc -O2 -c "$stubs" -o "${stubs%.c}.o"
libs="${stubs%.c}.o $libs"
objs=("$build"/CMakeFiles/modc.dir/tools/*.o)
if [ "${KERNELS:-0}" = 1 ]; then
  # one binary, one copy of LLVM: run as test_kernels (a link's name) it is that test's main
  tmp=$(dirname "$stubs")
  for o in "${objs[@]}"; do
    if [ "$(basename "$o")" = modc.c.o ]; then objcopy --redefine-sym main=modc_tool_main "$o" "$tmp/modc.c.o"
    else cp "$o" "$tmp/"; fi
  done
  objcopy --redefine-sym main=test_kernels_main "$build"/tests/CMakeFiles/test_kernels.dir/codegen/test_kernels.c.o \
    "$tmp/test_kernels.c.o"
  printf '%s\n' '#include <string.h>' 'int modc_tool_main(int, char **); int test_kernels_main(int, char **);' \
    'int main(int c, char **v) { const char *b = strrchr(v[0], 0x2f); b = b ? b + 1 : v[0];' \
    '  return strcmp(b, "test_kernels") ? modc_tool_main(c, v) : test_kernels_main(c, v); }' > "$tmp/dispatch.c"
  cc -O2 -c "$tmp/dispatch.c" -o "$tmp/dispatch.o"
  objs=("$tmp"/*.c.o "$tmp/dispatch.o")
  cc -O2 "$build"/CMakeFiles/bench_interp.dir/bench/*.o -o "$out/bench_interp" "$build/libmodc_core.a" \
    -Wl,-Bstatic -lyaml -Wl,-Bdynamic -lm -ldl
fi
# modc tune runs kernels on the runtime's worker pool: the runtime archive and OpenMP (libgomp
# stays dynamic, like the libraries modc links there).  Unused sections dropped and identical
# functions folded (gold's safe ICF), then the x86 branch filter and xz's slowest preset:
# 12.3 MB became 9.8 MB, so that a peer's binaries fit beside it in one call.
cc -O2 -fopenmp "${objs[@]}" -o "$out/modc" "$build/libmodc_core.a" "$build/libmodc_rt.a" -L/usr/lib/llvm-19/lib $libs \
  -fuse-ld=gold -Wl,--icf=safe -Wl,--gc-sections -Wl,--as-needed -Wl,-Bstatic -lyaml -ljansson -lz -Wl,-Bdynamic \
  -l:libzstd.so.1 -lrt -ldl -lm -lpthread -lstdc++
strip "$out/modc"
xz -T1 --x86 --lzma2=preset=9e -f "$out/modc"
cc -O2 "$build"/CMakeFiles/modc-randweights.dir/tools/*.o -o "$out/modc-randweights" "$build/libmodc_core.a" \
  -Wl,-Bstatic -lyaml -Wl,-Bdynamic -lm
cp "$build/libmodc_rt.a" "$out/"
mkdir -p "$out/runtime" && cp runtime/modc.h "$out/runtime/"
ls -la "$out"
