#!/bin/bash
# parallel_ceiling.sh: a library's N-thread forward against the most this machine gives N
# threads of the same work.  The ceiling is N one-thread forwards run at once, each its own
# process pinned to its own CPU: no shared work, no joins, no load imbalance, so what keeps
# them from N times one alone is the machine (a lower all-core clock, shared caches and
# memory, a vCPU that shares its core with another guest).  A forward's speed-up from 1 to N
# threads is bounded by it; issue 9's "forward >= 12x one thread" is read against it.
#
#   bench/parallel_ceiling.sh [-m MODC] [-n N] [-r REPEATS] LIB.so
#
# -m: the modc binary (default: build/modc beside this script's repository, else modc on
# PATH); -n: CPUs and threads (default: all online CPUs, at least 2); -r: timed forwards per
# run (default 3).  Weights are mapped, so the N processes share one set of pages; no
# calibration runs (only the times are used).  Prints
# key=value lines:
#   threads       N
#   alone_ms      the one-thread forward alone, the median of runs pinned to CPUs 0, N/2 and N-1
#   at_once_ms    the median of the N one-thread forwards run at once
#   at_once_max_ms  the slowest of them
#   ceiling       the sum over those N of alone_ms / their time: N one-thread forwards' speed-up
#   forward_ms    LIB's forward on N threads (median), run after them, alone
#   scaling       alone_ms / forward_ms
#   of_ceiling    scaling / ceiling
# Exit 2 with a message on bad arguments; 1 when a run fails (its output is shown).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
modc=$here/../build/modc n=$(nproc) reps=3
[ -x "$modc" ] || modc=$(command -v modc || true)
die() { echo "parallel_ceiling.sh: $*" >&2; exit 2; }
posint() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
while [ $# -gt 0 ]; do
  case $1 in
    -m) [ $# -ge 2 ] || die "-m needs a path"; modc=$2; shift 2 ;;
    -n) [ $# -ge 2 ] && posint "$2" || die "-n needs a positive integer"; n=$2; shift 2 ;;
    -r) [ $# -ge 2 ] && posint "$2" || die "-r needs a positive integer"; reps=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) [ -z "${lib:-}" ] || die "one library only ('$1')"; lib=$1; shift ;;
  esac
done
[ -n "${lib:-}" ] || die "no library given (see --help)"
[ -f "$lib" ] || die "no such library: $lib"
[ -n "$modc" ] && [ -x "$modc" ] || die "no modc binary (build it, or pass -m)"
command -v taskset > /dev/null || die "taskset (util-linux) is needed to pin the runs"
[ "$n" -ge 2 ] || die "-n $n: the ceiling needs at least 2 CPUs"
[ "$n" -le "$(nproc)" ] || die "-n $n: only $(nproc) CPUs are online"
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# fw KV_FILE THREADS [CPU]: one modc bench forward run; its median ms from --kv
fw() {
  local pin=()
  [ $# -ge 3 ] && pin=(taskset -c "$3")
  "${pin[@]}" "$modc" bench "$lib" --threads "$2" --repeats "$reps" --no-session --weights-load map -q \
    --peak-gflops 1 --dram-gbs 1 --kv "$1" \
    > "$1.out" 2>&1 || { echo "parallel_ceiling.sh: modc bench failed:" >&2; cat "$1.out" >&2; return 1; }
  sed -n 's/^forward\.ms=//p' "$1"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

alone=$(for c in 0 $((n / 2)) $((n - 1)); do fw "$tmp/alone$c.kv" 1 "$c" || exit 1; done | median) || exit 1
for c in $(seq 0 $((n - 1))); do fw "$tmp/once$c.kv" 1 "$c" > "$tmp/once$c.ms" & done
wait
for c in $(seq 0 $((n - 1))); do
  [ -s "$tmp/once$c.ms" ] || { echo "parallel_ceiling.sh: the run on CPU $c failed:" >&2; cat "$tmp/once$c.kv.out" >&2; exit 1; }
done
cat "$tmp"/once*.ms > "$tmp/once.all"
forward=$(fw "$tmp/fwd.kv" "$n") || exit 1
awk -v a="$alone" -v f="$forward" -v n="$n" '
  { t[NR] = $1; s += a / $1; if ($1 > mx) mx = $1 }
  END {
    m = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
    printf "threads=%d\nalone_ms=%.6g\nat_once_ms=%.6g\nat_once_max_ms=%.6g\nceiling=%.6g\n", n, a, m, mx, s
    printf "forward_ms=%.6g\nscaling=%.6g\nof_ceiling=%.6g\n", f, a / f, a / f / s
  }' <(sort -g "$tmp/once.all")
