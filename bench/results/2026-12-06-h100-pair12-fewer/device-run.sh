#!/bin/bash
# session 25, issue 13: MoD runs at the twin's training FLOPs that read fewer layer-equivalents per decode step
# (mod12drr at 0.125, mod12d3r25); predictors fitted after (fit_predictor.py, 600 x 64); held-out NLL (modc eval,
# session mode) on this machine's CPU; then twin --vs MoD decode on the calibration text at 16 and 4 threads.
# (Drafts also named mod12drr19 and a second seed of mod12drr25: device time allowed two runs, so their spec lines
# below write files no step reads.)
R=$PWD; W=/tmp/w; B=$R/.dev/b25; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a; M=$W/b/modc
nvidia-smi --query-gpu=name --format=csv,noheader; lscpu | grep -E "Model name|^CPU\(s\)"
(SECONDS_CAP=500 COMPILE=1 bash examples/train/run_pair.sh $W/t 6000 mod12drr mod12d3r25 > $W/t1.log 2>&1) &
py=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
awk 'NR % 50 != 1' examples/train/corpus_files.txt | sed "s|^/usr/lib/python3\.[0-9]*|$py|" | while read -r f; do [ -f "$f" ] && cat "$f"; done | head -c 30000000 > $W/fit.bin
cd $W; cp $R/examples/pair/pair_dense.yaml $R/examples/pair/pair_dense.safetensors .
$M compile pair_dense.yaml -o den/libpair_dense.so -q
wait; cat t1.log | grep -v "^step" | tail -n 30
fit() { # NAME ROUTED CAP
  python3 $R/examples/train/fit_predictor.py --weights t/$1.safetensors --layers 12 --routed $2 --capacity $3 --text fit.bin --out ${1}p.safetensors --steps 600 --batch 64 > fit_$1.txt 2>&1; }
fit pair_mod12drr 1,2,4,5,7,8,10,11 0.125 & fit pair_mod12d3r25 1,2,3,5,6,7,9,10,11 0.25 & wait
tail -n 3 fit_*.txt
for n in pair_mod12drr pair_mod12d3r25; do xz -1 -T4 -c ${n}p.safetensors > $OUT/${n}p.safetensors.xz & done; wait
spec() { # NAME ROUTED CAP
  sed -e "s/^name: .*/name: ${1}p/" -e "s/^weights: .*/weights: ${1}p.safetensors/" -e "s/^  layers: \[.*/  layers: [$2]/" -e "s/^  capacity: .*/  capacity: $3/" $R/examples/pair/pair_mod12drr25p.yaml > ${1}p.yaml; }
spec pair_mod12drr 1,2,4,5,7,8,10,11 0.125; spec pair_mod12drr19 1,2,4,5,7,8,10,11 0.1875
spec pair_mod12d3r25 1,2,3,5,6,7,9,10,11 0.25; spec pair_mod12drr25_s1235 1,2,4,5,7,8,10,11 0.25
for n in pair_mod12drr pair_mod12d3r25 pair_dense; do
  y=${n}p.yaml; [ $n = pair_dense ] && y=pair_dense.yaml
  $M compile $y -o lib_$n/lib.so -q || continue
  for mode in session; do echo "$n $mode $($M eval lib_$n/lib.so --bytes $R/.dev/txt/test.bin --mode $mode --window 256 --json -q)"; done
done | tee $OUT/nll.txt
tar -cf $OUT/logs.tar -C $W $(cd $W && ls t/*.tar fit_*.txt t1.log *.yaml)
# Xeon decode, paired (twin --vs MoD) on the calibration text, while time is left
cp $R/examples/pair/pair_mod12drr25p* . && $M compile pair_mod12drr25p.yaml -o lib_pair_mod12drr25p/lib.so -q
for n in pair_mod12drr25p pair_mod12d3r25 pair_mod12drr; do for t in 16 4; do
  [ $SECONDS -lt 540 ] || break 2
  echo "$n t$t $(timeout 40 $M eval lib_pair_dense/lib.so --vs lib_$n/lib.so --bytes $R/.dev/txt/calib.bin --mode session --window 256 --threads $t --json -q)"
done; done | tee $OUT/xeon_vs.txt
ls -la $OUT
