#!/bin/bash
# device-bundle.sh: a self-contained modc for a machine without LLVM (the GPU machine of
# the issues): modc linked statically against LLVM 19 (xz-compressed, it is ~100 MB
# stripped), modc-randweights, the runtime archive and runtime/modc.h, in one folder.
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
libs=$(llvm-config-19 --link-static --libs all-targets core target analysis passes mc support bitwriter)
objs=("$build"/CMakeFiles/modc.dir/tools/*.o)
# modc tune runs kernels on the runtime's worker pool: the runtime archive and OpenMP (libgomp
# stays dynamic, like the libraries modc links there)
cc -O2 -fopenmp "${objs[@]}" -o "$out/modc" "$build/libmodc_core.a" "$build/libmodc_rt.a" -L/usr/lib/llvm-19/lib $libs \
  -Wl,--as-needed -Wl,-Bstatic -lyaml -ljansson -lz -Wl,-Bdynamic -l:libzstd.so.1 -lrt -ldl -lm -lpthread -lstdc++
strip "$out/modc"
xz -T2 -6 -f "$out/modc"
cc -O2 "$build"/CMakeFiles/modc-randweights.dir/tools/*.o -o "$out/modc-randweights" "$build/libmodc_core.a" \
  -Wl,-Bstatic -lyaml -Wl,-Bdynamic -lm
cp "$build/libmodc_rt.a" "$out/"
mkdir -p "$out/runtime" && cp runtime/modc.h "$out/runtime/"
ls -la "$out"
