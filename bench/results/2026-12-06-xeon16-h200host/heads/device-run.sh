#!/bin/bash
# session 21, call 2: the work-stealing runtime (HEAD) on 16 Xeon cores: logits bit-identical
# over thread counts, forward scaling 1 -> 16 beside fma_pairs in interleaved rounds (fresh
# calibration each round), MoD/dense, prefill 8 vs 16 threads, tg128/pp512 against llama.cpp.
R=$PWD; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/new/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$R/.dev/new/runtime MODC_RUNTIME_LIB=$R/.dev/new/libmodc_rt.a
M=$W/b/modc
lscpu > $OUT/lscpu.txt
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
gcc -O2 -I$R -I$R/tests/reliability $R/tests/reliability/test_nthreads.c -o $W/test_nthreads -ldl -lpthread -lm
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $R/.dev/new/modc-randweights $m.yaml -o $m.safetensors >/dev/null; $M compile $m.yaml -o f32/$m/lib$m.so -q; done
$M compile dense12.yaml --weights-dtype bf16 -o bf16/libdense12.so -q
{ for l in f32/mod12/libmod12.so bf16/libdense12.so; do echo "== nthreads $l"; timeout 100 ./test_nthreads $l 1 2 3 5 8 13 16 2>&1 | tail -3; done; } > $OUT/nthreads.txt 2>&1; cat $OUT/nthreads.txt
{ for r in 1 2 3; do
  echo "== r$r fma"; ./fma_pairs --ms 30 2>&1 | grep -E "alone|threads=16"
  for t in 1 16; do for m in dense12 mod12; do echo "== r$r $m t$t"
    timeout 60 $M bench f32/$m/lib$m.so --threads $t --repeats 5 --no-session --weights-load copy --recalibrate 2>&1 | grep -E "1x512|^machine"; done; done; done
} > $OUT/scale.txt 2>&1; cat $OUT/scale.txt
{ for r in 1 2; do for t in 8 16; do echo "== r$r prefill512 t$t"
  timeout 60 $M bench f32/dense12/libdense12.so --threads $t --repeats 5 --no-forward --prefill 512 --decode 1 -q --weights-load copy 2>&1 | grep -E "prefill"; done; done
} > $OUT/prefill.txt 2>&1; cat $OUT/prefill.txt
tar xJf $R/.dev/llama.tar.xz -C /tmp && export LD_LIBRARY_PATH=/tmp/llama; Lb=/tmp/llama/llama-bench
python3 $R/bench/gguf_convert.py dense12.yaml d32.gguf --dtype f32 > /dev/null && python3 $R/bench/gguf_convert.py dense12.yaml d16.gguf --dtype bf16 > /dev/null
{ for r in 1 2; do
  for v in f32/dense12 bf16; do echo "== r$r modc $v tg128"; timeout 60 $M bench $v/libdense12.so --threads 16 --no-forward --prefill 1 --decode 128 --repeats 3 -q --weights-load copy | grep -E "steps"; done
  for d in 32 16; do echo "== r$r llama d$d"; timeout 90 $Lb -m d$d.gguf -p 512 -n 128 -t 16 -fa 0,1 -r 3 -lm none 2>&1 | grep -E "pp512|tg128|error" | head -6; done
done; } > $OUT/tg.txt 2>&1; cat $OUT/tg.txt
{ for t in 1 16; do echo "== profile dense12 t$t"; timeout 60 $M bench f32/dense12/libdense12.so --threads $t --repeats 2 --no-session -q --weights-load copy --profile 2>&1 | sed -n '/^profile/,/top kernels/p' | cut -c1-120; done
} > $OUT/prof.txt 2>&1; cat $OUT/prof.txt
# attention's par_min / 8 (new2): decode's kv_attention on all threads from ~11 keys, not ~85
W2=/tmp/w/b2; mkdir -p $W2; python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/new2/modc.xz'), open('$W2/modc','wb'))"; chmod +x $W2/modc
$W2/modc compile dense12.yaml -o ap8/libdense12.so -q; $W2/modc compile mod12.yaml -o ap8m/libmod12.so -q
{ for t in 16 8; do echo "== ab dense12 t$t (A HEAD, B attention par_min/8)"; timeout 80 $M bench f32/dense12/libdense12.so --vs ap8/libdense12.so --threads $t --repeats 7 --no-forward --prefill 1 --decode 64 --weights-load copy -q 2>&1 | grep -E "prefill|decode"; done
  echo "== ab dense12 t16 prefill 128"; timeout 80 $M bench f32/dense12/libdense12.so --vs ap8/libdense12.so --threads 16 --repeats 7 --no-forward --prefill 128 --decode 32 --weights-load copy -q 2>&1 | grep -E "prefill|decode"
  echo "== ab mod12 t16"; timeout 80 $M bench f32/mod12/libmod12.so --vs ap8m/libmod12.so --threads 16 --repeats 5 --prefill 512 --decode 32 --weights-load copy -q 2>&1 | grep -E "forward|prefill|decode"
} > $OUT/ap8.txt 2>&1; cat $OUT/ap8.txt
