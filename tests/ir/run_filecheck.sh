#!/usr/bin/env bash
# run_filecheck.sh: a tiny lit.  Runs the "// RUN:" lines of one test file.
#
#   run_filecheck.sh MODC_OPT FILECHECK TEST_FILE
#
# Each RUN line is one shell command run with bash -o pipefail, after these substitutions:
# %s the test file, %S its folder, %t a scratch path of this test (the same on every RUN
# line, like lit's), %% a literal %.
# The commands see modc-opt and FileCheck as shell functions calling the given binaries, and
# `not CMD...`, which succeeds only when CMD fails with an exit status in 1..127 (a crash,
# i.e. death by a signal, still fails, as with LLVM's not).  A RUN line ending in "\"
# continues on the next RUN line.  The test passes when every RUN line succeeds.
set -u
if [ $# -ne 3 ]; then
  echo "usage: run_filecheck.sh MODC_OPT FILECHECK TEST_FILE" >&2
  exit 2
fi
modc_opt=$1 filecheck=$2 test=$3
[ -f "$test" ] || { echo "run_filecheck.sh: no file $test" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/modc-lit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

prelude="modc-opt() { \"$modc_opt\" \"\$@\"; }
FileCheck() { \"$filecheck\" \"\$@\"; }
not() { \"\$@\"; local rc=\$?; [ \$rc -ne 0 ] && [ \$rc -lt 128 ]; }"

# The RUN commands, continuation lines joined.
cmds=()
cur=""
while IFS= read -r line; do
  case "$line" in
    *"// RUN:"*) ;;
    *) continue ;;
  esac
  part=${line#*// RUN:}
  if [[ "$part" =~ \\[[:space:]]*$ ]]; then
    cur+="${part%\\*} "
    continue
  fi
  cmds+=("$cur$part")
  cur=""
done < "$test"
[ -n "$cur" ] && cmds+=("$cur")
if [ ${#cmds[@]} -eq 0 ]; then
  echo "run_filecheck.sh: $test has no RUN lines" >&2
  exit 2
fi

n=0
for cmd in "${cmds[@]}"; do
  n=$((n + 1))
  cmd=${cmd//%%/$'\x01'}
  cmd=${cmd//%s/$test}
  cmd=${cmd//%S/$(dirname "$test")}
  cmd=${cmd//%t/$tmp/t}
  cmd=${cmd//$'\x01'/%}
  echo "RUN: $cmd"
  if ! bash -o pipefail -c "$prelude
$cmd"; then
    echo "run_filecheck.sh: $test: RUN line $n failed" >&2
    exit 1
  fi
done
exit 0
