#!/bin/bash
# test_cross.sh: `modc compile --target aarch64-linux-gnu` from the command line (issue 11).
# The library, header, weights and .pc are written; the library is AArch64 ELF and opens and
# runs under qemu (tests/cross/runner.c); two compiles give the same bytes; a CPU LLVM does not
# know, one modc has no feature list for, a foreign triple modc cannot link, a missing cross
# compiler or cross runtime, and --cpu native for a foreign target are refused with messages
# naming what to do, and nothing is written.
# usage: test_cross.sh MODC MODC_RANDWEIGHTS QEMU RUNNER WORK_DIR
set -u
M=$1 RW=$2 Q=$3 R=$4 W=$5 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
. "$here/testlib.sh"
cat > x.yaml <<'Y'
modc: 1
name: xa
weights: xa.safetensors
model: {vocab_size: 64, d_model: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, d_ff: 48, max_seq_len: 32,
        norm_eps: 1.0e-5, rope_theta: 10000.0}
routing: {layers: every_other, capacity: 0.25, gate: raw, predictor: router}
compile: {shapes: [[1, 16]]}
Y
"$RW" x.yaml -o xa.safetensors > /dev/null || exit 1
X=(--target aarch64-linux-gnu --cpu neoverse-n1)

"$M" compile x.yaml "${X[@]}" -o a/libxa.so > out.txt 2> err.txt && ok "compile for aarch64-linux-gnu" \
  || bad "compile: $(cat err.txt)"
# ELF header: class 64-bit (byte 4 = 2), machine EM_AARCH64 = 183 (bytes 18-19, little-endian)
[ "$(od -An -tu1 -j4 -N1 a/libxa.so | tr -d ' ')" = 2 ] && [ "$(od -An -tu2 -j18 -N2 a/libxa.so | tr -d ' ')" = 183 ] \
  && ok "the library is 64-bit AArch64 ELF" || bad "not an AArch64 ELF: $(od -An -tx1 -N20 a/libxa.so)"
for f in xa.h xa.weights xa.pc modc.h; do [ -s a/$f ] && ok "a/$f written" || bad "no a/$f"; done
"$M" compile x.yaml "${X[@]}" -o b/libxa.so -q 2> err.txt && cmp -s a/libxa.so b/libxa.so && cmp -s a/xa.weights b/xa.weights \
  && ok "two compiles give the same bytes" || bad "two compiles differ: $(cat err.txt)"
# a forward job through the ABI under emulation: n_threads 2, one job, B=1, T=16
python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<5i', 2, 1, 0, 1, 16) + struct.pack('<16i', *range(16)))" > jobs.bin
"$Q" -L /usr/aarch64-linux-gnu -cpu neoverse-n1 "$R" a/libxa.so jobs.bin out.bin 2> run.err \
  && [ "$(stat -c %s out.bin)" = $((16 * 64 * 4)) ] && ok "it runs under qemu-aarch64 (16 x 64 logits)" \
  || bad "runner under qemu: $(cat run.err)"

refuse "an AArch64 CPU LLVM does not know" "unknown CPU 'neoverse-n9' for target aarch64-unknown-linux-gnu (did you mean" \
  "$M" compile x.yaml --target aarch64-linux-gnu --cpu neoverse-n9 -o c/libxa.so
refuse "a CPU without a feature list" "CPU 'cortex-a65' is known to LLVM but modc has no list of its ISA features" \
  "$M" compile x.yaml --target aarch64-linux-gnu --cpu cortex-a65 -o c/libxa.so
refuse "a foreign triple modc cannot link" "cannot link a shared library for foreign target 'riscv64-unknown-linux-gnu'" \
  "$M" compile x.yaml --target riscv64-linux-gnu --cpu generic-rv64 -o c/libxa.so
"$M" compile x.yaml --target riscv64-linux-gnu --cpu generic-rv64 --emit obj -o d/x.o -q 2> err.txt && [ -s d/x.o ] \
  && ok "but it can --emit obj" || bad "riscv64 --emit obj: $(cat err.txt)"
refuse "an unknown triple" "unknown target triple 'nonsense64-linux-gnu'" "$M" compile x.yaml --target nonsense64-linux-gnu --cpu generic -o c/libxa.so
refuse "--cpu native for a foreign target" "--cpu native needs the host target" \
  "$M" compile x.yaml --target aarch64-linux-gnu --cpu native -o c/libxa.so
MODC_CROSS_CC=/nonexistent/aarch64-gcc refuse "a missing cross compiler, naming the package" \
  "install Debian's gcc-aarch64-linux-gnu and libgomp1-arm64-cross" "$M" compile x.yaml "${X[@]}" -o c/libxa.so
mkdir -p fake && : > fake/libmodc_rt.a
MODC_RUNTIME_LIB=$W/fake/libmodc_rt.a refuse "no runtime built for aarch64" "no modc runtime for aarch64-unknown-linux-gnu at $W/fake/aarch64-linux-gnu/libmodc_rt.a" \
  "$M" compile x.yaml "${X[@]}" -o c/libxa.so
[ ! -e c ] && ok "nothing written for refused compiles" || bad "refused compiles left: $(ls -R c)"
"$M" compile --help > help.txt && expect "--help names the aarch64 target" "aarch64-linux-gnu" help.txt
finish
