#!/bin/bash
# session 30, issue 9: the 16-core targets that call 1 (next-call.sh of 2026-12-07-xeon16-item-order, run on
# HEAD 89d44e4) left open.  Carry [.dev/b30s (modc.xz of `scripts/device-bundle.sh build B` at a6edea1, whose
# runtime code is 89d44e4's, and rest.tar.xz: B's modc-randweights, libmodc_rt.a and runtime/, so that both
# fit), .dev/llama.tar.xz (llama-bench of node-llama-cpp 3.22.1
# linked statically: bench/llama_peer.sh's cmake flags with BUILD_SHARED_LIBS=OFF, GGML_NATIVE on the Zen 5
# development machine, stripped, tar | xz --x86 -9e)].  It measures:
#  (1) modc beside llama.cpp on the same dense12 weights at 16 threads, f32 and bf16 (modc --cpu native, so AMX
#      for bf16), run.sh's conditions: modc prefill 512 and 128 decode steps from a 1-token prompt,
#      llama-bench -p 512 -n 128 -fa 0,1 -r 3, weights in memory on both sides; two rounds
#  (2) MoD / dense forward again at 4 threads (call 1's dense-first order gave 0.744 [0.637-0.796]) and at
#      1, 8, 16: modc bench mod12 --vs dense12, both orders, 9 rounds each
#  (3) logits bit-identical for 1..16 threads: modc bench --dump of dense12 and mod12 (forward, prefill,
#      decode logits and the session's routing) at each thread count, compared with cmp against 1 thread
R=$PWD; W=/tmp/w; B=$W/b; mkdir -p $B
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$R/.dev/b30s/modc.xz'), open('$B/modc','wb'))"; chmod +x $B/modc
tar xJf $R/.dev/b30s/rest.tar.xz -C $B && tar xJf $R/.dev/llama.tar.xz -C /tmp
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$B/modc LB=/tmp/llama/llama-bench; uptime; lscpu | grep -E "Model name|^CPU\(s\)|^Model:"
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
for m in dense12 mod12; do $B/modc-randweights $m.yaml > /dev/null; $M compile $m.yaml -o l/$m/lib$m.so -q; done
$M compile dense12.yaml --weights-dtype bf16 -o l/bf16/libdense12.so -q
python3 $R/bench/gguf_convert.py dense12.yaml d32.gguf --dtype f32 > /dev/null
python3 $R/bench/gguf_convert.py dense12.yaml d16.gguf --dtype bf16 > /dev/null
ls -la l/*/*.so *.gguf | awk '{print $5, $9}'
Q="-q --peak-gflops 1 --dram-gbs 1 --weights-load copy --threads 16 --no-forward"
{ for r in 1 2; do for v in "f32 l/dense12/libdense12.so d32" "bf16 l/bf16/libdense12.so d16"; do set -- $v
  echo "== round $r $1 $(uptime)"
  timeout 60 $M bench $2 $Q --repeats 3 --prefill 512 --decode 8 --kv p.kv > /dev/null 2>&1
  timeout 60 $M bench $2 $Q --repeats 3 --prefill 1 --decode 128 --kv t.kv > /dev/null 2>&1
  echo "modc $1: pp512 $(grep '^prefill.tokens_per_s=' p.kv) tg128 $(grep -E '^decode\.(mean_ms|gbs)=' t.kv | tr '\n' ' ')"
  timeout 120 $LB -m $3.gguf -p 512 -n 128 -t 16 -fa 0,1 -r 3 -lm none 2>&1 | grep -E "pp512|tg128"
done; done; } > $OUT/llama-side.txt 2>&1; cat $OUT/llama-side.txt
L() { echo l/$1/lib$1.so; }
{ for t in 4 1 8 16; do for o in "mod12 dense12" "dense12 mod12"; do set -- $o
  echo "t$t A=$1 B=$2 $(timeout 100 $M bench $(L $1) --vs $(L $2) --threads $t --repeats 9 --no-session --weights-load map -q --peak-gflops 1 --dram-gbs 1 2>&1 | grep -E 'B/A' | tr -s ' ')"; done; done; } > $OUT/mod_dense.txt 2>&1; cat $OUT/mod_dense.txt
mkdir -p d; { for m in dense12 mod12; do for t in $(seq 1 16); do
    timeout 60 $M bench $(L $m) --threads $t --repeats 1 --warmup 0 --prefill 64 --decode 8 -q --peak-gflops 1 --dram-gbs 1 --dump d/$m.t$t > /dev/null 2>&1 || echo "$m t$t: bench failed"
  done
  n=0; for f in d/$m.t1.*; do for t in $(seq 2 16); do cmp -s $f ${f/.t1./.t$t.} || { echo "$m: ${f#d/} differs at $t threads"; n=$((n + 1)); }; done; done
  echo "$m: $(ls d/$m.t1.* | wc -l) dump files x 15 thread counts compared with 1 thread, $n differ ($(ls d/$m.t1.* | sed 's|.*t1\.||' | tr '\n' ' '))"
done; } > $OUT/identical.txt 2>&1; cat $OUT/identical.txt
