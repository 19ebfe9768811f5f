#!/bin/bash
# session 29, issue 9: the 16-core targets on HEAD, prepared but not run (every start was refused after the first call).  Make the bundle
# with `scripts/device-bundle.sh build .dev/b29` and run from the repo root with carry [.dev/b29, this file].  It measures:
#  (1) forward scaling 1 -> 16 threads against the host's ceiling, dense12 x3 rounds, mod12 x1 (bench/parallel_ceiling.sh)
#  (2) MoD / dense forward at 1, 4, 8, 16 threads (modc bench mod12 --vs dense12, both orders)
#  (3) dense12 f32 decode at 16 threads against bench/read_bw, 2 rounds; (4) 512-token prefill at 8 and 16 threads, 2 rounds
R=$PWD; W=/tmp/w; B=$R/.dev/b29; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$W/b/modc; uptime; lscpu > $OUT/lscpu.txt; lscpu | grep -E "Model name|^CPU\(s\)"
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs; gcc -O3 -march=native -pthread $R/bench/read_bw.c -o $W/read_bw
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $B/modc-randweights $m.yaml > /dev/null; s=$(date +%s%N); $M compile $m.yaml -o l/$m/lib$m.so -q; echo "compile $m $(( ($(date +%s%N) - s) / 1000000 )) ms"; done | tee $OUT/compile.txt
L() { echo l/$1/lib$1.so; }; Q="-q --peak-gflops 1 --dram-gbs 1"
{ for r in 1 2 3; do echo "== round $r $(uptime)"; ./fma_pairs --ms 20 --cpus 16 2>&1 | grep -E "alone|threads=16"
  echo "dense12 $(timeout 150 bash $R/bench/parallel_ceiling.sh -m $M -n 16 -r 3 $(L dense12) | tr '\n' ' ')"
  [ $r = 2 ] && echo "mod12 $(timeout 150 bash $R/bench/parallel_ceiling.sh -m $M -n 16 -r 3 $(L mod12) | tr '\n' ' ')"; done; } > $OUT/ceiling.txt 2>&1; cat $OUT/ceiling.txt
{ for t in 16 8 4 1; do for o in "mod12 dense12" "dense12 mod12"; do set -- $o
  echo "t$t A=$1 B=$2 $(timeout 90 $M bench $(L $1) --vs $(L $2) --threads $t --repeats 5 --no-session --weights-load map $Q 2>&1 | grep -E 'B/A' | tr -s ' ')"; done; done; } > $OUT/mod_dense.txt 2>&1; cat $OUT/mod_dense.txt
{ for r in 1 2; do timeout 60 $M bench $(L dense12) --threads 16 --repeats 3 --no-forward --prefill 16 --decode 64 --weights-load map $Q --kv dec$r.kv > /dev/null 2>&1
  echo "decode round $r: $(grep -E '^decode\.(mean_ms|gbs|weight_mb)=' dec$r.kv | tr '\n' ' ') read_bw: $(./read_bw --threads 16 2>&1 | tail -1)"
  for t in 8 16; do timeout 60 $M bench $(L dense12) --threads $t --repeats 3 --no-forward --prefill 512 --decode 1 --weights-load map $Q --kv pre$r-$t.kv > /dev/null 2>&1
    echo "prefill 512 round $r t$t: $(grep -E '^prefill\.(ms|tokens_per_s)=' pre$r-$t.kv | tr '\n' ' ')"; done; done; } > $OUT/decode_prefill.txt 2>&1; cat $OUT/decode_prefill.txt
