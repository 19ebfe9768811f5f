#!/bin/bash
# test_read_bw.sh: bench/read_bw.c (the independent read-bandwidth probe) on small buffers: one
# line whose threads and buffer are the ones asked for (the buffer split into whole 512-byte
# slices), a positive best pass no slower than the median, the default thread count = the
# online CPUs, and exit 2 with a message for each bad option.
#   test_read_bw.sh READ_BW
set -u
bin=$1 fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails + 1)); }
n=$(nproc)
check() {   # check THREADS MIB OUTPUT
  echo "$3"
  [ "$(echo "$3" | wc -l)" -eq 1 ] || { bad "$1 threads: not one line"; return; }
  echo "$3" | awk -v t="$1" -v m="$2" '{ split($0, w, /[ =]/); for (i = 1; i < length(w); i += 2) v[w[i]] = w[i + 1] }
    END { exit !(v["threads"] == t && v["buffer_mib"] > m - 1 && v["buffer_mib"] <= m && v["best_gbs"] > 0 &&
                 v["median_gbs"] > 0 && v["median_gbs"] <= v["best_gbs"]) }' \
    && ok "$1 threads, $2 MiB: positive, median <= best" || bad "$1 threads, $2 MiB: $3"
}
out=$("$bin" --threads 1 --mib 64 --passes 3) || bad "--threads 1 exited $?"
check 1 64 "$out"
out=$("$bin" --mib 96 --passes 3) || bad "default threads exited $?"
check "$n" 96 "$out"
for args in "--threads 0" "--threads $((n + 1))" "--mib 0" "--mib -5" "--passes 0" "--passes 1001" "--passes 2x" \
            "--bogus" "--mib"; do
  err=$("$bin" $args 2>&1 >/dev/null); rc=$?
  [ "$rc" -eq 2 ] && [ -n "$err" ] && ok "'$args' refused: $err" || bad "'$args': exit $rc, '$err'"
done
"$bin" --help 2>&1 | grep -q "usage: read_bw" && ok "--help" || bad "--help"
[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
