#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The source of the sanitizer kernel: Debian's linux-source-7.3 from the
# trixie-backports suite (architecture all; it builds with bookworm's gcc-12).
#
#   tests/sanitized/fetch-source.sh [--print]
#
# The suite is never added to the system's apt sources: a private apt
# configuration (its own sources, lists and cache in a temporary directory, the
# system's /usr/share/keyrings/debian-archive-keyring.gpg, which carries the
# trixie keys, for the signature) fetches this one package with
# `apt-get download`, and `dpkg-deb -x` unpacks it into the prefix.  Nothing
# is installed with dpkg, so no other package can come from that suite or
# move (`apt-get install -t trixie-backports linux-source-7.3` would also
# replace bookworm's linux-libc-dev).  The package's version (7.3.N-...) is
# whatever the suite has; it is written to $P/version.  Idempotent, quiet
# when already done.
#
#   --print              print the tarball's path (fetch it first if needed)
#   IPSECMSS_LINUX_SOURCE the prefix (default /opt/ipsecmss-linux-source-7.3)
#
# On success the tarball is $P/usr/src/linux-source-7.3.tar.xz.

set -eu
pkg=linux-source-7.3
suite=trixie-backports
P=${IPSECMSS_LINUX_SOURCE:-/opt/ipsecmss-$pkg}
tarball="$P/usr/src/$pkg.tar.xz"

print=0
for a in "$@"; do
	case "$a" in
	--print) print=1 ;;
	-h|--help) sed -n '4,23s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "fetch-source.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done

done_() {
	[ "$print" = 1 ] && echo "$tarball"
	exit 0
}
[ -e "$P/.complete" ] && [ -s "$tarball" ] && done_

if [ "$(id -u)" != 0 ]; then
	echo "fetch-source.sh: $tarball is missing; as root run tests/sanitized/fetch-source.sh (or tests/deps.sh)" >&2
	exit 1
fi
# apt verifies the suite's InRelease against this keyring and fails the
# update if it cannot; where gpg is installed, say early what is wrong.
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if command -v gpg >/dev/null &&
   ! gpg --no-default-keyring --keyring "$keyring" --list-keys 2>/dev/null | grep -q '(13/trixie)'; then
	echo "fetch-source.sh: $keyring has no trixie key: apt-get install debian-archive-keyring (2023.3+deb12u2 or later)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/fetch-source.XXXXXX)
log="$tmp/log"
trap 'rm -rf "$tmp"' EXIT
run() {
	if ! "$@" >>"$log" 2>&1; then
		echo "fetch-source.sh: $* failed:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
}

apt="$tmp/apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/sources.list.d" "$apt/preferences.d"
cat >"$apt/sources.list.d/$suite.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite
Components: main
Signed-By: $keyring
EOF
opts=(
	-o Dir::Etc::SourceList=/dev/null
	-o Dir::Etc::SourceParts="$apt/sources.list.d"
	-o Dir::Etc::Preferences=/dev/null
	-o Dir::Etc::PreferencesParts="$apt/preferences.d"
	-o Dir::State::Lists="$apt/lists"
	-o Dir::Cache="$apt/cache"
	-o APT::Sandbox::User=root
)
echo "fetch-source.sh: fetching $pkg from $suite (a private apt configuration)" >&2
run apt-get -q "${opts[@]}" update
version=$(apt-cache "${opts[@]}" show "$pkg" 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -n 1)
[ -n "$version" ] || { echo "fetch-source.sh: $suite has no $pkg" >&2; exit 1; }
(cd "$tmp" && run apt-get -q "${opts[@]}" download "$pkg=$version")
deb=$(ls "$tmp"/"$pkg"_*.deb)
rm -rf "$P.new"
run dpkg-deb -x "$deb" "$P.new"
[ -s "$P.new/usr/src/$pkg.tar.xz" ] || { echo "fetch-source.sh: $deb has no usr/src/$pkg.tar.xz" >&2; exit 1; }
echo "$version" >"$P.new/version"
touch "$P.new/.complete"
rm -rf "$P"
mv "$P.new" "$P"
echo "fetch-source.sh: $pkg $version: $tarball" >&2
done_
