#!/bin/bash
# test_tuning.sh: modc compile --tuning FILE end to end.  test_records --records-for makes
# records for this host from the model's own IR (a smaller register tile for its first matmul
# kernel, and a record for a kernel the model lacks); the compile must put that record on
# every node of the kernel, warn about the other, give identical libraries twice, and refuse
# records of another CPU, a file that is not JSON and a record that does not fit, writing
# nothing then.
# usage: test_tuning.sh MODC MODC_RANDWEIGHTS TEST_RECORDS WORK_DIR
set -u
M=$1 RW=$2 TR=$3 W=$4 here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W" && cp "$here/small.yaml" "$W/" && cd "$W" || exit 1
. "$here/testlib.sh"

"$RW" small.yaml --seed 3 > /dev/null || exit 1
"$M" compile small.yaml --emit ir -o plain.mir -q || exit 1
"$TR" --records-for plain.mir recs.json > rec.txt || exit 1
IFS=$'\t' read -r key nodes rec < rec.txt
echo "record for $key ($nodes nodes):$rec"
[ "$nodes" -gt 0 ] && ! grep -qF -- "$rec" plain.mir && ok "the record differs from the heuristic's" \
  || bad "the test record is no change: $(cat rec.txt)"

# the record is applied to every node of its key, in --emit ir too
"$M" compile small.yaml --tuning recs.json --emit ir -o tuned.mir -q 2> tuned.err && ok "compile --tuning --emit ir" \
  || bad "compile --tuning --emit ir: $(cat tuned.err)"
[ "$(grep -cF -- "$rec" tuned.mir)" = "$nodes" ] && ok "all $nodes nodes of $key took the record" \
  || bad "$(grep -cF -- "$rec" tuned.mir) nodes have the record, not $nodes"
expect "unused records are named" "modc: warning: recs.json: 1 record names no kernel of this model (ignored): k_matmul_n1_k1_f32_nr1" tuned.err
"$M-opt" tuned.mir > /dev/null 2>&1 && ok "tuned IR parses and verifies" || bad "tuned IR does not verify"

# libraries: the same records give the same bytes; the library runs
"$M" compile small.yaml --tuning recs.json -o t1/libsmall.so -q 2> /dev/null && ok "compile --tuning" || bad "compile --tuning"
"$M" compile small.yaml --tuning recs.json -o t2/libsmall.so -q 2> /dev/null
cmp -s t1/libsmall.so t2/libsmall.so && ok "the same records give identical libraries" || bad "tuned libraries differ"
"$M" compile small.yaml -o p/libsmall.so -q
cmp -s t1/libsmall.so p/libsmall.so && bad "the records changed nothing in the library" || ok "the records change the library"
"$M" run t1/libsmall.so --prompt "hi" --max-new 8 --temperature 0 > run.txt 2>&1 && [ "$(head -c 2 run.txt)" = hi ] \
  && ok "the tuned library runs" || bad "tuned run: $(cat run.txt)"

# records of another CPU: refused naming both, nothing written
sed 's/"cpu": "[^"]*"/"cpu": "pentium4"/' recs.json > p4.json
host=$(sed -n 's/.*"cpu": "\([^"]*\)".*/\1/p' recs.json)
"$M" compile small.yaml --tuning p4.json -o x/libsmall.so -q 2> p4.err && bad "records of another CPU accepted" \
  || ok "records of another CPU refused"
expect "the refusal names the records' CPU" "p4.json: tuning records were tuned on cpu 'pentium4'" p4.err
expect "the refusal names this CPU" "this compile targets '$host'" p4.err
[ ! -e x ] && ok "nothing written for records of another CPU" || bad "outputs left: $(ls -R x)"

# a file that is not JSON: located, nothing written
printf '{"modc_tuning": 1,\n  "cpu": oops}\n' > broken.json
"$M" compile small.yaml --tuning broken.json -o y/libsmall.so -q 2> broken.err && bad "broken file accepted" \
  || ok "broken file refused"
expect "the syntax error is located" "modc: error: broken.json:2:" broken.err
[ ! -e y ] && ok "nothing written for a broken file" || bad "outputs left: $(ls -R y)"
"$M" compile small.yaml --tuning missing.json --emit ir -o z.mir -q 2> missing.err && bad "missing file accepted" \
  || ok "missing file refused"
expect "a missing file is named" "missing.json: cannot read tuning records" missing.err
[ ! -e z.mir ] && ok "nothing written for a missing file" || bad "z.mir written"

# a record that does not fit its kernel: the error names the key, nothing written
"$TR" --records-for plain.mir misfit.json --misfit > /dev/null || exit 1
"$M" compile small.yaml --tuning misfit.json -o m/libsmall.so -q 2> misfit.err && bad "misfit record accepted" \
  || ok "misfit record refused"
expect "the misfit names the file and the key" "misfit.json: schedule: tuning record for $key does not fit its kernel" misfit.err
[ ! -e m/libsmall.so ] && [ ! -e m/small.weights ] && ok "nothing written for a misfit" || bad "outputs left: $(ls m)"

"$M" compile small.yaml --tuning 2> noarg.err && bad "--tuning without a file accepted" || ok "--tuning needs a value"
"$M" compile --help | grep -qF -- "--tuning FILE" && ok "compile --help shows --tuning" || bad "compile --help lacks --tuning"
"$M" --help | grep -q "tuning FILE" && bad "modc --help still calls --tuning unimplemented" || ok "modc --help"

finish
