#!/bin/bash
# call 5: modc beside llama.cpp on the same dense12 weights, 16 threads: f32, and bf16 through
# AMX (--cpu native: sapphirerapids) and through the AVX-512 bf16 path (--cpu cooperlake).
R=$PWD; B=$R/.dev/new; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
tar xJf $R/.dev/llama.tar.xz -C /tmp && export LD_LIBRARY_PATH=/tmp/llama
export MODC_RUNTIME_LIB=$B/libmodc_rt.a MODC_RUNTIME_DIR=$B/runtime
M=$W/b/modc L=/tmp/llama/llama-bench
cd $W && cp $R/bench/models/dense12.yaml . && $B/modc-randweights dense12.yaml > /dev/null
python3 $R/bench/gguf_convert.py dense12.yaml d32.gguf --dtype f32 > /dev/null && python3 $R/bench/gguf_convert.py dense12.yaml d16.gguf --dtype bf16 > /dev/null
$M compile dense12.yaml -o f32/libdense12.so -q
$M compile dense12.yaml --weights-dtype bf16 -o amx/libdense12.so -q
$M compile dense12.yaml --weights-dtype bf16 --cpu cooperlake -o avx512/libdense12.so -q
for t in 16; do for r in 1 2; do
  for v in f32 amx avx512; do echo "== r$r t$t $v modc"; $M bench $v/libdense12.so --threads $t --no-forward --prefill 512 --decode 64 --repeats 3 -q | grep -E "tokens|steps"; done
  for d in 32 16; do echo "== r$r t$t gguf $d llama"; $L -m d$d.gguf -p 512 -n 128 -t $t -fa 0,1 -r 3 | grep -E "pp512|tg128"; done
done; done 2>&1 | tee $OUT/llama-side.txt
