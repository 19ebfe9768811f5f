#!/bin/bash
# test_parallel_ceiling.sh: bench/parallel_ceiling.sh on a small compiled model with 2 CPUs:
# every key once, positive times, the slowest at-once run no faster than their median, a
# ceiling above 0 and at most N x 1.5 (pinned one-thread runs cannot beat N alone by much),
# scaling and of_ceiling consistent with the times; and exit 2 with a message for each bad
# argument.  Timings are printed, never asserted.
#   test_parallel_ceiling.sh BUILD_DIR WORK_DIR
set -u
B=$(cd "$1" && pwd) W=$2 here=$(cd "$(dirname "$0")" && pwd)
script=$here/../../bench/parallel_ceiling.sh
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
cp "$here/../cli/small.yaml" . && "$B/modc-randweights" small.yaml --seed 3 > /dev/null && "$B/modc" compile small.yaml -o lib/libsmall.so -q \
  || { echo "FAIL: could not build the test library"; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
  echo "NOT RUN: parallel_ceiling.sh needs 2 CPUs, this machine has $(nproc)"
else
  out=$(bash "$script" -m "$B/modc" -n 2 -r 2 lib/libsmall.so) || bad "exit $?"
  echo "$out"
  for k in threads alone_ms at_once_ms at_once_max_ms ceiling forward_ms scaling of_ceiling; do
    [ "$(echo "$out" | grep -c "^$k=")" -eq 1 ] || bad "key $k not printed once"
  done
  echo "$out" | awk -F= '{ v[$1] = $2 } END {
    if (v["threads"] != 2) { print "threads is not 2"; bad = 1 }
    if (!(v["alone_ms"] > 0 && v["at_once_ms"] > 0 && v["forward_ms"] > 0)) { print "a time is not positive"; bad = 1 }
    if (v["at_once_max_ms"] < v["at_once_ms"]) { print "the slowest at-once run is faster than the median"; bad = 1 }
    if (!(v["ceiling"] > 0 && v["ceiling"] <= 3)) { print "ceiling " v["ceiling"] " outside (0, 3]"; bad = 1 }
    s = v["alone_ms"] / v["forward_ms"]
    if (s / v["scaling"] < 0.99 || s / v["scaling"] > 1.01) { print "scaling is not alone_ms / forward_ms"; bad = 1 }
    r = v["scaling"] / v["ceiling"]
    if (r / v["of_ceiling"] < 0.99 || r / v["of_ceiling"] > 1.01) { print "of_ceiling is not scaling / ceiling"; bad = 1 }
    exit bad }' && ok "figures consistent" || bad "figures"
fi
for args in "" "-n 0 lib/libsmall.so" "-n 1 lib/libsmall.so" "-n $(($(nproc) + 1)) lib/libsmall.so" "-r x lib/libsmall.so" \
            "--bogus lib/libsmall.so" "nosuch.so" "lib/libsmall.so lib/libsmall.so" "-m /nonexistent lib/libsmall.so"; do
  err=$(bash "$script" $args 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] && echo "$err" | grep -q "^parallel_ceiling.sh: " && ok "'$args' refused: $err" || bad "'$args': exit $rc, '$err'"
done
bash "$script" --help | grep -q "parallel_ceiling.sh \[-m MODC\]" && ok "--help" || bad "--help"
[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
