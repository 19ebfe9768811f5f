#!/bin/bash
# test_eval.sh: modc eval end to end on tests/cli/small.yaml (random weights).  The numbers
# themselves are checked against the interpreter by test_e2e (e2e_eval.c); here: both
# modes and output forms, --vs in both, a spec's thresholds reaching the take rates, modc_forward
# routed by threshold (routing.forward), --bytes against
# --tokens of the same bytes, and every bad input named clearly with exit status 1.
# usage: test_eval.sh MODC MODC_RANDWEIGHTS WORK_DIR
set -u
M=$1 RW=$2 W=$3 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cp "$here/small.yaml" "$W/" && cd "$W" || exit 1
. "$here/testlib.sh"
refuse_eval() { local n=$1 p=$2; shift 2; refuse "$n" "$p" "$M" eval "$@"; }

"$RW" small.yaml --seed 5 > /dev/null || exit 1
"$M" compile small.yaml -o lib/libsmall.so -q || exit 1
head -c 100 "$here/small.yaml" > text.bin
od -An -v -tu1 text.bin > text.ids

# forward: the longest shape (1, 16); 100 tokens = 6 whole windows and a tail
"$M" eval lib/libsmall.so --tokens text.ids --json -q > f.json 2> f.err && ok "eval forward --json" || bad "eval forward: $(cat f.err)"
expect "forward predicts all but the whole windows' first tokens" '"tokens": 94,' f.json
expect "forward mode and window named" '"mode": "forward", "batch": 1, "window": 16,' f.json
expect "forward take rate is the capacity's k / T" '"take_rate": {"1": 0.25}' f.json
python3 -c "import json,math; d=json.load(open('f.json')); assert abs(d['ppl']-math.exp(d['nll']))<1e-6*d['ppl'] and d['nll']>0" \
  && ok "the JSON parses; ppl = exp(nll)" || bad "bad JSON: $(cat f.json)"
"$M" eval lib/libsmall.so --bytes text.bin --json -q > fb.json 2>&1
[ "$(sed -E 's/"(seconds|ms_per_call)": [^,]*, //g' f.json)" = "$(sed -E 's/"(seconds|ms_per_call)": [^,]*, //g' fb.json)" ] \
  && ok "--bytes reads the same tokens as their ids" || bad "--bytes and --tokens differ: $(cat f.json fb.json)"
"$M" eval lib/libsmall.so --tokens text.ids > f.txt 2>&1 && expect "text output" "nll " f.txt || bad "text output: $(cat f.txt)"
expect "text output names the take rate" "layer   1  take rate 0.2500" f.txt

# session: causal routing, windows of --window; the spec's threshold moves the take rate
"$M" eval lib/libsmall.so --tokens text.ids --mode session --window 20 --json -q > s.json 2> s.err \
  && ok "eval session --json" || bad "eval session: $(cat s.err)"
expect "session windows of 20: 5 whole windows, no tail" '"tokens": 95,' s.json
expect "session mode named" '"mode": "session", "batch": 1, "window": 20,' s.json
rate() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['take_rate']['1'])" "$1"; }
for thr in -1000 1000; do
  "$M" compile small.yaml -D routing.threshold=$thr -o t$thr/libsmall.so -q || bad "compile threshold $thr"
  "$M" eval t$thr/libsmall.so --tokens text.ids --mode session --window 20 --json -q > t$thr.json 2>&1
done
[ "$(rate t-1000.json)" = 1 ] && ok "threshold -1000: every token takes the block" || bad "threshold -1000: $(cat t-1000.json)"
[ "$(rate t1000.json)" = 0 ] && ok "threshold 1000: no token takes the block" || bad "threshold 1000: $(cat t1000.json)"
python3 -c "import json,sys; a=json.load(open('t-1000.json'));b=json.load(open('t1000.json'));sys.exit(a['nll']==b['nll'])" \
  && ok "the threshold changes the NLL" || bad "thresholds -1000 and 1000 give the same NLL"

# routing.forward: threshold: modc_forward routes as a session does, so its NLL over windows
# of 16 is the session's over the same windows; take rates are not counted in forward mode
"$M" compile small.yaml -D routing.forward=threshold -o fthr/libsmall.so -q || bad "compile forward=threshold"
"$M" eval fthr/libsmall.so --tokens text.ids --json -q > fthr.json 2> fthr.err && ok "eval forward by threshold" || bad "eval forward by threshold: $(cat fthr.err)"
"$M" eval lib/libsmall.so --tokens text.ids --mode session --window 16 --json -q > s16.json 2>&1
expect "forward by threshold: take rate null, not counted" '"take_rate": {"1": null}' fthr.json
python3 -c "import json,sys; a=json.load(open('fthr.json'));b=json.load(open('s16.json'));f=json.load(open('f.json'))
sys.exit(not (a['tokens']==b['tokens'] and abs(a['nll']-b['nll'])<=1e-5*b['nll'] and abs(a['nll']-f['nll'])>1e-3))" \
  && ok "forward by threshold: the session's NLL on the same windows, not top-k's" || bad "forward by threshold: $(cat fthr.json s16.json f.json)"
"$M" eval fthr/libsmall.so --tokens text.ids > fthr.txt 2>&1
expect "forward by threshold: the text says the take rate is not counted" "take rate not counted (modc_forward routes it by threshold)" fthr.txt

# --vs: A and B window by window in one process; each one's NLL and take rates as when run
# alone (the decoding is deterministic), the ratio's median inside its 10th-90th percentiles
"$M" compile small.yaml -D routing.threshold=-1000 -o vsb/libsmall.so -q || bad "compile vsb"
"$M" eval lib/libsmall.so --vs vsb/libsmall.so --tokens text.ids --mode session --window 20 --json -q > vs.json 2> vs.err \
  && ok "eval --vs --json" || bad "eval --vs: $(cat vs.err)"
python3 - vs.json s.json t-1000.json << 'PY' && ok "--vs: A and B as alone, the ratio's median inside its percentiles, 5 windows" || bad "--vs JSON: $(cat vs.json)"
import json, sys
v, a, b = (json.load(open(f)) for f in sys.argv[1:4])
strip = lambda d: {k: x for k, x in d.items() if k not in ("seconds", "ms_per_call")}
assert strip(v["a"]) == strip(a) and strip(v["b"]) == strip(b), (v, a, b)
q = v["ms_ratio"]
assert q["windows"] == 5 and 0 < q["p10"] <= q["median"] <= q["p90"], q
PY
"$M" eval lib/libsmall.so --vs vsb/libsmall.so --bytes text.bin --mode session --window 20 -q > vs.txt 2>&1 \
  && expect "--vs text names the ratio" "B/A ms per token step: median" vs.txt || bad "--vs text: $(cat vs.txt)"
sed 's/^  vocab_size: 256/  vocab_size: 300/; s/^weights: .*/weights: v300.safetensors/' small.yaml > v300.yaml
sed 's/^  max_seq_len: 64/  max_seq_len: 32/; s/^weights: .*/weights: s32.safetensors/' small.yaml > s32.yaml
for y in v300 s32; do "$RW" $y.yaml --seed 2 > /dev/null && "$M" compile $y.yaml -o $y/libsmall.so -q || bad "compile $y"; done
refuse_eval "--vs with another vocabulary" "has a vocabulary of 256, v300/libsmall.so of 300" lib/libsmall.so --vs v300/libsmall.so --bytes text.bin --mode session
refuse_eval "--vs: a window longer than B's max_seq_len" "--window 40 is longer than small's max_seq_len 32" lib/libsmall.so --vs s32/libsmall.so --bytes text.bin --mode session --window 40
# forward mode --vs: call by call; each one's NLL and take rates as alone; one longest shape
"$M" compile small.yaml -D routing.capacity=0.5 -o c50/libsmall.so -q || bad "compile capacity 0.5"
"$M" eval c50/libsmall.so --tokens text.ids --json -q > c50.json 2>&1
"$M" eval lib/libsmall.so --vs c50/libsmall.so --tokens text.ids --json -q > vsf.json 2> vsf.err \
  && ok "eval --vs in forward mode" || bad "eval --vs forward: $(cat vsf.err)"
python3 - vsf.json f.json c50.json << 'PY' && ok "forward --vs: A and B as alone, 7 calls, the ratio inside its percentiles" || bad "forward --vs JSON: $(cat vsf.json)"
import json, sys
v, a, b = (json.load(open(f)) for f in sys.argv[1:4])
strip = lambda d: {k: x for k, x in d.items() if k not in ("seconds", "ms_per_call")}
assert strip(v["a"]) == strip(a) and strip(v["b"]) == strip(b), (v, a, b)
assert v["b"]["take_rate"] == {"1": 0.5} and v["a"]["take_rate"] == {"1": 0.25}, v
q = v["ms_ratio"]
assert q["calls"] == 7 and 0 < q["p10"] <= q["median"] <= q["p90"], q
PY
"$M" eval lib/libsmall.so --vs c50/libsmall.so --bytes text.bin -q > vsf.txt 2>&1 \
  && expect "forward --vs text names the ratio" "B/A ms per forward call: median" vsf.txt || bad "forward --vs text: $(cat vsf.txt)"
"$M" compile small.yaml --shape 2,16 -o b2/libsmall.so -q || bad "compile shape 2,16"
refuse_eval "forward --vs of two shapes" "forward mode side by side needs one shape: small's longest is [1, 16], small's [2, 16]" lib/libsmall.so --vs b2/libsmall.so --bytes text.bin
refuse_eval "--vs with a missing library" "cannot load 'nope.so'" lib/libsmall.so --vs nope.so --bytes text.bin --mode session
"$M" eval lib/libsmall.so --vs s32/libsmall.so --bytes text.bin --mode session --json -q > vs32.json 2>&1 \
  && python3 -c "import json; d=json.load(open('vs32.json')); assert d['a']['window'] == d['b']['window'] == 32" \
  && ok "--vs: the default window is the shorter model's" || bad "--vs default window: $(cat vs32.json)"

# bad input: clear errors, exit status 1
: > empty.ids
printf '1 2 3\n4 256 5\n' > big.ids
printf '1 2 x3\n' > word.ids
printf '1 2 -3\n' > neg.ids
head -c 10 text.bin > short.bin
refuse_eval "an empty file" "eval: 'empty.ids' holds no tokens" lib/libsmall.so --tokens empty.ids
refuse_eval "an id >= vocab_size, with its line" "big.ids:2: token id 256 is out of range (vocab_size 256)" lib/libsmall.so --tokens big.ids
refuse_eval "a word that is not an id" "word.ids:1: expected a token id (digits), got 'x3'" lib/libsmall.so --tokens word.ids
refuse_eval "a negative id" "neg.ids:1: expected a token id (digits), got '-3'" lib/libsmall.so --tokens neg.ids
refuse_eval "a file shorter than one window" "the file holds 10 tokens, fewer than one window of 16" lib/libsmall.so --bytes short.bin
refuse_eval "a session window longer than max_seq_len" "--window 65 is longer than small's max_seq_len 64" lib/libsmall.so --bytes text.bin --mode session --window 65
refuse_eval "a window of one token" "--window must be an integer in [2," lib/libsmall.so --bytes text.bin --mode session --window 1
refuse_eval "--window without session mode" "--window is for --mode session" lib/libsmall.so --bytes text.bin --window 8
refuse_eval "an unknown mode" "--mode must be forward or session, got 'fast'" lib/libsmall.so --bytes text.bin --mode fast
refuse_eval "two token files" "give one token file" lib/libsmall.so --bytes text.bin --tokens text.ids
refuse_eval "no token file" "give a token file" lib/libsmall.so
refuse_eval "a missing file" "cannot read 'nope.bin'" lib/libsmall.so --bytes nope.bin
refuse_eval "a missing library" "cannot load 'nope.so'" nope.so --bytes text.bin
refuse_eval "an unknown option" "unknown option '--fast'" lib/libsmall.so --bytes text.bin --fast
"$M" eval --help > help.txt && expect "--help names both modes" "--mode session" help.txt || bad "eval --help failed"

finish
