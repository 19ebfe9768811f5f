#!/bin/bash
# session 20, call 1: the Xeon's FMA scaling (bench/fma_pairs.c), modc's calibration per thread
# count, dense12/mod12 forward at 1/4/8/16 threads (weights copied and mapped), prefill 8 vs 16,
# and llama.cpp side by side at 16 threads (f32, bf16).
R=$PWD; B=$R/.dev/new; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_LIB=$B/libmodc_rt.a MODC_RUNTIME_DIR=$B/runtime
M=$W/b/modc
lscpu > $OUT/lscpu.txt; uname -r >> $OUT/lscpu.txt; cat /sys/kernel/mm/transparent_hugepage/enabled >> $OUT/lscpu.txt
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs && $W/fma_pairs --ms 200 > $OUT/fma.txt 2>&1; cat $OUT/fma.txt
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $B/modc-randweights $m.yaml -o $m.safetensors >/dev/null; s=$(date +%s%N); $M compile $m.yaml -o $m/lib$m.so -q; echo "compile $m $(( ($(date +%s%N)-s)/1000000 )) ms"; done | tee $OUT/calib.txt
for t in 1 2 4 8 16; do echo "== t$t"; $M bench dense12/libdense12.so --threads $t --no-forward --no-session --recalibrate 2>&1 | grep -E "^machine:|bandwidth over"; done >> $OUT/calib.txt 2>&1
cat $OUT/calib.txt
{
for r in 1 2; do for L in copy map; do for t in 1 4 8 16; do for m in dense12 mod12; do
  echo "== r$r $L $m t$t"; $M bench $m/lib$m.so --threads $t --repeats 5 --no-session -q --weights-load $L 2>&1 | grep -E "modc_open|median"
done; done; done; done
} > $OUT/fwd.txt 2>&1
grep -A2 "== r1 copy" $OUT/fwd.txt | head -40
{
for t in 16 1; do for m in dense12 mod12; do
  echo "== profile $m t$t"; $M bench $m/lib$m.so --threads $t --repeats 3 --no-session -q --weights-load copy --profile 2>&1 | sed -n '/^profile/,$p' | cut -c1-150
done; done
} > $OUT/profile.txt 2>&1
{
for r in 1 2; do for t in 8 16; do
  echo "== r$r dense12 t$t"; $M bench dense12/libdense12.so --threads $t --repeats 5 --no-forward --prefill 512 --decode 64 -q --weights-load copy 2>&1 | grep -vE "^$"
  echo "== r$r mod12 t$t"; $M bench mod12/libmod12.so --threads $t --repeats 5 --no-forward --prefill 512 --decode 64 -q --weights-load copy 2>&1 | grep -vE "^$"
done; done
} > $OUT/sess.txt 2>&1
tar xJf $R/.dev/llama.tar.xz -C /tmp && export LD_LIBRARY_PATH=/tmp/llama; Lb=/tmp/llama/llama-bench
python3 $R/bench/gguf_convert.py dense12.yaml d32.gguf --dtype f32 > /dev/null && python3 $R/bench/gguf_convert.py dense12.yaml d16.gguf --dtype bf16 > /dev/null
$M compile dense12.yaml --weights-dtype bf16 -o bf16/libdense12.so -q
{
for r in 1 2; do
  for v in dense12 bf16; do echo "== r$r modc $v pp512"; $M bench $v/libdense12.so --threads 16 --no-forward --prefill 512 --decode 64 --repeats 3 -q --weights-load copy | grep -E "median"
    echo "== r$r modc $v tg128"; $M bench $v/libdense12.so --threads 16 --no-forward --prefill 1 --decode 128 --repeats 3 -q --weights-load copy | grep -E "median"; done
  for d in 32 16; do echo "== r$r llama gguf $d"; $Lb -m d$d.gguf -p 512 -n 128 -t 16 -fa 0,1 -r 3 -lm none 2>&1 | grep -E "pp512|tg128|error|usage" | head -6; done
done
} > $OUT/llama.txt 2>&1
cat $OUT/llama.txt
