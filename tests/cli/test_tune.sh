#!/bin/bash
# test_tune.sh: `modc tune` end to end on the small spec: records written and refused as the
# contract says, shards that merge into one run's key set, a tuned library that generates
# what the untuned one does and compiles to the same bytes twice, a candidate with a wrong
# output never chosen ($MODC_TUNE_FAULT), the end-to-end check (--check) putting back what a
# loss names ($MODC_TUNE_E2E_RATIO), and bad arguments refused.  Timings are never
# asserted: only what the records hold and which kernels they name.
# usage: test_tune.sh BUILD_DIR WORK_DIR
set -u
B=$1 W=$2 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cp "$here/small.yaml" "$W/" && cd "$W" || exit 1
. "$here/testlib.sh"
keys() { grep -o '"kernel": "[^"]*"' "$1" | sort; }
"$B/modc-randweights" small.yaml --seed 5 >/dev/null || exit 1

# a whole run: a record for every matmul and attention kernel, sorted, of this CPU
"$B/modc" tune small.yaml -o t.json --budget-seconds 4 2> tune.err && ok "tune" || bad "tune: $(cat tune.err)"
expect_re "format version" '"modc_tuning": 1' t.json
expect_re "summary line" "modc tune: .* kernels" tune.err
grep -q "compiler bug" tune.err && bad "a record the verifier accepts gave a wrong output: $(grep 'compiler bug' tune.err)" \
  || ok "no record gave a wrong output"
"$B/modc" compile small.yaml --emit ir -o small.mir -q
nk=$(grep -c '#matmul\|#attn' small.mir) # nodes; kernels are fewer (shared by key)
nrec=$(keys t.json | wc -l)
[ "$nrec" -ge 8 ] && [ "$nrec" -le "$nk" ] && ok "records for the kernels ($nrec, $nk nodes)" || bad "$nrec records for $nk nodes"
keys t.json > k1 && sort -c k1 2>/dev/null && [ "$(grep -o '"kernel": "[^"]*"' t.json)" = "$(cat k1)" ] \
  && ok "records sorted by key" || bad "records not sorted"
grep -q '"kernel": "k_matmul_silu_mul_n72_k48_f32_nr' t.json && grep -q '"kernel": "k_kv_attention_l0_' t.json \
  && ok "matmul and kv_attention kernels named by key" || bad "expected keys missing"

# compile with the records: same bytes twice, the same generation as without
"$B/modc" compile small.yaml -o a/libsmall.so -q
"$B/modc" compile small.yaml --tuning t.json -o b/libsmall.so 2> comp.err && ok "compile --tuning" || bad "compile --tuning: $(cat comp.err)"
"$B/modc" compile small.yaml --tuning t.json -o c/libsmall.so -q
cmp -s b/libsmall.so c/libsmall.so && ok "one records file compiles to the same bytes" || bad "tuned compiles differ"
"$B/modc" run a/libsmall.so --prompt "def " --max-new 12 --temperature 0 > run_a.txt 2>&1
"$B/modc" run b/libsmall.so --prompt "def " --max-new 12 --temperature 0 > run_b.txt 2>&1
cmp -s run_a.txt run_b.txt && ok "tuned library generates the same text" || bad "tuned generation differs"
"$B/modc" compile small.yaml --tuning t.json --emit ir -o tuned.mir -q
grep -q '#matmul' tuned.mir && ok "--emit ir with --tuning" || bad "--emit ir with --tuning"

# shards: disjoint, together the key set of one run
"$B/modc" tune small.yaml -o s1.json --budget-seconds 2 --shard 1/2 -q && "$B/modc" tune small.yaml -o s2.json \
  --budget-seconds 2 --shard 2/2 -q && ok "two shards" || bad "shards"
[ -z "$(comm -12 <(keys s1.json) <(keys s2.json))" ] && [ "$(keys s1.json | wc -l)" -ge 1 ] && [ "$(keys s2.json | wc -l)" -ge 1 ] \
  && ok "shards are disjoint and not empty" || bad "shards overlap or one is empty"
"$B/modc" tune --merge s1.json s2.json -o m.json && ok "merge" || bad "merge"
[ "$(keys m.json)" = "$(keys t.json)" ] && ok "merged shards hold one run's keys" || bad "merged keys differ from one run's"
"$B/modc" tune --merge s2.json s1.json -o m2.json && cmp -s m.json m2.json && ok "merge does not depend on the order" \
  || bad "merge order changes the file"

sed 's/"cpu": "[^"]*"/"cpu": "haswell"/' t.json > other.json

# records files side by side (no search, no -o)
"$B/modc" tune small.yaml --compare t.json --compare s1.json > cmp.txt 2> cmp.err && ok "tune --compare" \
  || bad "tune --compare: $(cat cmp.err)"
[ "$(grep -c '^compare kernel=k_.* heuristic_ms=[0-9.]* f1_ms=[0-9.]* f2_ms=[0-9.]*$' cmp.txt)" -ge 1 ] \
  && ok "one line per compared kernel" || bad "compare lines: $(cat cmp.txt)"
expect_re "compare total" "^compare total heuristic=1 f1=[0-9.]* f2=[0-9.]*$" cmp.txt
"$B/modc" tune small.yaml --compare other.json > /dev/null 2> cmpo.err && bad "--compare of another CPU's records" \
  || ok "--compare refuses another CPU's records"

# an interrupted tune leaves nothing in $TMPDIR: neither its work folder nor the C compiler
# driver's temporaries (a driver once outlived the tuner as an orphan and wrote its ccXXXXXX
# files after the tuner had exited).  Interrupted early, and in a link: $MODC_CC is a driver
# that makes its temporary file in $TMPDIR, as gcc does, says it has started, and waits
# before it links; on SIGTERM it deletes the file, as gcc does.  Its trap is set before the
# file exists: the tuner builds parts side by side, and a second driver caught between making
# its file and setting its trap (under load, in one CI run) left the file behind.
mkdir -p tmp
cat > slowcc.sh <<'EOF2'
#!/bin/bash
f=${TMPDIR:-/tmp}/slowcc.$$
trap 'kill $w 2> /dev/null; rm -f "$f"; exit 143' TERM
: > "$f" || exit 1
touch "$LINK_STARTED"
sleep 5 & w=$!
wait $w
rm -f "$f"
exec cc "$@"
EOF2
chmod +x slowcc.sh
for when in early link; do
  rm -f started
  TMPDIR=$PWD/tmp MODC_CC=$PWD/slowcc.sh LINK_STARTED=$PWD/started "$B/modc" tune small.yaml -o int.json \
    --budget-seconds 30 -q 2> /dev/null &
  pid=$!
  if [ $when = early ]; then sleep 0.3
  else for _ in $(seq 600); do [ -e started ] && break; sleep 0.05; done; fi
  [ $when = link ] && { [ -e started ] || bad "the tuner started no link within 30 s"; }
  kill -TERM $pid 2> /dev/null; wait $pid 2> /dev/null
  left=$(ls tmp)
  [ -z "$left" ] && ok "tune interrupted ($when) left nothing in TMPDIR" || bad "interrupted ($when), left behind: $left"
  rm -rf tmp/*
done

# a candidate whose output is wrong is never chosen
MODC_TUNE_FAULT=1 "$B/modc" tune small.yaml -o f.json --budget-seconds 30 2> fault.err && ok "tune with wrong candidates" \
  || bad "tune with MODC_TUNE_FAULT: $(cat fault.err)"
# (every candidate is wrong, so the search converges in a few rounds, well within the budget,
# which is there for the sanitizer builds' slower compiles)
grep -q " 0 improved, [1-9][0-9]* wrong candidates rejected" fault.err && ok "wrong candidates rejected, none chosen" \
  || bad "fault summary: $(cat fault.err)"
python3 - f.json <<'EOF' && ok "every record is the heuristic's (ms = default_ms)" || bad "a wrong candidate became a record"
import json, sys
r = json.load(open(sys.argv[1]))["records"]
sys.exit(0 if r and all(x["ms"] == x["default_ms"] for x in r) else 1)
EOF

# --check: a records file (here t.json with one matmul's tile rows and decode groups moved)
# timed beside the heuristic's and checked end to end; a loss the check sees puts fields back.
# $MODC_TUNE_E2E_RATIO "P,D;P,D" stands for the measured prefill and decode ratios of the first
# and the second check (the libraries are still compiled and timed).
silu() { python3 -c 'import json,sys; print(json.dumps(next(r["schedule"] for r in json.load(open(sys.argv[1]))["records"] if r["kernel"].startswith("k_matmul_silu_mul")), sort_keys=True))' "$1"; }
python3 - t.json alt.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
s = next(r["schedule"] for r in d["records"] if r["kernel"].startswith("k_matmul_silu_mul"))
s.update(mr=2, mc=8, mr_tail=1, ku=1 if s["ku"] != 1 else 2)
json.dump(d, open(sys.argv[2], "w"))
EOF
"$B/modc" tune small.yaml --check alt.json -o c1.json -v 2> c1.err && ok "tune --check" || bad "tune --check: $(cat c1.err)"
expect_re "end-to-end ratios printed" "end-to-end: tuned/untuned prefill [0-9.]*, decode step [0-9.]*" c1.err
MODC_TUNE_E2E_RATIO="1.0,1.0" "$B/modc" tune small.yaml --check alt.json -o c4.json 2> c4.err
[ "$(silu c4.json)" = "$(silu alt.json)" ] && ok "--check keeps a record the end-to-end check does not find slower" \
  || bad "--check changed a record: $(silu c4.json) for $(silu alt.json)"
MODC_TUNE_E2E_RATIO="1.0,1.5;1.0,1.0" "$B/modc" tune small.yaml --check alt.json -o c2.json -v 2> c2.err \
  && ok "--check with a slower decode" || bad "--check with a slower decode: $(cat c2.err)"
expect_re "decode loss named" "one-row (decode) fields back to the heuristic's" c2.err
python3 - c2.json alt.json f.json <<'EOF' && ok "a slower decode puts back the decode groups only" || bad "decode revert: $(silu c2.json)"
import json, sys
pick = lambda f: next(r["schedule"] for r in json.load(open(f))["records"] if r["kernel"].startswith("k_matmul_silu_mul"))
got, alt, heur = map(pick, sys.argv[1:])
sys.exit(0 if got["ku"] == heur["ku"] != alt["ku"] and all(got[k] == alt[k] for k in ("mr", "mc", "mr_tail")) else 1)
EOF
MODC_TUNE_E2E_RATIO="1.5,1.0;1.5,1.0" "$B/modc" tune small.yaml --check alt.json -o c3.json -v 2> c3.err \
  && ok "--check with a prefill that stays slower" || bad "--check, prefill slower: $(cat c3.err)"
expect_re "every record back" "every record back to the heuristic's" c3.err
[ "$(grep -o '"schedule": {[^}]*}' c3.json)" = "$(grep -o '"schedule": {[^}]*}' f.json)" ] \
  && ok "a loss that stays puts every record back" || bad "records after a lasting loss differ from the heuristic's"
"$B/modc" tune small.yaml --check alt.json --no-e2e -o x.json 2> /dev/null && bad "--check with --no-e2e accepted" \
  || ok "--check with --no-e2e refused"
"$B/modc" tune small.yaml --check nothere.json -o x.json 2> /dev/null && bad "--check of a missing file accepted" \
  || ok "--check of a missing file refused"

# records of another CPU are refused, naming both
"$B/modc" compile small.yaml --tuning other.json -o o/libsmall.so -q 2> other.err && bad "another CPU's records accepted" \
  || ok "another CPU's records refused"
"$B/modc" tune small.yaml --check other.json -o x.json 2> checko.err && bad "--check of another CPU's records accepted" \
  || ok "--check refuses another CPU's records"
expect_re "--check refusal names haswell" "haswell" checko.err
expect_re "refusal names haswell" "haswell" other.err
[ ! -e o/libsmall.so ] && ok "nothing written on refusal" || bad "a library was written"

# bad arguments
for args in "--budget-seconds 0" "--budget-seconds -3" "--budget-seconds x" "--shard 3/2" "--shard 0/2" "--shard 1" \
            "--threads 0"; do
  "$B/modc" tune small.yaml -o bad.json $args 2> bad.err && bad "accepted $args" || ok "refused $args"
  grep -q "modc: error:" bad.err || bad "no error message for $args"
done
"$B/modc" tune small.yaml 2> noout.err && bad "tune without -o" || ok "tune without -o refused"
"$B/modc" tune nothere.yaml -o x.json 2> nospec.err && bad "missing spec accepted" || ok "missing spec refused"
"$B/modc" tune small.yaml -o /nonexistent/dir/x.json 2> nodir.err && bad "unwritable -o accepted" || ok "unwritable -o refused at once"
"$B/modc" tune --merge -o x.json 2> m0.err && bad "merge of nothing" || ok "merge of nothing refused"
[ ! -e bad.json ] && [ ! -e x.json ] && ok "no records file left by a refused run" || bad "a refused run wrote records"
"$B/modc" tune --help | grep -q -- "--budget-seconds" && ok "tune --help" || bad "tune --help"

finish
