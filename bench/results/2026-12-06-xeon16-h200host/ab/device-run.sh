#!/bin/bash
# session 21: on 16 Xeon cores, (1) the work-stealing runtime (new) against the static-chunk
# one (old), (2) row tiles of at least 32 rows when items cut a call (new2) against HEAD (new),
# (3) scaling 1 -> 16 and MoD/dense with new2, (4) profiles (mod12 forward, dense12 decode).
R=$PWD; W=/tmp/w; mkdir -p $W/b $W/b2
for v in new:b new2:b2; do python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/${v%%:*}/modc.xz'), open('$W/${v##*:}/modc','wb'))"; done
chmod +x $W/b/modc $W/b2/modc
export MODC_RUNTIME_DIR=$R/.dev/new/runtime RT=$R/.dev/new/libmodc_rt.a
M=$W/b/modc M2=$W/b2/modc
lscpu > $OUT/lscpu.txt; grep -E "Model name|^CPU\(s\)|L3" $OUT/lscpu.txt
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs && $W/fma_pairs --ms 50 > $OUT/fma.txt 2>&1; grep -E "shared|threads=16|threads=1 " $OUT/fma.txt | head
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $R/.dev/new/modc-randweights $m.yaml -o $m.safetensors >/dev/null
  MODC_RUNTIME_LIB=$RT $M compile $m.yaml -o new/$m/lib$m.so -q
  MODC_RUNTIME_LIB=$RT $M2 compile $m.yaml -o new2/$m/lib$m.so -q
  MODC_RUNTIME_LIB=$R/.dev/old_rt/libmodc_rt.a $M compile $m.yaml -o old/$m/lib$m.so -q; done
export MODC_RUNTIME_LIB=$RT
ab() { echo "== ab $1 t$2 (A $3, B $4)"; timeout 90 $M bench $3/$1/lib$1.so --vs $4/$1/lib$1.so --threads $2 --repeats 5 --prefill 512 --decode 32 --weights-load copy -q 2>&1 | grep -E "forward|prefill|decode"; }
{ for m in mod12 dense12; do ab $m 16 old new; ab $m 16 new new2; done; } > $OUT/ab.txt 2>&1; cat $OUT/ab.txt
{ for r in 1 2; do for t in 16 1; do for m in dense12 mod12; do
  echo "== r$r $m t$t new2"; timeout 60 $M bench new2/$m/lib$m.so --threads $t --repeats 5 --no-session -q --weights-load copy 2>&1 | grep -E "1x512"; done; done; done
} > $OUT/fwd.txt 2>&1; cat $OUT/fwd.txt
{ echo "== profile mod12 t16 new2"; timeout 40 $M bench new2/mod12/libmod12.so --threads 16 --repeats 3 --no-session -q --weights-load copy --profile 2>&1 | sed -n '/^profile/,$p' | cut -c1-150
  echo "== profile decode dense12 t16"; timeout 40 $M bench new2/dense12/libdense12.so --threads 16 --repeats 3 --no-forward --prefill 1 --decode 64 -q --weights-load copy --profile 2>&1 | sed -n '/steps/p;/^profile/,$p' | cut -c1-150
} > $OUT/prof.txt 2>&1; cat $OUT/prof.txt
