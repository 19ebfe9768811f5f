#!/bin/bash
# test_fma_pairs.sh: bench/fma_pairs.c (the independent FMA-rate probe) on this machine, short
# runs: a positive one-thread rate, one pair line for each other CPU, a total for 2..N threads
# whose per-thread rates are positive, and exit 2 with a message for each bad option.
#   test_fma_pairs.sh FMA_PAIRS
set -u
bin=$1 fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
n=$(nproc)
out=$("$bin" --ms 20) || bad "fma_pairs --ms 20 exited $?"
echo "$out"
alone=$(echo "$out" | sed -n 's/.*alone_gflops=\([0-9.]*\).*/\1/p')
awk -v a="${alone:-0}" 'BEGIN { exit !(a > 0) }' && ok "one-thread rate $alone GFLOP/s" || bad "no positive alone_gflops"
echo "$out" | head -1 | grep -q "cpus=$n " && ok "uses the $n online CPUs" || bad "cpus= is not $n"
pairs=$(echo "$out" | grep -c '^pair=0,')
[ "$pairs" -eq $((n - 1)) ] && ok "$pairs pair lines" || bad "$pairs pair lines for $n CPUs"
if [ "$n" -ge 2 ]; then
  echo "$out" | grep "^threads=$n " | awk '{ split($0, w, /[ =]/); for (i = 1; i < length(w); i += 2) v[w[i]] = w[i + 1] }
    END { exit !(NR == 1 && v["total_gflops"] > 0 && v["per_thread_min"] > 0 && v["scaling"] > 0) }' \
    && ok "all-CPU line" || bad "no all-CPU line with positive rates"
fi
one=$("$bin" --ms 10 --cpus 1) || bad "--cpus 1 exited $?"
[ "$(echo "$one" | wc -l)" -eq 1 ] && ok "--cpus 1: the alone line only" || bad "--cpus 1 printed: $one"
for args in "--ms 0" "--ms x" "--cpus 0" "--cpus $((n + 1))" "--bogus" "--ms"; do
  err=$("$bin" $args 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] && [ -n "$err" ] && ok "'$args' refused: $err" || bad "'$args': exit $rc, '$err'"
done
"$bin" --help 2>&1 | grep -q "usage: fma_pairs" && ok "--help" || bad "--help"
[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
