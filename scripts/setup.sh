#!/bin/sh
# setup.sh: install what modc needs from Debian 12's packages; does nothing when all is there.
# Works as root or through sudo.  Nothing else is downloaded, at build or at run time.
set -e
PKGS="cmake make gcc libc6-dev pkg-config llvm-19-dev llvm-19-tools libyaml-dev libjansson-dev zlib1g-dev python3 python3-numpy python3-pip python3-setuptools gcc-aarch64-linux-gnu libc6-dev-arm64-cross libgomp1-arm64-cross qemu-user"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "setup: installing$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
