#!/bin/bash
# Run on the GPU machine from the repo root:  bash examples/train/run_device.sh SECONDS
# Trains, checks the file with the safetensors library, computes the float64 references
# and greedy samples, and packs everything into $OUT/bundle.tar (log in $OUT/log.txt).
set -eo pipefail
export PYTHONUNBUFFERED=1
SECS=${1:-290}
CANDS=${2:-64}
W=/tmp/modc_work
rm -rf $W && mkdir -p $W/tr $W/ref
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 examples/train/train_mod.py --out $W/tr --seconds "$SECS"
python3 - "$W/tr/bytes_mod.safetensors" <<'PY'
import sys, torch
from safetensors.torch import load_file
sys.path.insert(0, "examples/train")
import reference as R
a = load_file(sys.argv[1]); b = R.load_safetensors_f64(sys.argv[1])
assert sorted(a) == sorted(b), "name mismatch"
for k in a:
    assert a[k].dtype == torch.bfloat16 and torch.equal(a[k].double(), b[k]), k
print(f"safetensors library check: {len(a)} tensors, all BF16, identical to the reference loader")
PY
time python3 examples/train/reference.py --weights $W/tr/bytes_mod.safetensors --corpus-val $W/tr/corpus_val.bin \
  --out $W/ref --prompt-candidates "$CANDS" --sample-prompts examples/train/sample_prompts.json --sample-len 192
tar -C $W -cf $OUT/bundle.tar tr ref
ls -la $W/tr $W/ref
