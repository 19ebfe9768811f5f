#!/bin/bash
# session 24: issue 9, quarter-block tail pieces (working tree) against whole-block tails (MODC_RT_NOTAIL, a knob of this bundle only)
# on 16 Xeon cores: dense12 and mod12 forward and decode at 16 threads, alternating, 4 rounds; profiles; parallel_ceiling 2 rounds
R=$PWD; W=/tmp/w; B=$R/.dev/b24t; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$W/b/modc; uptime
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $B/modc-randweights $m.yaml > /dev/null; $M compile $m.yaml -o new/$m/lib$m.so -q; done
b() { timeout 100 $M bench new/$1/lib$1.so --threads 16 --repeats 7 --weights-load map -q --kv kv.txt > /dev/null 2>&1; grep -E "^(forward|prefill|decode)\.ms=" kv.txt | tr '\n' ' '; echo; }
{ for r in 1 2 3 4; do echo "== round $r"; ./fma_pairs --ms 20 --cpus 16 | grep -E "threads=16"
  for m in dense12 mod12; do echo "tail   $m $(b $m)"; echo "notail $m $(MODC_RT_NOTAIL=1 b $m)"; done; done; } > $OUT/ab.txt 2>&1; cat $OUT/ab.txt
{ for v in tail notail; do echo "== profile dense12 $v"; if [ $v = notail ]; then export MODC_RT_NOTAIL=1; fi
  MODC_PROFILE=1 timeout 60 $M bench new/dense12/libdense12.so --threads 16 --repeats 3 --no-session -q 2>&1 | sed -n '/^profile/,/top kernels/p'; done; unset MODC_RT_NOTAIL; } > $OUT/prof.txt 2>&1; cat $OUT/prof.txt
{ for r in 1 2; do echo "== round $r"; timeout 150 bash $R/bench/parallel_ceiling.sh -m $M -n 16 -r 3 new/dense12/libdense12.so | tr '\n' ' '; echo; done; } > $OUT/ceiling.txt 2>&1; cat $OUT/ceiling.txt
