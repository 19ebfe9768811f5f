#!/bin/bash
# test_tune_routing.sh: modc tune --routing end to end on tests/cli/small.yaml (random
# weights, one routed layer), in session mode (thresholds) and forward mode (capacities),
# with a dense twin.  Checks: every level measured (>= 8 configurations), the CSV's
# frontier and choice agree with its own numbers, the PNG decodes, the tuned spec compiles
# and `modc eval` of it gives the chosen row's NLL; each layer's ladder (the progress line)
# is ordered, holds the spec's own setting and, in session mode, fine rungs around it that
# take fewer tokens below it and more above; then bad input: clear errors, and nothing written but the frontier when no
# configuration meets the budget.
# usage: test_tune_routing.sh MODC MODC_RANDWEIGHTS WORK_DIR
set -u
M=$1 RW=$2 W=$3 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cp "$here/small.yaml" "$W/" && cd "$W" || exit 1
. "$here/testlib.sh"
refuse_tune() { local n=$1 p=$2; shift 2; refuse "$n" "$p" "$M" tune "$@"; }

"$RW" small.yaml --seed 5 > /dev/null || exit 1
sed -e 's/^name: small/name: twin/' -e 's/^weights: small/weights: twin/' -e 's/^  layers: every_other/  layers: none/' small.yaml > twin.yaml
"$RW" twin.yaml --seed 6 > /dev/null || exit 1
head -c 300 "$here/test_eval.sh" > cal.txt

# the CSV against itself: >= MIN rows, levels, frontier = Pareto set, every ms one reference
# ms times the row's paired ratio (vs_spec); the search's path: from
# the spec as given (within budget) or a row that beat it by its margin, each step below the
# one before by more than its margin; one chosen row = the path's best NLL confirmed within budget
# (else, when no row of the path stays within it, the best row confirmed within it)
check_csv() { # check_csv DIR MODE MIN
  python3 - "$1/frontier.csv" "$2" "$3" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
mode, least = sys.argv[2], int(sys.argv[3])
col = "capacity_1" if mode == "forward" else "threshold_1"
mine = [r for r in rows if r["kind"] != "twin"]
assert len(mine) >= least, f"{len(mine)} configurations, want >= {least}"
assert sum(r["kind"] == "twin" for r in rows) == 1, "no twin row"
levels = {r["levels"] for r in mine}
assert {"1/16", "1/8", "1/4", "3/8", "1/2", "3/4", "all", "dense"} <= levels, levels
for r in rows:
    float(r["nll"]), float(r["ms"])
    if r["levels"] == "dense": assert r[col] == "dense" and r["take_1"] == "1"
if mode == "forward":
    caps = {r["levels"]: r[col] for r in mine}
    assert caps["1/16"] == "0.0625" and caps["all"] == "1", caps
budget = float(sys.argv[4]) if len(sys.argv) > 4 else None
ok = [r for r in mine if r["within_budget"] == "1"]
path = sorted((r for r in mine if r["step"] != "0"), key=lambda r: int(r["step"]))
assert [int(r["step"]) for r in path] == list(range(1, len(path) + 1)), path
spec = [r for r in mine if r["kind"] == "spec"][0]
# every row's ms is its ratio to the spec (vs_spec) times one reference ms (session: paired)
assert spec["runs"] == "2" or float(spec["vs_spec"]) == 1.0, spec
ref = float(spec["ms"]) / float(spec["vs_spec"])
for r in rows:
    v = float(r["vs_spec"])
    assert v > 0 and abs(float(r["ms"]) / v - ref) <= 1e-4 * ref, (r, ref)
if path[0] is not spec and spec["within_budget"] == "1":
    assert float(path[0]["nll"]) < float(spec["nll"]) - float(path[0]["margin"]), (path[0], spec)
for a, b in zip(path, path[1:]):
    assert float(b["margin"]) > 0 and float(b["nll"]) < float(a["nll"]) - float(b["margin"]), (a, b)
chosen = [r for r in rows if r["chosen"] == "1"]
confirmed = [r for r in ok if r["runs"] == "2"]
pool = [r for r in confirmed if r in path] or confirmed  # the path first, else any row within the budget
assert len(chosen) == 1 and chosen[0] in pool, chosen
assert float(chosen[0]["nll"]) == min(float(r["nll"]) for r in pool)
for r in mine:
    x, y = float(r["ms"]), float(r["nll"])
    dom = any(float(o["ms"]) <= x and float(o["nll"]) <= y and (float(o["ms"]) < x or float(o["nll"]) < y) for o in mine if o is not r)
    assert (r["on_frontier"] == "1") == (not dom), r
print(chosen[0]["nll"])
PY
}
png_ok() { # the PNG's IHDR and IDAT decode to 760 x 500 RGB rows
  python3 - "$1" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n"
w, h = struct.unpack(">II", b[16:24])
i, data = 8, b""
while i < len(b):
    n, = struct.unpack(">I", b[i:i + 4]); t = b[i + 4:i + 8]
    assert zlib.crc32(b[i + 4:i + 8 + n]) == struct.unpack(">I", b[i + 8 + n:i + 12 + n])[0], t
    if t == b"IDAT": data += b[i + 8:i + 8 + n]
    i += 12 + n
raw = zlib.decompress(data)
assert len(raw) == h * (1 + 3 * w) and (w, h) == (760, 500) and len(set(raw)) > 3
PY
}

# --budget-seconds 300: the search ends on its own in well under a minute here, but under
# ASan beside another test of ctest -j2 a 100-second budget cut it before the last level
for mode in session forward; do
  "$M" tune small.yaml --routing --calib cal.txt --bytes --budget-ms 1000 --mode $mode --twin twin.yaml \
      --budget-seconds 300 -o $mode > $mode.out 2> $mode.err && ok "$mode: tune --routing" \
      || { bad "$mode: tune --routing: $(cat $mode.err)"; continue; }
  least=9
  [ $mode = forward ] && least=8 # the spec's capacity 0.25 is the level 1/4: measured once
  nll=$(check_csv $mode $mode $least) && ok "$mode: the CSV's frontier and choice follow its numbers" || bad "$mode: CSV: $nll"
  png_ok $mode/frontier.png && ok "$mode: frontier.png decodes" || bad "$mode: frontier.png"
  [ ! -e $mode/work ] && ok "$mode: the work folder is gone" || bad "$mode: work folder left: $(ls -R $mode/work)"
  expect "$mode: the summary names the tuned spec" "$mode/small.tuned.yaml" $mode.out
  "$M" compile $mode/small.tuned.yaml -o $mode/lib/libsmall.so -q 2> c.err && ok "$mode: the tuned spec compiles" \
    || bad "$mode: tuned spec: $(cat c.err)"
  args="--mode forward"
  [ $mode = session ] && args="--mode session --window 16"
  got=$("$M" eval $mode/lib/libsmall.so --bytes cal.txt $args --json -q | python3 -c "import json,sys; print(json.load(sys.stdin)['nll'])")
  python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); sys.exit(abs(a-b) > 1e-6*abs(b))" "$got" "$nll" \
    && ok "$mode: modc eval of the tuned spec gives the chosen NLL ($nll)" || bad "$mode: eval $got, chosen $nll"
done
grep -q "dense: true" session/small.tuned.yaml || grep -q "threshold:" session/small.tuned.yaml \
  && ok "the session tuned spec sets a threshold or dense" || bad "tuned spec: $(cat session/small.tuned.yaml)"

# the ladders, from the progress line "layer 1 thresholds: 1/16 0.13, ..., dense", against
# the CSV: ordered from the fewest tokens to the most, the spec's own setting as "given"
# (its row's levels), fine rungs around it in session mode whose measured take rates rise
# with the rung, each row's setting its rung's
ladder_ok() { # ladder_ok DIR ERRFILE MODE GIVEN
  python3 - "$1/frontier.csv" "$2" "$3" "$4" <<'PY'
import csv, re, sys
path, err, mode, given = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
line = [l for l in open(err) if re.search(r"layer 1 (thresholds|capacities): ", l)]
assert len(line) == 1, line
rungs = [x.rsplit(" ", 1) for x in line[0].split(": ", 1)[1].strip().split(", ")]
assert rungs[-1] == ["dense"], rungs[-1]
rungs = {n: float(v) for n, v in rungs[:-1]}
vals = list(rungs.values())
down = mode == "session"   # thresholds descend from the fewest tokens to the most; capacities ascend
assert all((a > b) if down else (a < b) for a, b in zip(vals, vals[1:])), rungs
assert rungs["given"] == given, rungs
for n in ("1/16", "1/8", "1/4", "3/8", "1/2", "3/4", "all"): assert n in rungs, (n, rungs)
fine = sorted(n for n in rungs if n.startswith("given") and n != "given")
if mode == "session":
    assert fine == ["given+1", "given+2", "given+3", "given-1", "given-2", "given-3"], fine
    names = ["given-3", "given-2", "given-1", "given", "given+1", "given+2", "given+3"]
    assert all(rungs[a] > rungs[b] for a, b in zip(names, names[1:])), rungs
else:
    assert fine == [], fine
col = "threshold_1" if mode == "session" else "capacity_1"
rows = [r for r in csv.DictReader(open(path)) if r["kind"] != "twin"]
spec = [r for r in rows if r["kind"] == "spec"]
assert len(spec) == 1 and spec[0]["levels"] == "given", spec
for r in rows:
    if r["levels"] != "dense": assert abs(float(r[col]) - rungs[r["levels"]]) <= 1e-5 * max(1, abs(rungs[r["levels"]])), r
if mode == "session":   # the fine rungs measured move tokens: fewer below "given", more above
    take = {r["levels"]: float(r["take_1"]) for r in rows}
    for a, b in zip(names, names[1:]):
        if a in take and b in take: assert take[a] < take[b], (a, b, take)
PY
}
"$M" tune small.yaml --routing --calib cal.txt --bytes --budget-ms 1000 -D routing.threshold=0.003 \
    --budget-seconds 300 -o lsess -v > /dev/null 2> lsess.err && ladder_ok lsess lsess.err session 0.003 \
  && ok "session: the ladder is ordered, holds the spec's threshold and fine rungs around it" \
  || bad "session ladder: $(grep 'layer 1' lsess.err)"
"$M" tune small.yaml --routing --calib cal.txt --bytes --budget-ms 1000 --mode forward -D routing.capacity=0.3 \
    --budget-seconds 300 -o lfwd -v > /dev/null 2> lfwd.err && ladder_ok lfwd lfwd.err forward 0.3 \
  && ok "forward: the ladder holds the spec's capacity between the levels" \
  || bad "forward ladder: $(grep 'layer 1' lfwd.err)"

# the margins, independently (session mode, 18 windows of 16): every row's NLL of each window
# alone (modc eval of that window's bytes), the paired standard error against the spec as
# given, and from it which rows gain on the spec (more than 2 standard errors): the search
# must start from the best of those, else from the spec, with the same margin
head -c 288 cal.txt > cal18.txt
"$M" tune small.yaml --routing --calib cal18.txt --bytes --budget-ms 1000 --budget-seconds 300 -o mg -q > /dev/null 2> mg.err \
  || bad "margins: tune --routing: $(cat mg.err)"
python3 - "$M" <<'PY' && ok "the search starts where an independent paired standard error says it should" || bad "margins"
import csv, json, math, subprocess, sys
M = sys.argv[1]
rows = [r for r in csv.DictReader(open("mg/frontier.csv")) if r["kind"] != "twin" and r["within_budget"] == "1"]
cal = open("cal18.txt", "rb").read()
wins = [cal[i:i + 16] for i in range(0, 288, 16)]
def per_window(r, k):
    t = r["threshold_1"]
    d = "routing.per_layer.1.dense=true" if t == "dense" else f"routing.threshold={t}"
    subprocess.run([M, "compile", "small.yaml", "-D", d, "-o", f"mg/x{k}/libsmall.so", "-q"], check=True)
    out = []
    for i, w in enumerate(wins):
        open("mg/w.bin", "wb").write(w)
        j = json.loads(subprocess.run([M, "eval", f"mg/x{k}/libsmall.so", "--bytes", "mg/w.bin", "--mode", "session",
                                       "--window", "16", "--json", "-q"], check=True, capture_output=True).stdout)
        out.append(j["nll"] * j["tokens"])
    return out
spec = [r for r in rows if r["kind"] == "spec"][0]
sw = per_window(spec, 0)
assert abs(sum(sw) / 270 - float(spec["nll"])) < 1e-6, (sum(sw) / 270, spec["nll"])
gains = []
for k, r in enumerate(rows, 1):
    if r is spec or float(r["nll"]) >= float(spec["nll"]):
        continue
    d = [a - b for a, b in zip(per_window(r, k), sw)]
    m = sum(d) / len(d)
    se = math.sqrt(len(d) * sum((x - m) ** 2 for x in d) / (len(d) - 1)) / 270
    if float(r["nll"]) < float(spec["nll"]) - 2 * se:
        gains.append((float(r["nll"]), r, 2 * se))
start = [r for r in rows if r["step"] == "1"][0]
if gains:
    nll, best, margin = min(gains, key=lambda g: g[0])
    assert start["id"] == best["id"], (start, best)
    assert abs(float(start["margin"]) - margin) <= 1e-5 * margin, (start["margin"], margin)
else:
    assert start is spec, start
print(len(gains), "rows gain on the spec;", "start", start["levels"])
PY

# --speedup: the budget is the twin's paired ms over it, so every row's within_budget follows
# the twin's row in the CSV itself
"$M" tune small.yaml --routing --calib cal.txt --bytes --twin twin.yaml --speedup 0.5 --budget-seconds 20 \
    -o sp -v > sp.out 2> sp.err && ok "tune --routing --speedup" || bad "--speedup: $(tail -3 sp.err)"
expect "--speedup names the budget from the twin" "the twin's step over 0.5" sp.err
python3 - sp/frontier.csv <<'PY' && ok "--speedup: within_budget is ms <= the twin's ms / 0.5, row by row" || bad "--speedup CSV: $(cut -d, -f1-8 sp/frontier.csv)"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
budget = [float(r["ms"]) for r in rows if r["kind"] == "twin"][0] / 0.5
for r in rows:
    if r["kind"] != "twin" and abs(float(r["ms"]) - budget) > 1e-4 * budget:
        assert (r["within_budget"] == "1") == (float(r["ms"]) <= budget), (r, budget)
assert sum(r["chosen"] == "1" for r in rows) == 1, rows
PY

# a budget no configuration meets: said so, the frontier written, no tuned spec (300 seconds,
# not 30: under ASan on a slow 2-core VM 30 seconds ended the search before its fourth row)
refuse_tune "an impossible budget is named" "no configuration meets --budget-ms 1e-09" small.yaml --routing --calib cal.txt \
  --bytes --budget-ms 1e-9 --budget-seconds 300 -o none -v
[ -s none/frontier.csv ] && [ -s none/frontier.png ] && ok "the frontier is written anyway" || bad "no frontier for an impossible budget"
[ ! -e none/small.tuned.yaml ] && ok "no tuned spec for an impossible budget" || bad "a tuned spec was written"
# the uniform levels stop at the first over the budget: here the lowest; then, the spec
# being over the budget too, the even cuts given-1, given-2, given-3 (each over it), each
# taking fewer tokens than the one before
n=$(grep -c "^[0-9]*,search," none/frontier.csv)
[ "$n" = 4 ] && expect "the levels above an over-budget one are skipped, and said so" "the levels above it are not measured" err.txt \
  || bad "$n search rows for a budget the lowest level misses (want 4)"
python3 - none/frontier.csv <<'PY' && ok "an over-budget spec is cut evenly first: given-1 .. given-3, fewer tokens each, then 1/16" || bad "even cuts: $(cut -d, -f1-3 none/frontier.csv)"
import csv, sys
got = [r for r in csv.DictReader(open(sys.argv[1])) if r["kind"] != "twin"]
rows = {r["levels"]: float(r["take_1"]) for r in got}
assert sorted(rows) == ["1/16", "given", "given-1", "given-2", "given-3"], rows
assert rows["given-3"] < rows["given-2"] < rows["given-1"] < rows["given"], rows
ids = {r["levels"]: int(r["id"]) for r in got}
assert ids["given"] < ids["given-1"] < ids["given-2"] < ids["given-3"] < ids["1/16"], ids
PY

# an interrupted run removes its work folder and its compile child
"$M" tune small.yaml --routing --calib cal.txt --bytes --budget-ms 1 -o intr -q 2> /dev/null &
pid=$!
sleep 3; kill -TERM $pid 2> /dev/null; wait $pid; st=$?
[ "$st" = 143 ] && ok "SIGTERM ends tune --routing (status $st)" || bad "interrupted tune --routing exited $st"
[ -d intr ] && [ ! -e intr/work ] && ok "the interrupted run left no work folder" || bad "left: $(ls -R intr 2>&1)"
pgrep -f "compile intr/work" > /dev/null && bad "a compile child outlived the interrupt" || ok "no compile child left"

# bad input
: > empty.txt
printf '1 2\n3 999\n' > big.ids
head -c 10 cal.txt > short.txt
refuse_tune "a spec without routed layers" "twin.yaml: the spec has no routed layers" twin.yaml --routing --calib cal.txt --bytes --budget-ms 1 -o x1
refuse_tune "an empty calibration file" "the calibration file 'empty.txt' holds no tokens" small.yaml --routing --calib empty.txt --bytes --budget-ms 1 -o x2
refuse_tune "a calibration shorter than one window" "holds 10 tokens, fewer than one window of 16" small.yaml --routing --calib short.txt --bytes --budget-ms 1 -o x3
refuse_tune "ids beyond the vocabulary" "big.ids:2: token id 999 is out of range (vocab_size 256)" small.yaml --routing --calib big.ids --budget-ms 1 -o x4
refuse_tune "a budget that is not a finite number" "--budget-ms must be a finite number > 0, got 'nan'" small.yaml --routing --calib cal.txt --budget-ms nan -o x5
refuse_tune "no budget" "give the latency budget: --budget-ms MS" small.yaml --routing --calib cal.txt -o x6
refuse_tune "--speedup without a twin" "--speedup is over the twin's step: give --twin SPEC.yaml" small.yaml --routing --calib cal.txt --speedup 1.3 -o x10
refuse_tune "--speedup beside --budget-ms" "give --budget-ms or --speedup, not both" small.yaml --routing --calib cal.txt --twin twin.yaml --speedup 1.3 --budget-ms 1 -o x11
refuse_tune "a speedup of 0" "--speedup must be a finite number > 0, got '0'" small.yaml --routing --calib cal.txt --twin twin.yaml --speedup 0 -o x12
refuse_tune "no calibration file" "give the calibration text: --calib FILE" small.yaml --routing --budget-ms 1 -o x7
refuse_tune "an unknown mode" "--mode must be session or forward, got 'both'" small.yaml --routing --calib cal.txt --budget-ms 1 --mode both -o x8
refuse_tune "a bad -D key, named" "<command line>: error: -D routing.capcity=1: unknown key" small.yaml --routing --calib cal.txt --bytes --budget-ms 1 -o x9 -D routing.capcity=1
refuse_tune "forward mode on a spec whose modc_forward routes by threshold" "routing.forward is threshold, so modc_forward routes by the thresholds that --mode session tunes" small.yaml --routing --calib cal.txt --bytes --budget-ms 1 --mode forward -o x13 -D routing.forward=threshold
for d in x1 x2 x3 x4 x5 x6 x7 x8 x9 x13; do [ -e $d ] && bad "$d written for bad input"; done
"$M" tune --routing --help > help.txt && expect "--help names the outputs" "frontier.csv" help.txt || bad "tune --routing --help"

finish
