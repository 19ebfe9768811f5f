#!/bin/bash
# test_install.sh: cmake --install end to end.  Installs the build into a prefix, moves the
# prefix (an installed modc must find its runtime beside itself, not in the build tree),
# compiles and runs a model with the installed tools, builds examples/generate.c and a
# program linked against the model through the NAME.pc that modc compile writes, and runs
# both from another folder (rpath, weights found beside the library); the installed Python
# package compiles (with the prefix's modc) and loads a model.
# usage: test_install.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -u
B=$1 S=$2 W=$3
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
W=$(pwd)
. "$S/tests/cli/testlib.sh"
unset MODC_RUNTIME_LIB MODC_RUNTIME_DIR

cmake --install "$B" --prefix "$W/p1" > install.log 2>&1 && ok "cmake --install" || { bad "cmake --install: $(cat install.log)"; exit 1; }
mv p1 p2
M=$W/p2/bin/modc
for f in bin/modc bin/modc-opt bin/modc-randweights lib/modc/libmodc_rt.a include/modc/modc.h share/doc/modc/README.md; do
  [ -f "p2/$f" ] || bad "not installed: $f"
done
"$M" --version > version.txt
grep -q "^modc [0-9.]* (LLVM 19\." version.txt && ok "--version names the LLVM inside" || bad "--version: $(cat version.txt)"
grep -qF "runtime archive: $W/p2/bin/../lib/modc/libmodc_rt.a" version.txt && grep -qF "ABI header: $W/p2/bin/../include/modc/modc.h" version.txt \
  && ok "the moved prefix's runtime is the one used" || bad "runtime paths: $(cat version.txt)"
MODC_RUNTIME_LIB=/nonexistent/libmodc_rt.a "$M" --version | grep -qF "runtime archive: /nonexistent/libmodc_rt.a" \
  && ok "\$MODC_RUNTIME_LIB still wins" || bad "MODC_RUNTIME_LIB ignored"

cp "$S/tests/cli/small.yaml" .
"$W/p2/bin/modc-randweights" small.yaml --seed 2 > /dev/null || bad "installed modc-randweights"
"$M" compile small.yaml -o "$W/out/libsmall.so" -q 2> compile.err && ok "the installed modc compiles" || bad "compile: $(cat compile.err)"
for f in libsmall.so small.h small.weights small.pc modc.h; do [ -f "out/$f" ] || bad "compile wrote no $f"; done
cmp -s out/modc.h "$W/p2/include/modc/modc.h" && ok "modc.h beside the library is the ABI header" || bad "out/modc.h differs"

export PKG_CONFIG_PATH=$W/out
pkg-config --exists small && ok "pkg-config finds small.pc" || bad "pkg-config: $(pkg-config --cflags --libs small 2>&1)"
CF=${MODC_TEST_CFLAGS:-}   # a sanitizer build's libraries need its runtime in the program
cc -O1 $CF "$S/examples/generate.c" $(pkg-config --cflags --libs small) -ldl -lm -o gen 2> cc1.err \
  && ok "examples/generate.c builds through pkg-config" || bad "generate.c: $(cat cc1.err)"
cat > linked.c <<'C'
/* a program linked against the model (no dlopen): the header's constants and the ABI agree */
#include <stdio.h>
#include "small.h"
int main(void) {
  modc_model *m;
  float logits[SMALL_VOCAB_SIZE];
  int32_t tok[3] = {104, 105, 33};
  modc_session *s;
  if (modc_open(NULL, 1, &m)) return printf("open: %s\n", modc_last_error()), 1;
  if (modc_get_info(m)->vocab_size != SMALL_VOCAB_SIZE) return printf("vocab differs\n"), 1;
  if (modc_session_open(m, &s) || modc_prefill(s, tok, 3, logits)) return printf("prefill: %s\n", modc_last_error()), 1;
  printf("ok %d %g\n", modc_get_info(m)->n_layers, logits[0]);
  modc_session_close(s);
  modc_close(m);
  return 0;
}
C
cc -O1 $CF linked.c $(pkg-config --cflags --libs small) -o linked 2> cc2.err && ok "a program links against the model through pkg-config" \
  || bad "linked.c: $(cat cc2.err)"
mkdir -p elsewhere && cd elsewhere
../linked > linked.out 2>&1 && grep -q "^ok 3 " linked.out && ok "it runs from another folder (rpath; weights beside the library)" \
  || bad "linked run: $(cat linked.out)"
../gen "$W/out/libsmall.so" --prompt hi --max-new 4 --temperature 0 > gen.out 2>&1 && ok "generate runs the model" || bad "generate: $(cat gen.out)"
cd "$W"
"$W/p2/bin/modc" run out/libsmall.so --prompt hi --max-new 4 --temperature 0 > run.out 2>&1 && cmp -s run.out elsewhere/gen.out \
  && ok "modc run and generate.c print the same greedy text" || bad "run: $(cat run.out) vs $(cat elsewhere/gen.out)"

# the Python package from the prefix: it finds the prefix's modc and loads what that compiled
PY=
for p in python3 /usr/bin/python3; do $p -c 'import numpy' 2>/dev/null && PY=$p && break; done
[ -n "$PY" ] || bad "no python3 with numpy (scripts/setup.sh installs python3-numpy)"
pre=${MODC_TEST_PRELOAD:+LD_PRELOAD=$MODC_TEST_PRELOAD}
env $pre PYTHONPATH=$W/p2/lib/modc/python ${PY:-python3} - "$W" > py.out 2>&1 <<'PY' && ok "the installed Python package compiles and loads a model" || bad "python: $(cat py.out)"
import os, sys, modc
w = sys.argv[1]
assert modc.find_modc() == os.path.join(w, "p2", "bin", "modc"), modc.find_modc()
lib = modc.compile(os.path.join(w, "small.yaml"), os.path.join(w, "py", "libsmall.so"), shapes=[(1, 8)])
with modc.load(lib) as m:
    assert m.forward([[1, 2, 3, 4, 5, 6, 7, 8]]).shape == (1, 8, 256)
PY

# pip installs the package from a copy of python/ (Debian's pip and setuptools, nothing
# downloaded); the installed copy loads the model
cp -r "$S/python" pysrc
env $pre ${PY:-python3} -m pip install --no-build-isolation --no-deps --no-index --target "$W/site" ./pysrc > pip.log 2>&1 \
  && ok "pip installs the Python package" || bad "pip install: $(tail -5 pip.log)"
env $pre PYTHONPATH=$W/site ${PY:-python3} -c "import modc, sys; m = modc.load(sys.argv[1]); print(m.info.name)" "$W/out/libsmall.so" \
  > pip.out 2>&1 && grep -qx small pip.out && ok "the pip-installed package loads a model" || bad "pip-installed: $(cat pip.out)"

finish
