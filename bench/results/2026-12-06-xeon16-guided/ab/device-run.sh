#!/bin/bash
# session 23, call 2: guided pieces (runtime rt_new) against fixed quarter-chunk pieces (knob's runtime, env unset):
# same compiler, the libraries differ only in the runtime archive linked in; mapped, both orders.
R=$PWD; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/knob/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$R/.dev/knob/runtime
M=$W/b/modc; OLD=$R/.dev/knob/libmodc_rt.a NEW=$R/.dev/rt_new/libmodc_rt.a
uptime; gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
./fma_pairs --ms 20 2>&1 | grep -E "alone|threads=16" | tee $OUT/fma.txt
for m in dense12 mod12; do $R/.dev/knob/modc-randweights $m.yaml -o $m.safetensors >/dev/null
  MODC_RUNTIME_LIB=$OLD $M compile $m.yaml -o old/$m/lib$m.so -q; MODC_RUNTIME_LIB=$NEW $M compile $m.yaml -o new/$m/lib$m.so -q; done
export MODC_RUNTIME_LIB=$NEW
ab() { echo "== $1 t$2 A $3 B $4"; timeout 100 $M bench $3/$1/lib$1.so --vs $4/$1/lib$1.so --threads $2 --repeats 7 --prefill 512 --decode 16 --weights-load map -q 2>&1 | grep -E "forward|prefill|decode|1x512|512 tok|steps"; }
{ for m in mod12 dense12; do ab $m 16 old new; ab $m 16 new old; done; for m in mod12 dense12; do ab $m 8 old new; ab $m 8 new old; done; } > $OUT/ab.txt 2>&1; cat $OUT/ab.txt
fw() { timeout 60 $M bench new/$1/lib$1.so --threads $2 --repeats 5 --no-session --weights-load map -q 2>&1 | grep -E "1x512" | awk -v t="$1 t$2" '{print t, $3}'; }
{ for r in 1 2; do echo "== round $r $(uptime)"; ./fma_pairs --ms 20 2>&1 | grep -E "alone|threads=16"; for t in 1 4 8 16; do fw dense12 $t; fw mod12 $t; done; done; } > $OUT/mod_dense.txt 2>&1; cat $OUT/mod_dense.txt
