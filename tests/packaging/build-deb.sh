#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make deb`: build xt-ipsecmss-dkms and xtables-ipsecmss with
# `dpkg-buildpackage -b -us -uc` from a clean copy of the checkout (the
# files git tracks or would track, i.e. what a fresh clone has, edits
# included), so the build neither sees nor touches the working tree's own
# build products, and dpkg-buildpackage's output lands under tests/build.
#
# Result: tests/build/deb/*.deb, *.changes, *.buildinfo and build.log.
# Exit 1 with the reason on stderr when a tool or build dependency is
# missing or the build fails.

set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/tests/build/deb"

for t in dpkg-buildpackage dpkg-checkbuilddeps dpkg-parsechangelog; do
	command -v "$t" >/dev/null ||
		{ echo "make deb: $t not found (apt-get install dpkg-dev)" >&2; exit 1; }
done

ver=$(dpkg-parsechangelog -l "$repo/debian/changelog" -S Version)
src="$out/src/ipsecmss-$ver"
rm -rf "$out"
mkdir -p "$src"

# The copy: tracked and untracked-but-not-ignored files that exist.
cd "$repo"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do
			[ -f "$f" ] && [ "${f#tests/build/}" = "$f" ] && printf '%s\0' "$f"
		done |
		tar --null -T - -cf - | tar -xf - -C "$src"
else
	tar --exclude=./tests/build --exclude=./.git -cf - . | tar -xf - -C "$src"
fi

cd "$src"
if ! missing=$(dpkg-checkbuilddeps 2>&1); then
	echo "make deb: $missing" >&2
	echo "make deb: as root: apt-get install --no-install-recommends debhelper dh-dkms libxtables-dev pkg-config" >&2
	exit 1
fi

log="$out/build.log"
if ! dpkg-buildpackage -b -us -uc >"$log" 2>&1; then
	echo "make deb: dpkg-buildpackage failed; last lines of $log:" >&2
	tail -n 30 "$log" | sed 's/^/    | /' >&2
	exit 1
fi

cd "$out"
mv src/*.deb src/*.changes src/*.buildinfo .
rm -rf src
ls -1 "$out"/*.deb
