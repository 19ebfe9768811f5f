#!/bin/bash
# test_eval.sh: modc eval end to end on tests/cli/small.yaml (random weights).  The numbers
# themselves are checked against the interpreter by test_e2e (e2e_eval.c); here: both
# modes and output forms, a spec's thresholds reaching the take rates, --bytes against
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
refuse_eval "a session window longer than max_seq_len" "--window 65 is longer than the model's max_seq_len 64" lib/libsmall.so --bytes text.bin --mode session --window 65
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
