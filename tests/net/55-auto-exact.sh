#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 1200
#
# --auto is exact: with one rule on the gateway,
#   -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
# a download through real ESP completes at the MSS the server saw, and the
# kernel's own TCPMSS --set-mss one byte higher stalls (the oracle:
# tests/net/lib-ipsec.sh probe_mss, independent of the code under test).
# Across scenes: the seed's (AES-GCM-16 tunnel, 1500 underlay) for IPv4 and
# IPv6 in both directions (the client's SYN leaving the tunnel, the
# server's SYN entering it), other suites, NAT-T, an IPv6 outer header
# under IPv4, a 1400 underlay, transport mode (IP-in-IP over ESP
# transport) and route-based IPsec, an xfrm interface and a vti at their
# default MTU (first connections of a freshly built scene).  lib-ipsec.sh's own ESP arithmetic
# is shown next to it, and --esp with the scene's suite and underlay MTU
# must give what --auto read off the live SA.
# AUTO_EXACT_SCENES (default: all) picks scenes by name: xfrmi vti seed
# underlay transport.

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

bytes=307200
trap ipsec_scene_down EXIT
want() { [[ " ${AUTO_EXACT_SCENES:-xfrmi vti seed underlay transport} " == *" $1 "* ]]; }

auto_rule() {
	ipsec_gw_ipt "$1" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN \
		-j IPSECMSS --auto
}

# exact NAME FAMILY DIRECTION [ESP-ARGS...]: DIRECTION is down (client
# downloads) or push (server sends to the client).
exact() {
	local n=$1 fam=$2 dir=$3 out verdict got secs mss status calc r
	shift 3
	ipsec_gw_flush
	if ! err=$(auto_rule "$fam" 2>&1); then
		fail "$n" "--auto rule refused: $(echo "$err" | tr '\n' ' ')"
		return
	fi
	if [ "$dir" = push ]; then
		out=$(push_verdict $bytes "$fam")
	else
		out=$(download_verdict $bytes "$fam")
	fi
	ipsec_gw_flush
	read -r verdict got secs mss status <<<"$out"
	echo "# $n: --auto: $got/$bytes bytes in ${secs}s, server saw MSS $mss, $status"
	if [ "$verdict" != complete ]; then
		fail "$n-auto-completes" "$verdict: $got/$bytes bytes, MSS $mss, $status"
		return
	fi
	pass "$n-auto-completes"
	case "$mss" in ''|*[!0-9]*) fail "$n-auto-mss" "server saw no MSS ($mss)"; return ;; esac

	# One byte more must not get through.
	if [ "$dir" = push ]; then
		out=$(probe_push $((mss + 1)) "$fam"); r=$?
	else
		out=$(probe_mss $((mss + 1)) "$fam"); r=$?
	fi
	echo "# $n: TCPMSS --set-mss $((mss + 1)): $out"
	case $r in
	1) pass "$n-auto-$mss-is-the-largest" ;;
	0) fail "$n-auto-$mss-is-the-largest" "MSS $((mss + 1)) gets through too: $mss wastes bytes" ;;
	*) fail "$n-auto-$mss-is-the-largest" "the oracle failed: $out" ;;
	esac

	calc=$(ipsec_expected_mss "$fam")
	if [ "$calc" = "$mss" ]; then
		pass "$n-esp-arithmetic-agrees"
	else
		fail "$n-esp-arithmetic-agrees" "lib-ipsec.sh computes $calc, --auto gave $mss"
	fi

	# --esp with the live SA's parameters names the same MSS.
	[ $# -gt 0 ] || return 0
	if ! err=$(ipsec_gw_ipt "$fam" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN \
		-j IPSECMSS --esp "$@" --mtu "$IPSEC_UNDERLAY_MTU" 2>&1); then
		fail "$n-esp-matches-auto" "--esp $* refused: $(echo "$err" | tr '\n' ' ')"
		return
	fi
	out=$(download_verdict $IPSEC_PROBE_BYTES "$fam")
	ipsec_gw_flush
	read -r verdict got secs r status <<<"$out"
	if [ "$r" = "$mss" ] && [ "$verdict" = complete ]; then
		pass "$n-esp-matches-auto"
	else
		fail "$n-esp-matches-auto" "--esp $* --mtu $IPSEC_UNDERLAY_MTU: server saw MSS $r ($verdict), --auto gave $mss"
	fi
}

# scene NAME: build a fresh scene with the IPSEC_* variables set.
scene() {
	ipsec_scene_down
	if ipsec_scene_up; then
		return 0
	fi
	fail "$1-scene" "could not build the scene (see above)"
	return 1
}
# resa NAME: new SAs with the IPSEC_* variables set, same namespaces.
resa() {
	ipsec_sa_down
	if ipsec_sa_up; then
		return 0
	fi
	fail "$1-sa" "could not set up the SAs (see above)"
	return 1
}

# --- route-based: xfrm interface at its default MTU, first connections ---
IPSEC_MODE=xfrmi IPSEC_SUITE=aes-gcm-16 IPSEC_OUTER=4 IPSEC_NATT=0 IPSEC_UNDERLAY_MTU=1500
if want xfrmi && scene xfrmi; then
	exact xfrmi-v4 4 down
	exact xfrmi-v6 6 down
	exact xfrmi-v4-push 4 push
fi

# --- route-based: vti at its default MTU, first connections ---
IPSEC_MODE=vti
if want vti && scene vti; then
	exact vti-v4 4 down
	exact vti-v4-push 4 push
	exact vti-v6 6 down
fi

# --- the seed's scene, both families, both directions ---
IPSEC_MODE=tunnel IPSEC_SUITE=aes-gcm-16 IPSEC_OUTER=4
if want seed && scene seed-v4; then
	exact seed-v4-down 4 down aes-gcm-16
	exact seed-v4-push 4 push
	IPSEC_OUTER=6
	if resa seed-v6; then
		exact seed-v6-down 6 down aes-gcm-16
		exact seed-v6-push 6 push
		# IPv4 inside IPv6: the outer family is not the rule's.
		exact outer6-v4-down 4 down aes-gcm-16 --outer ipv6
	fi
	IPSEC_OUTER=4
	for IPSEC_SUITE in aes-cbc-sha1 aes-cbc-sha256 chacha20-poly1305; do
		resa "$IPSEC_SUITE" && exact "$IPSEC_SUITE-v4-down" 4 down "$IPSEC_SUITE"
	done
	IPSEC_SUITE=aes-gcm-16 IPSEC_NATT=1
	resa natt && exact natt-v4-down 4 down aes-gcm-16 --natt
fi
# The underlay MTU is set when the links are made: a new scene.
IPSEC_MODE=tunnel IPSEC_SUITE=aes-gcm-16 IPSEC_OUTER=4 IPSEC_NATT=0 IPSEC_UNDERLAY_MTU=1400
if want underlay && scene underlay-1400; then
	exact underlay-1400-v4-down 4 down aes-gcm-16
fi
IPSEC_MODE=transport IPSEC_UNDERLAY_MTU=1500
if want transport && scene transport; then
	exact transport-v4-down 4 down
	exact transport-v4-push 4 push
fi
