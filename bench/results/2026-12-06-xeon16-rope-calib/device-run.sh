#!/bin/bash
# session 24: issue 9 on 16 Xeon cores with HEAD (RoPE tables): (1) modc bench's pinned calibration against fma_pairs and read_bw,
# 4 interleaved rounds; (2) bench/parallel_ceiling.sh on dense12, 3 rounds; (3) MoD/dense forward at 1 and 16 threads, --vs both orders
R=$PWD; W=/tmp/w; B=$R/.dev/b24; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a
M=$W/b/modc; uptime; lscpu | grep -E "Model name|^CPU\(s\)"
gcc -O2 -march=native -pthread $R/bench/fma_pairs.c -o $W/fma_pairs; gcc -O3 -march=native -pthread $R/bench/read_bw.c -o $W/read_bw
cp $R/tests/cli/small.yaml $R/bench/models/dense12.yaml $R/bench/models/mod12.yaml $W/ && cd $W
$B/modc-randweights small.yaml > /dev/null && $M compile small.yaml -o lib/libsmall.so -q
for m in dense12 mod12; do $B/modc-randweights $m.yaml > /dev/null; $M compile $m.yaml -o new/$m/lib$m.so -q; done
{ for r in 1 2 3 4; do echo "== round $r"; ./fma_pairs --ms 20 --cpus 16 | grep -E "alone|threads=16"
  timeout 60 $M bench lib/libsmall.so --threads 16 --no-forward --no-session --recalibrate -q --kv k$r.txt > /dev/null 2>&1; grep -E "peak_gflops|dram_gbs" k$r.txt | tr '\n' ' '; echo
  ./read_bw --threads 16; done; } > $OUT/calib.txt 2>&1; cat $OUT/calib.txt
{ for r in 1 2 3; do echo "== round $r $(uptime)"; ./fma_pairs --ms 20 --cpus 16 2>&1 | grep -E "alone|threads=16"
  timeout 150 bash $R/bench/parallel_ceiling.sh -m $M -n 16 -r 3 new/dense12/libdense12.so | tr '\n' ' '; echo; done; } > $OUT/ceiling.txt 2>&1; cat $OUT/ceiling.txt
{ for t in 16 1; do for o in "mod12 dense12" "dense12 mod12"; do set -- $o; echo "== t$t $1 vs $2"
  timeout 100 $M bench new/$1/lib$1.so --vs new/$2/lib$2.so --threads $t --repeats 5 --no-session --weights-load map -q 2>&1 | grep "B/A"; done; done; } > $OUT/mod_dense.txt 2>&1; cat $OUT/mod_dense.txt
