#!/bin/bash
# run_pair.sh: the trained MoD/dense pair of issue 13 on the GPU machine, one recipe at equal
# training FLOPs.  DESIGN section 1: a step of the model routed every other layer at 12.5%
# costs about 0.66 of the dense twin's, so it trains 1.5x the steps; at 25% a step costs about
# 0.71 (the same count: 4 dense layers + 4 routed at c, plus the fixed part 0.22 that makes
# 0.66 at 12.5%), so 1.4x; at 50% 0.81, so 1.24x.  The chosen runs go at once on the one GPU (small models leave it
# idle between kernel launches).  Run from the repo root there:
#
#   bash examples/train/run_pair.sh OUT [DENSE_STEPS] [RUN...]
#
# RUN is dense (pair_dense), mod (pair_mod, capacity 0.125, 1.5x the steps), mod25
# (pair_mod25, capacity 0.25, 1.4x) or mod50 (pair_mod50, capacity 0.5, 1.24x); default
# "dense mod".  Deeper MoD models at the twin's training FLOPs (the paper's isoFLOP finding:
# the MoD model that matches the baseline is the larger one), steps = DENSE_STEPS / cost with
# cost = 0.22 + 0.78 (dense layers + routed layers x capacity) / 8:
#   mod10 (10 layers, 1, 3, 5, 7, 9 routed at 0.125, cost 0.768), mod10_25 (the same at 0.25,
#   0.829), mod12drr (12 layers, all but 0, 3, 6, 9 routed at 0.125, 0.708), mod12drr25 (the
#   same at 0.25, 0.805), mod10drr25 (10 layers, 1, 2, 4, 5, 7, 8 routed at 0.25, 0.756),
#   mod9_25 (9 layers, 1, 3, 5, 7 routed at 0.25, 0.805), mod12drr19 (mod12drr's layers at
#   0.1875, 0.756), mod12d3r25 (12 layers, all but 0, 4, 8 routed at 0.25, 0.732): the last two
#   read fewer layer-equivalents a decode step (5.5 and 5.25 of the twin's 8) than mod12drr25
#   (6).  mod12d3r25b (mod12drr25b) is mod12d3r25 (mod12drr25) with top-k over the whole
#   batch (train_mod.py --route-scope batch), and mod12drr19b and mod12drrb are mod12drr19 and
#   mod12drr so trained (5.5 and 5 layer-equivalents a decode step).  A batch-scope model's cut
#   hardly moves, so sessions route by r > 0 (or the mean cut, NAME.tau.json), the rule it
#   trained with, with no predictor; modc_forward's per-window top-k does not fit such a model.  Its routed blocks run on every token and are
#   masked (a gather of a varying count would cost what the steps count): about twice the wall
#   time.  A run name ending in p (mod10_25p,
# mod12drr25p) is that run with the paper's mlp predictor for the causal rule (train_mod.py
# --predictor mlp, hidden 64): each routed layer adds 0.024 of a layer's FLOPs on every token,
# counted in the cost.  Writes OUT/<name>.safetensors and
# OUT/<name>_logs.tar (its train_log.txt, stdout and corpus file list) per run.  Environment:
# SECONDS_CAP (430; a run stopped by it says so in its log, and then it is not at equal FLOPs),
# COMPILE (0; 1 trains through torch.compile: the same maths, fewer kernel launches), SEED
# (1234; another seed names its runs NAME_sSEED).
set -eo pipefail
export PYTHONUNBUFFERED=1
out=$1 dense=${2:-3000}
shift 2 || shift $#
runs=("$@") seed=${SEED:-1234}
[ ${#runs[@]} -gt 0 ] || runs=(dense mod)
W=/tmp/modc_pair_s$seed
rm -rf "$W" && mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
common=(--layers 8 --d-model 256 --heads 4 --kv-heads 2 --d-ff 640 --batch 128 --seq 256
        --corpus stdlib+site --corpus-mb 120 --seconds "${SECONDS_CAP:-430}" --eval-every 500)
# steps DENSE_LAYERS ROUTED_LAYERS CAPACITY [PREDICTOR]: the twin's steps over a step's cost
# (above); PREDICTOR is a routed layer's predictor in layers (0, or 0.024 for the mlp one)
steps() { awk -v d="$dense" -v nd="$1" -v nr="$2" -v c="$3" -v pr="${4:-0}" 'BEGIN { printf "%d", d / (0.22 + 0.78 * (nd + nr * (c + pr)) / 8) + 0.5 }'; }
PRED=(--predictor mlp --predictor-hidden 64)
declare -A pid
for r in "${runs[@]}"; do
  case $r in
    dense) args=(--name pair_dense --routing none --steps "$dense") ;;
    mod)   args=(--name pair_mod --routing every_other --capacity 0.125 --steps $((dense * 3 / 2))) ;;
    mod25) args=(--name pair_mod25 --routing every_other --capacity 0.25 --steps $((dense * 7 / 5))) ;;
    mod50) args=(--name pair_mod50 --routing every_other --capacity 0.5 --steps $((dense * 31 / 25))) ;;
    mod10) args=(--name pair_mod10 --layers 10 --routing every_other --capacity 0.125 --steps $(steps 5 5 0.125)) ;;
    mod10_25) args=(--name pair_mod10_25 --layers 10 --routing every_other --capacity 0.25 --steps $(steps 5 5 0.25)) ;;
    mod12drr) args=(--name pair_mod12drr --layers 12 --routing drr --capacity 0.125 --steps $(steps 4 8 0.125)) ;;
    mod12drr25) args=(--name pair_mod12drr25 --layers 12 --routing drr --capacity 0.25 --steps $(steps 4 8 0.25)) ;;
    mod10_25p) args=(--name pair_mod10_25p --layers 10 --routing every_other --capacity 0.25 "${PRED[@]}" --steps $(steps 5 5 0.25 0.024)) ;;
    mod12drr25p) args=(--name pair_mod12drr25p --layers 12 --routing drr --capacity 0.25 "${PRED[@]}" --steps $(steps 4 8 0.25 0.024)) ;;
    mod9_25) args=(--name pair_mod9_25 --layers 9 --routing every_other --capacity 0.25 --steps $(steps 5 4 0.25)) ;;
    mod10drr25) args=(--name pair_mod10drr25 --layers 10 --routed 1,2,4,5,7,8 --capacity 0.25 --steps $(steps 4 6 0.25)) ;;
    mod12drr19) args=(--name pair_mod12drr19 --layers 12 --routing drr --capacity 0.1875 --steps $(steps 4 8 0.1875)) ;;
    mod12d3r25) args=(--name pair_mod12d3r25 --layers 12 --routed 1,2,3,5,6,7,9,10,11 --capacity 0.25 --steps $(steps 3 9 0.25)) ;;
    mod12d3r25b) args=(--name pair_mod12d3r25b --layers 12 --routed 1,2,3,5,6,7,9,10,11 --capacity 0.25 --route-scope batch --steps $(steps 3 9 0.25)) ;;
    mod12drr25b) args=(--name pair_mod12drr25b --layers 12 --routing drr --capacity 0.25 --route-scope batch --steps $(steps 4 8 0.25)) ;;
    mod12drr19b) args=(--name pair_mod12drr19b --layers 12 --routing drr --capacity 0.1875 --route-scope batch --steps $(steps 4 8 0.1875)) ;;
    mod12drrb) args=(--name pair_mod12drrb --layers 12 --routing drr --capacity 0.125 --route-scope batch --steps $(steps 4 8 0.125)) ;;
    *) echo "run_pair.sh: unknown run '$r' (dense, mod, mod25, mod50, mod10, mod10_25, mod12drr, mod12drr25, mod10drr25, mod9_25, mod12drr19, mod12d3r25, mod12d3r25b, mod12drr25b, mod12drr19b, mod12drrb, mod10_25p or mod12drr25p)" >&2; exit 2 ;;
  esac
  [ "${COMPILE:-0}" = 1 ] && args+=(--compile)
  [ "$seed" = 1234 ] || args+=(--seed "$seed" --name "pair_${r}_s$seed")
  mkdir -p "$W/$r"
  python3 examples/train/train_mod.py --out "$W/$r" "${common[@]}" "${args[@]}" > "$W/$r.out" 2>&1 &
  pid[$r]=$!
done
rc=0
for r in "${runs[@]}"; do wait "${pid[$r]}" || rc=1; done
for r in "${runs[@]}"; do
  tail -n 4 "$W/$r.out"
  name=pair_$r
  [ "$seed" = 1234 ] || name=pair_${r}_s$seed
  mv "$W/$r/$name.safetensors" "$out/" || rc=1
  gzip -9 -c "$W/$r/corpus_files.txt" > "$W/$r/corpus_files.txt.gz" && rm -f "$W/$r/corpus_files.txt" "$W/$r/corpus_val.bin"
  cp "$W/$r.out" "$W/$r/stdout.txt"
  tar -C "$W" -cf "$out/${name}_logs.tar" "$r"
done
exit $rc
