#!/bin/bash
# AMX on the GPU machine's Xeon: kernel parity (test_kernels, heuristic and random records),
# a trained model's logits against the interpreter and its NLL through AMX and AVX-512, and
# prefill/forward AMX (--cpu sapphirerapids) against the AVX-512 bf16 path (--cpu cooperlake).
R=$PWD; B=$R/.dev/new; W=/tmp/w; mkdir -p $W
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/modc','wb'))"; chmod +x $W/modc; ln -sf modc $W/test_kernels
export MODC_RUNTIME_LIB=$B/libmodc_rt.a MODC_RUNTIME_DIR=$B/runtime
M=$W/modc
lscpu > $OUT/lscpu.txt
{ $W/test_kernels /tmp/kw; echo rc=$?; KERNELS_CORES=16 KERNELS_SCHED_SEED=5 $W/test_kernels /tmp/kw5; echo rc=$?; KERNELS_SCHED_SEED=7 $W/test_kernels /tmp/kw7; echo rc=$?; } > $OUT/kernels.txt 2>&1
grep -E "cases|AMX|rc=|FAIL|NOT RUN" $OUT/kernels.txt | head -20
cd $W
zcat $R/examples/pair/corpus_files.txt.gz | tail -40 | xargs cat 2>/dev/null | head -c 400000 > text.txt; ls -la text.txt
for m in pair_mod pair_dense; do
  sed 's/weights_dtype: f32/weights_dtype: bf16/' $R/examples/pair/$m.yaml > $m.yaml; cp $R/examples/pair/$m.safetensors .
  for cpu in sapphirerapids cooperlake; do
    $M compile $m.yaml --cpu $cpu -o $cpu/lib$m.so -q || echo COMPILE FAIL $m $cpu
    echo "== $m $cpu"; $B/bench_interp $m.yaml $cpu/lib$m.so 3
    $M eval $cpu/lib$m.so --bytes text.txt --threads 16 -q | head -2
  done
done > $OUT/parity.txt 2>&1
cat $OUT/parity.txt
cp $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml .
$B/modc-randweights dense12.yaml >/dev/null; $B/modc-randweights mod12.yaml > /dev/null
for m in dense12 mod12; do for cpu in sapphirerapids cooperlake; do
  $M compile $m.yaml --weights-dtype bf16 --cpu $cpu -o $cpu/lib$m.so -q || echo COMPILE FAIL $m $cpu
done; done
for t in 16 8; do for m in dense12 mod12; do
  echo "== $m threads $t: A = cooperlake (AVX-512 bf16), B = sapphirerapids (AMX)"
  timeout 100 $M bench cooperlake/lib$m.so --vs sapphirerapids/lib$m.so --threads $t --prefill 512 --decode 8 --repeats 5 -q
done; done > $OUT/speed.txt 2>&1
grep -v "^$" $OUT/speed.txt | tail -60
