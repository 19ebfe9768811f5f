#!/bin/bash
# run_pair.sh: the trained MoD/dense pair of issue 13 on the GPU machine, one recipe at equal
# training FLOPs (DESIGN section 1: the MoD model, routed every other layer at 12.5%, trains
# 1.5x the dense twin's steps).  Both run at once on the one GPU (small models leave it idle
# between kernel launches).  Run from the repo root there:
#
#   bash examples/train/run_pair.sh OUT [DENSE_STEPS]
#
# Writes OUT/pair_dense.safetensors, OUT/pair_mod.safetensors and OUT/pair_logs.tar (each
# run's train_log.txt and corpus file list).  Environment: SECONDS_CAP (430; a run stopped by
# it says so in its log, and then the pair is not at equal FLOPs).
set -eo pipefail
export PYTHONUNBUFFERED=1
out=$1 dense=${2:-3000}
mod=$((dense * 3 / 2))
W=/tmp/modc_pair
rm -rf "$W" && mkdir -p "$W/dense" "$W/mod" "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
common=(--layers 8 --d-model 256 --heads 4 --kv-heads 2 --d-ff 640 --batch 128 --seq 256
        --corpus stdlib+site --corpus-mb 120 --seconds "${SECONDS_CAP:-430}" --eval-every 500)
python3 examples/train/train_mod.py --out "$W/dense" --name pair_dense --routing none --steps "$dense" "${common[@]}" \
  > "$W/dense.out" 2>&1 &
pd=$!
python3 examples/train/train_mod.py --out "$W/mod" --name pair_mod --routing every_other --steps "$mod" "${common[@]}" \
  > "$W/mod.out" 2>&1 &
pm=$!
rc=0
wait $pd || rc=1
wait $pm || rc=1
tail -n 4 "$W/dense.out" "$W/mod.out"
for r in dense mod; do
  mv "$W/$r/pair_$r.safetensors" "$out/" || rc=1
  gzip -9 -c "$W/$r/corpus_files.txt" > "$W/$r/corpus_files.txt.gz" && rm -f "$W/$r/corpus_files.txt" "$W/$r/corpus_val.bin"
  cp "$W/$r.out" "$W/$r/stdout.txt"
done
tar -C "$W" -cf "$out/pair_logs.tar" dense mod
exit $rc
