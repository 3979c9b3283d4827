#!/usr/bin/env bash
# Builds the Debian package (dpkg-buildpackage -us -uc -b) from a copy of
# the tree's files, tracked or new but not ignored, in OUT/src, so that the
# tree itself stays clean; ensemble_VERSION_amd64.deb, its -dbgsym package
# and the .buildinfo and .changes files land in OUT.
#   bash scripts/deb.sh [OUT]        (OUT: build-deb in the tree)
# The build dependencies must be there (make deps, or debian/control's
# Build-Depends); dpkg-buildpackage names any that is missing.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build-deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/src"
mkdir "$out/src"
# A file git still tracks but the tree no longer has is not copied.
(cd "$src" && git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf -) 2> /dev/null |
	tar -C "$out/src" -xf -
cd "$out/src"
DEB_BUILD_OPTIONS="parallel=${JOBS:-2} ${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -us -uc -b
ls "$out"/*.deb
