#!/bin/bash
# session 24: issue 13, the mlp predictor fitted after training (examples/train/fit_predictor.py) to mod12drr25 (seed 1234)
# and the committed pair_mod10_25, on the training corpus's stdlib files (never the validation ones)
set -x
nvidia-smi --query-gpu=name --format=csv,noheader
py=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
awk 'NR % 50 != 1' examples/train/corpus_files.txt | sed "s|^/usr/lib/python3\.[0-9]*|$py|" | while read -r f; do [ -f "$f" ] && cat "$f"; done | head -c 30000000 > /tmp/fit.bin
ls -la /tmp/fit.bin; gunzip -c .dev/w/pair_mod12drr25.safetensors.gz > /tmp/pair_mod12drr25.safetensors
python3 examples/train/fit_predictor.py --weights /tmp/pair_mod12drr25.safetensors --layers 12 --routed 1,2,4,5,7,8,10,11 --capacity 0.25 --text /tmp/fit.bin --out /tmp/pair_mod12drr25p.safetensors --steps 600 --batch 64 > $OUT/fit12.txt 2>&1 &
python3 examples/train/fit_predictor.py --weights examples/pair/pair_mod10_25.safetensors --layers 10 --routed 1,3,5,7,9 --capacity 0.25 --text /tmp/fit.bin --out /tmp/pair_mod10_25p.safetensors --steps 600 --batch 64 > $OUT/fit10.txt 2>&1 &
wait
for f in /tmp/pair_mod12drr25p.safetensors /tmp/pair_mod10_25p.safetensors; do gzip -1 -c $f > $OUT/$(basename $f).gz; done
tail -n 4 $OUT/fit*.txt; ls -la $OUT
