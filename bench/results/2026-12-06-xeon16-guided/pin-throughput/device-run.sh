#!/bin/bash
# session 23, call 4: (a) pinned pool threads (rt_pin, MODC_DEV_PIN=1) vs unpinned (rt_new), 16 threads, mapped, both orders;
# (b) 16 one-thread forwards at once, one per CPU, against one alone: does the host sustain 16 x the 1-thread rate?
R=$PWD; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/knob/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$R/.dev/knob/runtime MODC_RUNTIME_LIB=$R/.dev/rt_new/libmodc_rt.a
M=$W/b/modc; NEW=$R/.dev/rt_new/libmodc_rt.a PIN=$R/.dev/rt_pin/libmodc_rt.a
uptime; gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
./fma_pairs --ms 20 2>&1 | tee $OUT/fma.txt | grep -E "alone|pair|threads=16"
for m in dense12 mod12; do $R/.dev/knob/modc-randweights $m.yaml -o $m.safetensors >/dev/null
  MODC_RUNTIME_LIB=$NEW $M compile $m.yaml -o new/$m/lib$m.so -q; MODC_RUNTIME_LIB=$PIN $M compile $m.yaml -o pin/$m/lib$m.so -q; done
export MODC_DEV_PIN=1
ab() { echo "== $1 t$2 A $3 B $4"; timeout 100 $M bench $3/$1/lib$1.so --vs $4/$1/lib$1.so --threads $2 --repeats 7 --prefill 512 --decode 16 --weights-load map -q 2>&1 | grep -E "forward|prefill|decode"; }
{ for m in dense12 mod12; do ab $m 16 new pin; ab $m 16 pin new; done; } > $OUT/pin.txt 2>&1; cat $OUT/pin.txt
unset MODC_DEV_PIN
fw1() { taskset -c $1 $M bench new/dense12/libdense12.so --threads 1 --repeats 3 --no-session --weights-load map -q 2>&1 | grep -E "1x512" | awk -v c=$1 '{print "cpu" c, $3}'; }
{ for c in 0 1 5 9 15; do fw1 $c; done; echo "== 16 at once"; for c in $(seq 0 15); do fw1 $c > tp.$c & done; wait; cat tp.*; echo "== alone again"; fw1 3; } > $OUT/throughput.txt 2>&1; cat $OUT/throughput.txt
{ for t in 16; do for v in new pin; do echo "== profile dense12 $v t$t"; MODC_DEV_PIN=1 timeout 60 $M bench $v/dense12/libdense12.so --threads $t --repeats 3 --no-session -q --weights-load map --profile 2>&1 | sed -n '/^profile/,/top kernels/p' | cut -c1-120; done; done
  echo "== profile dense12 t1 cpu1"; taskset -c 1 timeout 60 $M bench new/dense12/libdense12.so --threads 1 --repeats 2 --no-session -q --weights-load map --profile 2>&1 | sed -n '/^profile/,/top kernels/p' | cut -c1-120
} > $OUT/prof.txt 2>&1; cat $OUT/prof.txt
