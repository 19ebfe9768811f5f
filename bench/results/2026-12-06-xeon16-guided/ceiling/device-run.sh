#!/bin/bash
# session 23, call 6: bench/parallel_ceiling.sh on 16 Xeon cores (HEAD's runtime: guided pieces), dense12 and mod12, 2 rounds each,
# fma_pairs before each round; then MoD/dense forward at 1, 4, 8, 16 threads.
R=$PWD; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/knob/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$R/.dev/knob/runtime MODC_RUNTIME_LIB=$R/.dev/rt_new/libmodc_rt.a
M=$W/b/modc
uptime; gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $R/.dev/knob/modc-randweights $m.yaml -o $m.safetensors >/dev/null; $M compile $m.yaml -o new/$m/lib$m.so -q; done
{ for r in 1 2; do for m in dense12 mod12; do echo "== round $r $m $(uptime)"; ./fma_pairs --ms 20 --cpus 16 2>&1 | grep -E "alone|threads=16"
  timeout 150 bash $R/bench/parallel_ceiling.sh -m $M -n 16 -r 3 new/$m/lib$m.so | tr '\n' ' '; echo; done; done; } > $OUT/ceiling.txt 2>&1; cat $OUT/ceiling.txt
fw() { timeout 60 $M bench new/$1/lib$1.so --threads $2 --repeats 5 --no-session --weights-load map -q 2>&1 | grep -E "1x512" | awk -v t="$1 t$2" '{print t, $3}'; }
{ for r in 1 2; do echo "== round $r"; for t in 1 4 8 16; do fw dense12 $t; fw mod12 $t; done; done; } > $OUT/mod_dense.txt 2>&1; cat $OUT/mod_dense.txt
