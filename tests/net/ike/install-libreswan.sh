#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian's libreswan beside strongSwan, for tests/net/81-libreswan.sh.
# The two packages conflict (both ship /usr/sbin/ipsec), so libreswan is
# unpacked into a private prefix (apt-get download + dpkg-deb -x) and its
# libraries are installed normally; the test shows the prefix at libreswan's
# fixed paths (/usr/libexec/ipsec, /usr/sbin/ipsec) only inside the
# daemon's own mount namespace.  Idempotent, quiet when already done.
#
#   IPSECMSS_LIBRESWAN   the prefix (default /opt/ipsecmss-libreswan)

set -eu
P=${IPSECMSS_LIBRESWAN:-/opt/ipsecmss-libreswan}

usable() {
	[ -e "$P/.complete" ] && [ -x "$P/usr/libexec/ipsec/pluto" ] &&
		! LD_LIBRARY_PATH= ldd "$P/usr/libexec/ipsec/pluto" 2>/dev/null | grep -q 'not found'
}
usable && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-libreswan.sh: run as root (unpacks libreswan into $P)" >&2
	exit 1
fi
log=$(mktemp /tmp/install-libreswan.XXXXXX)
trap 'rm -rf "$log" "${tmp:-}"' EXIT
run() {
	if ! "$@" >>"$log" 2>&1; then
		echo "install-libreswan.sh: $* failed:" >&2
		tail -20 "$log" >&2
		exit 1
	fi
}

# The package's dependencies (first of each alternative), not the package.
mapfile -t deps < <(apt-cache depends libreswan 2>/dev/null |
	awk '$1 == "Depends:" || $1 == "|Depends:" { print $1, $2 }' |
	awk 'BEGIN { alt = 0 } { if (!alt && $2 !~ /^</) print $2; alt = ($1 == "|Depends:") }')
if [ ${#deps[@]} = 0 ]; then
	run apt-get update
	mapfile -t deps < <(apt-cache depends libreswan |
		awk '$1 == "Depends:" || $1 == "|Depends:" { print $1, $2 }' |
		awk 'BEGIN { alt = 0 } { if (!alt && $2 !~ /^</) print $2; alt = ($1 == "|Depends:") }')
fi
[ ${#deps[@]} -gt 0 ] || { echo "install-libreswan.sh: apt knows no libreswan" >&2; exit 1; }
run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${deps[@]}"

tmp=$(mktemp -d /tmp/install-libreswan.XXXXXX)
(cd "$tmp" && run apt-get download libreswan)
rm -rf "$P.new"
run dpkg-deb -x "$tmp"/libreswan_*.deb "$P.new"
touch "$P.new/.complete"
rm -rf "$P"
mv "$P.new" "$P"
usable || { echo "install-libreswan.sh: $P/usr/libexec/ipsec/pluto is not usable" >&2; exit 1; }
