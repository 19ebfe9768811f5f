#!/bin/bash
# test_multicpu.sh: one x86 library holding a kernel set per CPU (issue 11, item 2):
# `modc compile --cpu x86-64-v2,x86-64-v3,x86-64-v4`.
#  - each set this machine can run, forced with MODC_CPU, computes logits (forward, prefill,
#    decode: modc bench --dump) bit-identical to the library compiled for that CPU alone;
#  - modc_open picks the best set this CPU runs (modc bench names it), MODC_CPU naming no set
#    is refused with the list of sets;
#  - under qemu-x86_64 as a Nehalem (SSE4.2, no AVX) the library opens and runs its
#    x86-64-v2 set, identical to the x86-64-v2 library's output, where the x86-64-v4 library
#    alone is refused; as a Haswell (AVX2) it runs the x86-64-v3 set;
#  - sets whose packed weights are byte-identical share one weights file; --embed-weights
#    puts every set's weights inside;
#  - bad lists (a CPU twice, an AArch64 CPU, --emit, --tuning, too many) are refused with
#    nothing written.
# usage: test_multicpu.sh MODC MODC_RANDWEIGHTS HOST_RUNNER QEMU_X86_64 WORK_DIR
set -u
M=$1 RW=$2 R=$3 Q=$4 W=$5 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
. "$here/testlib.sh"
cat > x.yaml <<'Y'
modc: 1
name: xm
weights: xm.safetensors
model: {vocab_size: 96, d_model: 64, n_layers: 3, n_heads: 4, n_kv_heads: 2, d_ff: 80, max_seq_len: 48,
        norm_eps: 1.0e-5, rope_theta: 10000.0}
routing: {layers: every_other, capacity: 0.25, gate: raw, predictor: router}
compile: {shapes: [[1, 16], [2, 8]]}
Y
"$RW" x.yaml -o xm.safetensors > /dev/null || exit 1
SETS="x86-64-v2 x86-64-v3 x86-64-v4"
"$M" compile x.yaml --cpu x86-64-v2,x86-64-v3,x86-64-v4 -o multi/libxm.so > out.txt 2> err.txt \
  && ok "compile --cpu x86-64-v2,x86-64-v3,x86-64-v4" || bad "multi compile: $(cat err.txt)"
for c in $SETS; do
  "$M" compile x.yaml --cpu $c -o $c/libxm.so -q 2> err.txt || bad "compile $c: $(cat err.txt)"
done
[ -s multi/xm.weights ] && [ -s multi/xm.x86-64-v3.weights ] && [ -s multi/xm.x86-64-v4.weights ] \
  && ok "a weights file per distinct packing" || bad "weights files: $(ls multi)"
cmp -s multi/xm.weights x86-64-v2/xm.weights && cmp -s multi/xm.x86-64-v4.weights x86-64-v4/xm.weights \
  && ok "each set's weights are its CPU's own packing" || bad "set weights differ from the single-CPU ones"

# which sets this machine runs (x86-64-v3: avx2 fma bmi2 f16c; v4: avx512 f/bw/dq/vl/cd)
flags=" $(sed -n 's/^flags[^:]*: //p' /proc/cpuinfo | head -1) "
has() { for f in "$@"; do case $flags in *" $f "*) ;; *) return 1 ;; esac; done; }
run=(x86-64-v2) best=x86-64-v2
has avx2 fma bmi2 f16c && run+=(x86-64-v3) && best=x86-64-v3
has avx2 fma bmi2 f16c avx512f avx512bw avx512dq avx512vl avx512cd && run+=(x86-64-v4) && best=x86-64-v4
B=(bench --threads 2 --repeats 1 --warmup 0 --prefill 9 --decode 5 --peak-gflops 1 --dram-gbs 1)
for c in "${run[@]}"; do
  MODC_CPU=$c "$M" "${B[@]}" multi/libxm.so --dump m-$c > m-$c.txt 2>&1 || bad "bench multi $c: $(tail -2 m-$c.txt)"
  "$M" "${B[@]}" $c/libxm.so --dump s-$c > s-$c.txt 2>&1 || bad "bench $c: $(tail -2 s-$c.txt)"
  same=1
  for f in logits prefill.logits decode.logits session.routing; do cmp -s m-$c.$f s-$c.$f || same=0; done
  [ $same = 1 ] && grep -q ", $c, " m-$c.txt && ok "MODC_CPU=$c: the $c set, bit-identical to the $c library" \
    || bad "MODC_CPU=$c differs from the $c library"
done
"$M" "${B[@]}" multi/libxm.so > pick.txt 2>&1 && expect "modc_open picks $best here" ", $best, " pick.txt
MODC_CPU=znver9 refuse "MODC_CPU naming no set" "MODC_CPU=znver9 names no kernel set of this library (it has x86-64-v2, x86-64-v3, x86-64-v4)" \
  "$M" "${B[@]}" multi/libxm.so

# under emulation: a CPU without AVX, one with AVX2 (the runner sees the library through the ABI)
python3 -c "import struct,sys; sys.stdout.buffer.write(struct.pack('<5i', 2, 2, 0, 1, 16) + struct.pack('<16i', *range(16)) + struct.pack('<3i', 1, 12, 5) + struct.pack('<12i', *range(3, 15)))" > jobs.bin
emu() { "$Q" -cpu "$1" "$R" "$2" jobs.bin "$3" 2> emu.err; }
emu Nehalem multi/libxm.so n-multi.out && emu Nehalem x86-64-v2/libxm.so n-v2.out && cmp -s n-multi.out n-v2.out \
  && ok "on a Nehalem (no AVX) the library runs its x86-64-v2 set" || bad "Nehalem: $(cat emu.err)"
emu Nehalem x86-64-v4/libxm.so n-v4.out; [ $? = 3 ] && grep -q "lacks" emu.err \
  && ok "where the x86-64-v4 library alone is refused" || bad "v4 library on Nehalem: $(cat emu.err)"
emu Haswell multi/libxm.so h-multi.out && emu Haswell x86-64-v3/libxm.so h-v3.out && cmp -s h-multi.out h-v3.out \
  && ok "on a Haswell it runs the x86-64-v3 set" || bad "Haswell: $(cat emu.err)"

# sets with byte-identical packing share a file; embedded weights
"$M" compile x.yaml --cpu x86-64-v3,haswell -o share/libxm.so -q 2> err.txt && [ ! -e share/xm.haswell.weights ] \
  && ok "haswell's packing equals x86-64-v3's: one weights file" || bad "shared weights: $(ls share) $(cat err.txt)"
"$M" compile x.yaml --cpu x86-64-v2,x86-64-v3 --embed-weights -o emb/libxm.so -q 2> err.txt && ! ls emb/*.weights* > /dev/null 2>&1 \
  && MODC_CPU=x86-64-v2 "$M" "${B[@]}" emb/libxm.so --dump e > e.txt 2>&1 && cmp -s e.logits s-x86-64-v2.logits \
  && ok "--embed-weights: every set's weights inside" || bad "embedded multi: $(cat err.txt) $(tail -2 e.txt)"

refuse "a CPU twice" "names CPU 'x86-64-v3' twice" "$M" compile x.yaml --cpu x86-64-v3,x86-64-v4,x86-64-v3 -o bad/libxm.so
refuse "an AArch64 CPU in an x86 list" "CPU 'neoverse-n1' is an AArch64 CPU, but the target is x86_64" \
  "$M" compile x.yaml --cpu x86-64-v3,neoverse-n1 -o bad/libxm.so
refuse "--emit with a list" "--emit writes the code of one CPU" "$M" compile x.yaml --cpu x86-64-v2,x86-64-v3 --emit obj -o bad/x.o
echo '{}' > rec.json
refuse "--tuning with a list" "--tuning records belong to one CPU" "$M" compile x.yaml --cpu x86-64-v2,x86-64-v3 --tuning rec.json -o bad/libxm.so
refuse "an empty list element" "'cpu' must be native, an LLVM CPU name" "$M" compile x.yaml --cpu x86-64-v2,,x86-64-v3 -o bad/libxm.so
refuse "more than 8 CPUs" "lists more than 8 CPUs" "$M" compile x.yaml --cpu haswell,broadwell,skylake,znver1,znver2,znver3,x86-64-v2,x86-64-v3,x86-64-v4 -o bad/libxm.so
refuse "a list where one CPU is meant (tune)" "is a list of CPUs: only modc compile takes one" "$M" tune x.yaml --cpu x86-64-v2,x86-64-v3 -o r.json
[ ! -e bad ] && [ ! -e r.json ] && ok "nothing written for refused lists" || bad "refused lists left: $(ls -R bad)"
finish
