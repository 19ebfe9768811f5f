#!/bin/bash
# session 26, issue 13: two more seeds (1235, 1236) of the mod12d3r25 recipe at the twin's training
# FLOPs, predictors fitted after (fit_predictor.py, 600 x 64), weights back as xz; held-out NLL on the Xeon
R=$PWD; W=/tmp/w; B=$R/.dev/b25; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a; M=$W/b/modc
nvidia-smi --query-gpu=name --format=csv,noheader; lscpu | grep -E "Model name|^CPU\(s\)"
for s in 1235 1236; do (SEED=$s SECONDS_CAP=480 COMPILE=1 bash examples/train/run_pair.sh $W/t$s 6000 mod12d3r25 > $W/t$s.log 2>&1) & done
py=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
awk 'NR % 50 != 1' examples/train/corpus_files.txt | sed "s|^/usr/lib/python3\.[0-9]*|$py|" | while read -r f; do [ -f "$f" ] && cat "$f"; done | head -c 30000000 > $W/fit.bin
wait; cd $W; for s in 1235 1236; do grep -v "^step" t$s.log | tail -n 8; done
ls t1235 t1236
for s in 1235 1236; do
  python3 $R/examples/train/fit_predictor.py --weights t$s/pair_mod12d3r25_s$s.safetensors --layers 12 --routed 1,2,3,5,6,7,9,10,11 --capacity 0.25 --text fit.bin --out d3_s${s}p.safetensors --steps 600 --batch 64 > fit_s$s.txt 2>&1 &
done; wait; tail -n 2 fit_s*.txt
for s in 1235 1236; do xz -1 -T4 -c d3_s${s}p.safetensors > $OUT/d3_s${s}p.safetensors.xz & done; wait
for s in 1235 1236; do
  sed -e "s/^name: .*/name: d3_s${s}p/" -e "s/^weights: .*/weights: d3_s${s}p.safetensors/" -e "s/^  layers: \[.*/  layers: [1,2,3,5,6,7,9,10,11]/" $R/examples/pair/pair_mod12drr25p.yaml > d3_s${s}p.yaml
  $M compile d3_s${s}p.yaml -o lib_$s/lib.so -q && for mode in session forward; do
    a=(--mode $mode); [ $mode = session ] && a+=(--window 256)
    echo "d3_s$s $mode $($M eval lib_$s/lib.so --bytes $R/.dev/txt/test.bin ${a[@]} --json -q)"; done
done | tee $OUT/nll.txt
tar -cf $OUT/logs.tar -C $W $(cd $W && ls t*/*.tar fit_s*.txt t1235.log t1236.log 2>/dev/null)
ls -la $OUT
