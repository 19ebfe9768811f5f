# testlib.sh: what the command-line test scripts share (sourced, after they cd into their work
# folder).  ok NAME / bad NAME: a check passed / failed; expect NAME PATTERN FILE: FILE holds
# PATTERN, a fixed string (expect_re: a grep regular expression); refuse NAME PATTERN CMD...:
# CMD fails, with PATTERN on its stderr (out.txt, err.txt keep what it printed); finish: the
# totals, and the script's status.
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
expect() {
  if grep -qF -- "$2" "$3"; then ok "$1"; else bad "$1: '$2' not in:"; sed 's/^/    /' "$3"; fi
}
expect_re() {
  if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1: '$2' not in:"; sed 's/^/    /' "$3"; fi
}
refuse() {
  local name=$1 pat=$2
  shift 2
  if "$@" > out.txt 2> err.txt; then bad "$name: accepted"; else expect "$name" "$pat" err.txt; fi
}
finish() {
  echo "$passes passed, $fails failed"
  [ "$fails" = 0 ]
}
