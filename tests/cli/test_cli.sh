#!/bin/bash
# test_cli.sh: the command line end to end: compile, run, embedded weights, determinism,
# a library for a CPU this machine lacks, the weights of another model, --help, modc bench.
# usage: test_cli.sh BUILD_DIR WORK_DIR
set -u
B=$1 W=$2 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cp "$here/small.yaml" "$W/" && cd "$W" || exit 1
. "$here/testlib.sh"
export XDG_CACHE_HOME=$W/cache   # modc bench's calibration cache: here, not in the user's home

"$B/modc-randweights" small.yaml --seed 3 >/dev/null || exit 1

# compile + run, greedy generation is deterministic
"$B/modc" compile small.yaml -o a/libsmall.so -q && ok "compile" || bad "compile"
[ -f a/small.h ] && [ -f a/small.weights ] && ok "header and weights beside the library" || bad "outputs missing"
"$B/modc" run a/libsmall.so --prompt "hi" --max-new 8 --temperature 0 > run1.txt 2>&1 && ok "run" || bad "run: $(cat run1.txt)"
"$B/modc" run a/libsmall.so --prompt "hi" --max-new 8 --temperature 0 > run2.txt 2>&1
cmp -s run1.txt run2.txt && ok "greedy run is deterministic" || bad "greedy runs differ"
[ "$(head -c 2 run1.txt)" = "hi" ] && ok "run echoes the prompt" || bad "run output: $(od -c run1.txt | head -2)"

# determinism of the compiler's outputs
"$B/modc" compile small.yaml -o b/libsmall.so -q
cmp -s a/libsmall.so b/libsmall.so && cmp -s a/small.weights b/small.weights && cmp -s a/small.h b/small.h \
  && ok "two compiles give identical bytes" || bad "two compiles differ"

# embedded weights: the library alone
"$B/modc" compile small.yaml -o e/libsmall.so --embed-weights -q && ok "compile --embed-weights" || bad "--embed-weights"
[ ! -e e/small.weights ] && ok "no weights file with --embed-weights" || bad "weights file left beside an embedding library"
"$B/modc" run e/libsmall.so --prompt "hi" --max-new 8 --temperature 0 > run3.txt 2>&1
cmp -s run1.txt run3.txt && ok "embedded weights generate the same text" || bad "embedded run differs: $(cat run3.txt)"

# a library for a CPU this machine lacks refuses to open, naming the features
if ! grep -q amx_tile /proc/cpuinfo; then
  "$B/modc" compile small.yaml -o s/libsmall.so --cpu sapphirerapids -q && ok "compile --cpu sapphirerapids" || bad "compile sapphirerapids"
  "$B/modc" run s/libsmall.so --prompt "hi" > spr.txt 2>&1 && bad "sapphirerapids library opened here" || ok "foreign-CPU library refused"
  expect_re "refusal names amx-tile" "amx-tile" spr.txt
fi

# the weights of another model are detected
"$B/modc" compile small.yaml -D compile.weights_dtype=bf16 -o other/libsmall.so -q 2>other.err && ok "compile with -D" || bad "compile -D: $(cat other.err)"
"$B/modc" run a/libsmall.so --weights other/small.weights --prompt "hi" > mism.txt 2>&1 && bad "other model's weights accepted" || ok "other model's weights refused"
expect_re "mismatch message" "another model" mism.txt

# --emit and errors
"$B/modc" compile small.yaml --emit ir -o small.mir -q && grep -q "graph @session mode = session" small.mir \
  && ok "--emit ir" || bad "--emit ir"
"$B/modc" compile small.yaml --emit ir -o - -q | "$B/modc-opt" - > /dev/null && ok "emitted IR parses and verifies" || bad "emitted IR does not parse"
grep -q 'q_proj.weight", offset = [0-9]*, layout = "panel", nr = [0-9]*}' small.mir && grep -q 'embed_tokens.weight", offset = [0-9]*}' small.mir \
  && ok "matmul weights panel-packed, the embedding table row-major" || bad "weight layouts in the IR"
# the packer's panels follow the target: on 16 ymm registers the MLP's gate and up (read side
# by side by matmul_silu_mul) are one vector wide and their tile 6 rows high; on 32 zmm two
"$B/modc" compile small.yaml --cpu haswell --emit ir -o hsw.mir -q
grep -q 'mlp.gate_proj.weight", offset = [0-9]*, layout = "panel", nr = 8}' hsw.mir \
  && grep -q 'mlp.up_proj.weight", offset = [0-9]*, layout = "panel", nr = 8}' hsw.mir \
  && grep -q 'q_proj.weight", offset = [0-9]*, layout = "panel", nr = 16}' hsw.mir \
  && grep -q 'matmul_silu_mul .*#matmul{vw = 8, regs = 16, nr = 8, mr = 6,' hsw.mir \
  && ok "AVX2: gate and up packed 8 wide, silu_mul's tile 6 x 8 x 2" || bad "AVX2 gate/up panels or silu_mul tile"
"$B/modc" compile small.yaml --cpu skylake-avx512 --emit ir -o skx.mir -q
grep -q 'mlp.gate_proj.weight", offset = [0-9]*, layout = "panel", nr = 32}' skx.mir \
  && ok "AVX-512: gate packed 32 wide" || bad "AVX-512 gate panel width"
"$B/modc" compile small.yaml --print-after-all --emit ir -o /dev/null 2> pa.txt
expect_re "--print-after-all" "IR after lower-mod" pa.txt
expect_re "--print-after-all shows fusing" "IR after fuse-epilogues" pa.txt
expect_re "--print-after-all shows routing fusion" "IR after fuse-routing" pa.txt
# the fusion passes run by default (matmul_add, matmul_silu_mul, and in the routed layers
# the gather / scatter forms in the IR); --no-fuse skips them
grep -q "matmul_silu_mul" small.mir && grep -q "matmul_add " small.mir && ok "fused by default" || bad "not fused by default"
grep -q "matmul_norm_gather" small.mir && grep -q "matmul_add_gather" small.mir && grep -q "matmul_scatter_gate" small.mir \
  && ! grep -q "= scatter_gate" small.mir && ok "routing fused by default" || bad "routing not fused by default"
"$B/modc" compile small.yaml --no-fuse --emit ir -o nofuse.mir -q && ! grep -q "matmul_add\|matmul_silu_mul\|matmul_norm\|matmul_scatter" nofuse.mir \
  && grep -q "silu_mul" nofuse.mir && grep -q "= scatter_gate" nofuse.mir && ok "--no-fuse" || bad "--no-fuse"
"$B/modc" compile small.yaml --no-fuse -o nofuse/libsmall.so -q && ok "--no-fuse compiles a library" || bad "--no-fuse library"
"$B/modc" compile small.yaml --emit llvm -o small.ll -q && grep -q "define void @modc__graph_session" small.ll && ok "--emit llvm" || bad "--emit llvm"
"$B/modc" compile small.yaml --target aarch64-linux-gnu --cpu neoverse-v1 --emit obj -o arm.o -q && ok "cross --emit obj" || bad "cross obj"
"$B/modc" compile small.yaml --target riscv64-linux-gnu --cpu generic-rv64 -o rv/lib.so -q 2> cross.txt && bad "linked a foreign library modc cannot link" || ok "foreign link refused"
expect_re "foreign link message" "use --emit" cross.txt
# the weights file is written beside code generation: when it cannot be, the compile fails
# with the file named and leaves no library, header or object behind
rm -rf wd && mkdir -p wd/small.weights
refuse "unwritable weights file" "wd/small.weights: error: cannot write the packed weights file" \
  "$B/modc" compile small.yaml -o wd/libsmall.so -q
[ -z "$(ls wd | grep -v '^small.weights$')" ] && ok "a failed weights write leaves nothing" || bad "left behind: $(ls wd)"
"$B/modc" compile small.yaml --shape 1,65 -o x/lib.so -q 2> shape.txt && bad "seq_len past max_seq_len accepted" || ok "bad --shape refused"
"$B/modc" run a/libsmall.so --tokens /nonexistent > tok.txt 2>&1 && bad "missing token file accepted" || ok "missing token file refused"
echo "1 2 300" > bad.tok
"$B/modc" run a/libsmall.so --tokens bad.tok > tok2.txt 2>&1 && bad "token 300 accepted" || ok "out-of-range token refused"
expect_re "out-of-range message names the token" "300" tok2.txt
"$B/modc" --help | grep -q "compile SPEC" && ok "--help" || bad "--help"
"$B/modc" compile --help | grep -q -- "--embed-weights" && ok "compile --help" || bad "compile --help"
"$B/modc" frobnicate > /dev/null 2>&1 && bad "unknown command accepted" || ok "unknown command refused"

# modc bench: a quick run on the small model; checks the fields and that the figures are
# positive numbers, never a timing
"$B/modc" bench a/libsmall.so --repeats 2 --warmup 0 --prefill 8 --decode 6 --kv bench.kv \
  --dump dump -q > bench.txt 2>&1 && ok "bench" || bad "bench: $(cat bench.txt)"
for f in "GFLOP/s" "% of peak" "GB/s" "% of DRAM read" "routed take rate"; do expect_re "bench prints $f" "$f" bench.txt; done
for k in forward.1x16.gflops forward.2x8.ms forward.peak_pct prefill.ms prefill.gflops decode.ms \
         decode.gbs decode.dram_pct decode.weight_mb decode.take_rate peak_gflops dram_gbs; do
  v=$(sed -n "s/^$k=//p" bench.kv)
  awk -v v="$v" 'BEGIN { exit !(v ~ /^[0-9.e+-]+$/ && v + 0 > 0 && v + 0 < 1e12) }' \
    && ok "bench $k = $v" || bad "bench $k: '$v' is not a positive number"
done
awk -F= '$1 == "decode.take_rate" { exit !($2 >= 0 && $2 <= 1) }' bench.kv && ok "take rate in [0, 1]" || bad "take rate out of range"
[ "$(wc -w < dump.tokens)" = 16 ] && [ "$(stat -c %s dump.logits)" = $((16 * 256 * 4)) ] \
  && ok "bench --dump writes tokens and logits" || bad "bench --dump outputs"
grep -q "^1 [01]\{14\}$" dump.session.routing && ok "bench --dump writes the routing trace" || bad "routing trace: $(cat dump.session.routing)"
"$B/modc" bench a/libsmall.so --prefill 60 --decode 10 -q > bench2.txt 2>&1 && bad "bench past max_seq_len accepted" || ok "bench past max_seq_len refused"
expect_re "bench names the limit" "max_seq_len" bench2.txt
"$B/modc" bench a/libsmall.so --header /nonexistent.h -q > bench3.txt 2>&1 && bad "bench without a header accepted" || ok "bench without a header refused"
"$B/modc" bench --help | grep -q -- "--repeats" && ok "bench --help" || bad "bench --help"
# --weights-load copy: the weights copied into memory, the same logits as mapped
"$B/modc" bench a/libsmall.so --repeats 1 --warmup 0 --prefill 8 --decode 6 --weights-load copy --kv copy.kv \
  --dump dumpc -q > copy.txt 2>&1 && ok "bench --weights-load copy" || bad "bench --weights-load copy: $(cat copy.txt)"
expect "bench says the weights were copied" "(weights copied)" copy.txt
grep -q "^weights_load=copy$" copy.kv && grep -q "^weights_load=map$" bench.kv && ok "kv weights_load" || bad "kv weights_load"
cmp -s dump.logits dumpc.logits && cmp -s dump.decode.logits dumpc.decode.logits && ok "copied weights: the same logits" \
  || bad "copied weights change the logits"
refuse "bench --weights-load of another value" "--weights-load is 'mmap'; expected map or copy" \
  "$B/modc" bench a/libsmall.so --weights-load mmap
MODC_WEIGHTS_LOAD=mmap refuse "MODC_WEIGHTS_LOAD of another value" "MODC_WEIGHTS_LOAD is 'mmap'; expected map or copy" \
  "$B/modc" bench a/libsmall.so -q
# --profile (MODC_PROFILE): where the time went, the logits unchanged; the raw table's lines
"$B/modc" bench a/libsmall.so --repeats 1 --warmup 0 --prefill 8 --decode 6 --threads 2 --profile --kv prof.kv \
  --dump dumpp -q > prof.txt 2>&1 && ok "bench --profile" || bad "bench --profile: $(cat prof.txt)"
for w in "profile (MODC_PROFILE" "by kind:" "top kernels:" "k_matmul"; do expect "bench --profile prints $w" "$w" prof.txt; done
cmp -s dump.logits dumpp.logits && cmp -s dump.decode.logits dumpp.decode.logits && ok "profiling: the same logits" \
  || bad "profiling changes the logits"
awk -F= '{ v[$1] = $2 } END { g = v["profile.graph_ms"]; k = v["profile.kernel_ms"]; s = v["profile.work_ms"] + v["profile.imbalance_ms"] + v["profile.dispatch_ms"]
  exit !(g > 0 && k > 0 && k <= g && v["profile.kernels"] >= 4 && s > 0.999 * k && s < 1.001 * k) }' prof.kv \
  && ok "profile totals: kernels within the graphs, work + imbalance + dispatch = kernels" || bad "profile totals: $(grep profile prof.kv)"
MODC_PROFILE=$W/raw.prof "$B/modc" bench a/libsmall.so --repeats 1 --warmup 0 --prefill 8 --decode 6 -q > /dev/null 2>&1
awk '$1 == "kernel" || $1 == "graph" { n[$1]++; if (NF != 8 || $2 !~ /^0x/ || $3 < 1 || $4 < 0 || $5 > $4 || $6 > $5) bad++; w[$1] += $4 }
  END { exit !(n["kernel"] >= 4 && n["graph"] >= 2 && !bad && w["kernel"] <= w["graph"]) }' raw.prof \
  && ok "MODC_PROFILE writes a kernel and graph table" || bad "MODC_PROFILE table: $(head -3 raw.prof)"
refuse "bench --profile with --vs" "cannot be combined with --vs" "$B/modc" bench a/libsmall.so --profile --vs a/libsmall.so
refuse "bench: an unknown last option" "unknown option '--no-decode'" "$B/modc" bench a/libsmall.so --no-decode
refuse "bench: a last option without its value" "--threads needs a value" "$B/modc" bench a/libsmall.so --threads
# modc bench --vs: two libraries of one model side by side (a and nofuse: the same function)
"$B/modc" bench a/libsmall.so --vs nofuse/libsmall.so --threads 2 --repeats 3 --prefill 8 --decode 4 --kv ab.kv -q \
  > ab.txt 2>&1 && ok "bench --vs" || bad "bench --vs: $(cat ab.txt)"
for w in "forward 1x16" "prefill 8" "decode step (4)"; do expect "bench --vs prints $w" "$w" ab.txt; done
for k in forward prefill decode; do
  awk -F= -v k="ab.$k.ratio" '$1 == k && $2 > 0 { f = 1 } END { exit !f }' ab.kv && ok "bench --vs kv ab.$k.ratio" \
    || bad "ab.$k.ratio missing"
done
"$B/modc" bench a/libsmall.so --vs other/libsmall.so --no-session -q > ab2.txt 2>&1 && ok "bench --vs bf16 weights (same model)" \
  || bad "bench --vs bf16: $(cat ab2.txt)"
# B reads A's weights file when its packing is A's (one set of pages for both), its own otherwise
grep -q "^ab.shared_weights=1" ab.kv && expect "bench --vs: B reads A's weights" "B reads A's weights file a/small.weights" ab.txt \
  || bad "bench --vs did not share a's weights with nofuse: $(grep -i weights ab.txt)"
expect "bench --vs: bf16 B keeps its own weights" "B reads its own weights file" ab2.txt
# copied weights: each library holds its own copy, and --vs says that this may bias the ratios
"$B/modc" bench a/libsmall.so --vs nofuse/libsmall.so --weights-load copy --no-session --repeats 1 -q > ab3.txt 2>&1 \
  && expect "bench --vs --weights-load copy warns of its copies" "placement may bias the ratios: --weights-load map" ab3.txt \
  || bad "bench --vs copy: $(cat ab3.txt)"
sed 's/d_model: [0-9]*/d_model: 64/; s/^name: small/name: wider/; s/weights: small/weights: wider/' small.yaml > wider.yaml
"$B/modc-randweights" wider.yaml > /dev/null 2>&1 && "$B/modc" compile wider.yaml -o w/libwider.so -q 2> /dev/null
refuse "bench --vs of another model" "are not the same model" "$B/modc" bench a/libsmall.so --vs w/libwider.so -q

# modc bench's machine figures: measured on the first run and cached per CPU and thread
# count; the second run reads the cache; a corrupted cache is re-measured, never trusted;
# --peak-gflops / --dram-gbs override both (tools/calibrate.c)
qb() { "$B/modc" bench a/libsmall.so --threads 2 --repeats 1 --warmup 0 --prefill 8 --decode 2 -q "$@"; }
rm -rf cache
qb --kv cal1.kv > cal1.txt 2>&1 && ok "bench with an empty cache" || bad "bench with an empty cache: $(cat cal1.txt)"
expect_re "first bench measures the machine" "measured now" cal1.txt
cfile=$(ls "$W"/cache/modc/calibration-*-t2.txt 2> /dev/null | head -1)
[ -n "$cfile" ] && grep -q "^peak_gflops=" "$cfile" && ok "calibration cached in $cfile" || bad "no calibration file in cache/modc"
grep -q "^peak_source=measured$" cal1.kv && ok "kv: peak_source=measured" || bad "kv peak_source: $(grep source cal1.kv)"
qb --kv cal2.kv > cal2.txt 2>&1
expect_re "second bench reads the cache" "cached from $cfile" cal2.txt
[ "$(grep '^peak_gflops=' cal1.kv)" = "$(grep '^peak_gflops=' cal2.kv)" ] && grep -q "^dram_source=cached$" cal2.kv \
  && ok "the cached figures are the measured ones" || bad "cached figures differ: $(grep -h 'peak\|dram' cal1.kv cal2.kv)"
[ -n "$cfile" ] && echo "peak_gflops=garbage" > "$cfile"
qb > cal3.txt 2>&1 && ok "bench with a corrupted cache" || bad "bench with a corrupted cache: $(cat cal3.txt)"
expect_re "a corrupted cache is ignored with a warning" "warning: bench: ignoring the calibration cache" cal3.txt
expect_re "and measured again" "measured now" cal3.txt
qb --recalibrate > cal4.txt 2>&1
expect_re "--recalibrate measures again" "measured now" cal4.txt
qb --peak-gflops 123.5 --dram-gbs 45 --kv cal5.kv > cal5.txt 2>&1
grep -q "^peak_gflops=123.5$" cal5.kv && grep -q "^dram_gbs=45$" cal5.kv && grep -q "^peak_source=given$" cal5.kv \
  && ok "--peak-gflops / --dram-gbs show in --kv" || bad "overrides in kv: $(grep 'peak\|dram' cal5.kv)"
expect_re "overrides named in the report" "(--peak-gflops)" cal5.txt
XDG_CACHE_HOME=$W/small.yaml qb > cal6.txt 2>&1 && ok "bench with an unwritable cache folder" || bad "unwritable cache: $(cat cal6.txt)"
expect_re "an unwritable cache folder says so" "not cached" cal6.txt

finish
