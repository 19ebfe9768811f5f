#!/bin/bash
# session 23, call 1: 16-thread forward: runtime guided pieces (MODC_DEV_GUIDED) x matmul items per core (MODC_DEV_IPC)
R=$PWD; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/knob/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$R/.dev/knob/runtime MODC_RUNTIME_LIB=$R/.dev/knob/libmodc_rt.a
M=$W/b/modc
lscpu > $OUT/lscpu.txt; uptime; command -v perf || echo "no perf"
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
gcc -O3 -march=native -pthread $R/bench/read_bw.c -o $W/read_bw 2>/dev/null || echo "read_bw build failed"
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
{ echo "== fma 20ms"; ./fma_pairs --ms 20 2>&1 | grep -E "alone|threads=(8|16)"; echo "== fma 1000ms"; ./fma_pairs --ms 1000 2>&1 | grep -E "alone|threads=(8|16)"; } > $OUT/fma.txt 2>&1; cat $OUT/fma.txt
for m in dense12 mod12; do $R/.dev/knob/modc-randweights $m.yaml -o $m.safetensors >/dev/null
  for i in 8 16 32; do MODC_DEV_IPC=$i $M compile $m.yaml -o i$i/$m/lib$m.so -q; done; done
fw() { timeout 60 $M bench i$1/$3/lib$3.so --threads $4 --repeats 5 --no-session --weights-load map -q 2>&1 | grep -E "1x512" | awk -v t="i$1 g$2 $3 t$4" '{print t, $3}'; }
{ for r in 1 2 3; do echo "== round $r $(uptime)"
  for m in dense12 mod12; do for c in "8 0" "8 2" "16 2" "32 2" "16 0" "32 0" "8 4"; do set -- $c; MODC_DEV_GUIDED=$2 fw $1 $2 $m 16; done; done
  MODC_DEV_GUIDED=0 fw 8 0 dense12 1; MODC_DEV_GUIDED=2 fw 16 2 dense12 1
done; } > $OUT/grid.txt 2>&1; cat $OUT/grid.txt
{ for c in "8 0" "16 2"; do set -- $c; echo "== profile dense12 i$1 g$2 t16"; MODC_DEV_GUIDED=$2 timeout 60 $M bench i$1/dense12/libdense12.so --threads 16 --repeats 2 --no-session -q --weights-load map --profile 2>&1 | sed -n '/^profile/,/top kernels/p' | cut -c1-120; done
  echo "== profile dense12 t16 decode"; timeout 60 $M bench i8/dense12/libdense12.so --threads 16 --repeats 3 --no-forward --prefill 1 --decode 64 -q --weights-load map --profile 2>&1 | grep -v "^  *[0-9].*  k_" | tail -25
} > $OUT/prof.txt 2>&1; cat $OUT/prof.txt
{ for r in 1 2; do echo "== read_bw"; ./read_bw --threads 16; echo "== decode"; timeout 60 $M bench i8/dense12/libdense12.so --threads 16 --repeats 3 --no-forward --prefill 1 --decode 64 -q --weights-load map 2>&1 | grep -E "decode|GB/s"; done; } > $OUT/decode.txt 2>&1; cat $OUT/decode.txt
