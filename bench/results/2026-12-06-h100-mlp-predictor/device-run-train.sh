#!/bin/bash
# session 24: (1) issue 9: calibrate's summed FMA peak against fma_pairs on 16 Xeon vCPUs, 3 rounds, before training;
# (2) issue 13: the mlp predictor (train_mod.py --predictor mlp): mod12drr25p and mod10_25p, seeds 1234 and 1235, 4 runs at once
R=$PWD; W=/tmp/w; B=$R/.dev/b24c; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$W/b/modc; uptime; nvidia-smi --query-gpu=name --format=csv,noheader
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs
cp $R/tests/cli/small.yaml $W/ && (cd $W && $B/modc-randweights small.yaml > /dev/null && $M compile small.yaml -o lib/libsmall.so -q)
{ for r in 1 2 3; do echo "== round $r"; $W/fma_pairs --ms 20 --cpus 16 | grep -E "alone|threads=16"
  timeout 60 $M bench $W/lib/libsmall.so --threads 16 --no-forward --no-session --recalibrate -q --kv $W/k$r.txt > /dev/null 2>&1; grep -E "peak_gflops|dram_gbs" $W/k$r.txt | tr '\n' ' '; echo; done; } > $OUT/calib.txt 2>&1; cat $OUT/calib.txt
export COMPILE=1 SECONDS_CAP=470
(SEED=1234 bash examples/train/run_pair.sh /tmp/o/a 6000 mod12drr25p mod10_25p > $OUT/a.txt 2>&1) &
(SEED=1235 bash examples/train/run_pair.sh /tmp/o/b 6000 mod12drr25p mod10_25p > $OUT/b.txt 2>&1) &
wait
for f in /tmp/o/*/*.safetensors; do gzip -1 -c $f > $OUT/$(basename $f).gz; done
tar -C /tmp/o -cf $OUT/logs.tar $(cd /tmp/o && ls */*_logs.tar) && cat $OUT/a.txt $OUT/b.txt > $OUT/all.txt && rm -f $OUT/a.txt $OUT/b.txt
grep -h "whole validation\|final step\|stopped by" $OUT/all.txt; ls -la $OUT
