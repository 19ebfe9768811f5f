#!/bin/bash
# session 21, call 3: the A/Bs of calls 1-2 again with the weights mapped (one set of pages for
# both libraries: with copy each library has its own copy, and copies can time apart on a VM),
# each in both orders: static chunks (old) vs stealing (new); attention par_min (new) vs /8 (new2).
R=$PWD; W=/tmp/w; mkdir -p $W/b $W/b2
for v in new:b new2:b2; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/${v%%:*}/modc.xz'), open('$W/${v##*:}/modc','wb'))"; done
chmod +x $W/b/modc $W/b2/modc
export MODC_RUNTIME_DIR=$R/.dev/new/runtime RT=$R/.dev/new/libmodc_rt.a
M=$W/b/modc M2=$W/b2/modc
lscpu > $OUT/lscpu.txt
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs && $W/fma_pairs --ms 20 > $OUT/fma.txt 2>&1; grep -E "alone|threads=16" $OUT/fma.txt
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $R/.dev/new/modc-randweights $m.yaml -o $m.safetensors >/dev/null
  MODC_RUNTIME_LIB=$RT $M compile $m.yaml -o new/$m/lib$m.so -q
  MODC_RUNTIME_LIB=$RT $M2 compile $m.yaml -o new2/$m/lib$m.so -q
  MODC_RUNTIME_LIB=$R/.dev/old_rt/libmodc_rt.a $M compile $m.yaml -o old/$m/lib$m.so -q; done
export MODC_RUNTIME_LIB=$RT
ab() { echo "== $1 t$2 A $3 B $4 ($5)"; timeout 90 $M bench $3/$1/lib$1.so --vs $4/$1/lib$1.so --threads $2 --repeats 7 $5 --weights-load map -q 2>&1 | grep -E "forward|prefill|decode"; }
{ for m in dense12 mod12; do ab $m 16 old new "--prefill 512 --decode 16"; ab $m 16 new old "--prefill 512 --decode 16"; done; } > $OUT/steal.txt 2>&1; cat $OUT/steal.txt
{ for m in dense12 mod12; do ab $m 16 new new2 "--no-forward --prefill 1 --decode 64"; ab $m 16 new2 new "--no-forward --prefill 1 --decode 64"; done
  ab dense12 4 new new2 "--no-forward --prefill 1 --decode 64"; ab dense12 4 new2 new "--no-forward --prefill 1 --decode 64"
} > $OUT/attn.txt 2>&1; cat $OUT/attn.txt
