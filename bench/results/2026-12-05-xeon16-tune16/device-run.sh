#!/bin/bash
# call 3: pair_mod AMX vs AVX-512 side by side (the eval's slow AMX figure), then issue 10's
# 16-thread tune of the benchmark model (bench/tune.sh, no sweep, no second tune).
R=$PWD; B=$R/.dev/new; W=/tmp/w; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
cp $B/modc-randweights $W/b/
export MODC_RUNTIME_LIB=$B/libmodc_rt.a MODC_RUNTIME_DIR=$B/runtime
M=$W/b/modc
cd $W
for m in pair_mod pair_dense; do
  sed 's/weights_dtype: f32/weights_dtype: bf16/' $R/examples/pair/$m.yaml > $m.yaml; cp $R/examples/pair/$m.safetensors .
  for cpu in sapphirerapids cooperlake; do $M compile $m.yaml --cpu $cpu -o $cpu/lib$m.so -q; done
  for t in 16 4 1; do
    echo "== $m threads $t: A = cooperlake (AVX-512 bf16), B = sapphirerapids (AMX)"
    timeout 60 $M bench cooperlake/lib$m.so --vs sapphirerapids/lib$m.so --threads $t --prefill 256 --decode 8 --repeats 7 -q | grep -E "B/A|load"
  done
done 2>&1 | tee $OUT/pair-speed.txt
cd $R
uptime
THREADS=16 SWEEP=0 AGAIN=0 ROUNDS=0 AB_ROUNDS=7 SETTLE=5 timeout 420 bench/tune.sh -b $W/b -o /tmp/t16 -w $W/tw 2>&1 | tail -5
cp /tmp/t16/tune-report.md /tmp/t16/tune-*.log $OUT/ 2>/dev/null
cat /tmp/t16/tkv/*.kv > $OUT/tune16-kv.txt 2>/dev/null
cat /tmp/t16/tune-report.md
