#!/bin/bash
# session 27 (prepared in 26), issue 13: mod12drr25 (the committed recipe) trained with top-k over the whole batch (--route-scope batch), seed 1234,
# at the twin's training FLOPs; sessions route by r > the training's cut (tau.json); held-out NLL on the Xeon
R=$PWD; W=/tmp/w; B=$R/.dev/b25; mkdir -p $W/b
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('$B/modc.xz'), open('$W/b/modc','wb'))"; chmod +x $W/b/modc
export MODC_RUNTIME_DIR=$B/runtime MODC_RUNTIME_LIB=$B/libmodc_rt.a; M=$W/b/modc
nvidia-smi --query-gpu=name --format=csv,noheader; lscpu | grep -E "Model name|^CPU\(s\)"
SECONDS_CAP=440 COMPILE=1 bash examples/train/run_pair.sh $W/t 6000 mod12drr25b > $W/t.log 2>&1
cd $W; grep -v "^step" t.log | tail -n 12; ls t
xz -1 -T8 -c t/pair_mod12drr25b.safetensors > $OUT/pair_mod12drr25b.safetensors.xz
cp t/pair_mod12drr25b_logs.tar $OUT/; tar -xf t/pair_mod12drr25b_logs.tar
python3 - "$R" <<'PY'
import json, re, sys
R = sys.argv[1]
tau = json.load(open('mod12drr25b/pair_mod12drr25b.tau.json'))
s = open(R + '/examples/pair/pair_mod12drr25p.yaml').read()
s = re.sub(r'(?m)^name: .*', 'name: pair_mod12drr25b', s)
s = re.sub(r'(?m)^weights: .*', 'weights: t/pair_mod12drr25b.safetensors', s)
s = re.sub(r'(?m)^  layers: \[.*', '  layers: [1,2,4,5,7,8,10,11]', s)
s = re.sub(r'(?m)^  predictor.*\n', '', s)
s = s.replace('  gate: raw\n', '  gate: raw\n  per_layer: {' + ', '.join(f'{l}: {{threshold: {v!r}}}' for l, v in tau.items()) + '}\n')
open('pair_mod12drr25b.yaml', 'w').write(s)
PY
cp pair_mod12drr25b.yaml $OUT/; cat pair_mod12drr25b.yaml
sed -e '/^  per_layer:/d' -e 's/^name: .*/name: pair_mod12drr25b0/' pair_mod12drr25b.yaml > pair_mod12drr25b0.yaml
$M compile pair_mod12drr25b.yaml -o lib/lib.so -q && $M compile pair_mod12drr25b0.yaml -o lib0/lib.so -q
for l in lib lib0; do echo "d3b $l session $(timeout 60 $M eval $l/lib.so --bytes $R/.dev/txt/test.bin --mode session --window 256 --json -q)"; done | tee $OUT/nll.txt
ls -la $OUT
