#!/bin/bash
# llama_peer.sh: builds llama.cpp's llama-bench (and bench/llama_logits.c against its
# library) under WORK_DIR, for bench/run.sh's llama.cpp peer.  Nothing of llama.cpp enters
# this repository: its release source comes from the npm package node-llama-cpp, which ships
# it as a git bundle (package/llama/gitRelease.bundle), so the only registry needed is npm's.
#
# usage: bench/llama_peer.sh WORK_DIR
#   WORK_DIR/node-llama-cpp-V.tgz    the npm package (npm pack), kept
#   WORK_DIR/src                     the llama.cpp release cloned from the bundle
#   WORK_DIR/build/bin/llama-bench   CPU only, GGML_NATIVE=ON, OpenMP, no HTTPS/CURL
#   WORK_DIR/build/bin/llama-logits  bench/llama_logits.c: logits of given token ids
# On success prints the bin folder on stdout; on failure one line on stderr saying why, and
# exits 1.  A second run finds WORK_DIR/build/.done (the version it built) and is instant;
# delete WORK_DIR/build to rebuild.
# environment: NODE_LLAMA_CPP_VERSION (default: the registry's latest), JOBS (nproc)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# = 1 ] || { sed -n '7,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 1; }
mkdir -p "$1"
W=$(cd "$1" && pwd)
JOBS=${JOBS:-$(nproc)}
say() { echo "llama_peer.sh: $*" >&2; }
die() { say "$*"; exit 1; }

for tool in npm git cmake cc c++ tar; do
  command -v "$tool" > /dev/null || die "no $tool (apt-get install npm git cmake g++)"
done

# the package's version: the one asked for, else the one already packed, else the latest
version() {
  if [ -n "${NODE_LLAMA_CPP_VERSION:-}" ]; then echo "$NODE_LLAMA_CPP_VERSION"; return; fi
  local have
  have=$(ls "$W"/node-llama-cpp-*.tgz 2> /dev/null | sed 's/.*node-llama-cpp-\(.*\)\.tgz/\1/' | sort -V | tail -1)
  if [ -n "$have" ]; then echo "$have"; return; fi
  timeout 120 npm view node-llama-cpp version 2> /dev/null || die "npm view node-llama-cpp failed (no registry?)"
}

# WORK_DIR/src: the llama.cpp source of node-llama-cpp V
fetch_source() {
  local v=$1 tgz=$W/node-llama-cpp-$1.tgz
  [ -f "$W/src/.version" ] && [ "$(cat "$W/src/.version")" = "$v" ] && return
  if [ ! -f "$tgz" ]; then
    say "npm pack node-llama-cpp@$v"
    (cd "$W" && timeout 300 npm pack --silent "node-llama-cpp@$v" > /dev/null) || die "npm pack node-llama-cpp@$v failed"
  fi
  rm -rf "$W/pkg" "$W/src"
  mkdir -p "$W/pkg"
  tar -xzf "$tgz" -C "$W/pkg" package/llama/gitRelease.bundle package/llama/llama.cpp.info.json \
    || die "$tgz has no package/llama/gitRelease.bundle (its layout changed?)"
  git clone -q "$W/pkg/package/llama/gitRelease.bundle" "$W/src" 2> /dev/null || die "git clone of the bundle failed"
  rm -rf "$W/pkg/package/llama/gitRelease.bundle"
  echo "$v" > "$W/src/.version"
}

# WORK_DIR/build: llama-bench and the shared libraries, then llama-logits against them
build() {
  local v=$1 bin=$W/build/bin
  [ -f "$W/build/.done" ] && [ "$(cat "$W/build/.done")" = "$v" ] && [ -x "$bin/llama-bench" ] \
    && [ -x "$bin/llama-logits" ] && return
  say "building llama-bench (node-llama-cpp $v; $JOBS jobs, several minutes)"
  cmake -S "$W/src" -B "$W/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=ON > "$W/build.log" 2>&1 \
    || die "cmake configure failed (see $W/build.log)"
  cmake --build "$W/build" --target llama-bench llama -j "$JOBS" >> "$W/build.log" 2>&1 \
    || die "building llama-bench failed (see $W/build.log)"
  cc -O2 "$here/llama_logits.c" -I"$W/src/include" -I"$W/src/ggml/include" -L"$bin" -lllama -lggml \
    -lggml-base -Wl,-rpath,"$bin" -o "$bin/llama-logits" >> "$W/build.log" 2>&1 \
    || die "building llama-logits failed (see $W/build.log)"
  echo "$v" > "$W/build/.done"
}

v=$(version)
fetch_source "$v"
build "$v"
echo "$W/build/bin"
