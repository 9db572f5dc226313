#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 480
#
# libreswan end to end (tests/net/ike/lib-ike.sh): pluto 4.10, unpacked by
# tests/net/ike/install-libreswan.sh into a private prefix (it conflicts
# with strongSwan's package) and shown at its fixed paths only inside each
# daemon's mount namespace; configuration files tests/net/ike/
# libreswan-gateway.conf, libreswan-client.conf, libreswan.secrets.  The
# scene of 80-strongswan.sh (NAT-T, AES-GCM-16, a server that drops ICMP
# frag-needed), the man page's rule on the gateway, IPv4 inside:
#   rw   IKEv2 road warrior, address from the gateway's pool (rightaddresspool)
#   n2n  net-to-net, the gateway's side on the xfrm interface ipsec1 that
#        libreswan creates (ipsec-interface=1)
# Each: the rule before the first connection: a download and a push
# complete; the MSS is exact by the TCPMSS --set-mss oracle; no rule: stall.

set -u
# shellcheck source=ike/lib-ike.sh
. "$(dirname "$0")/ike/lib-ike.sh"

IKE=$IKE_LIB_DIR
P=${IPSECMSS_LIBRESWAN:-/opt/ipsecmss-libreswan}
FAILS=0

pass() { echo "PASS: net/$1"; }
fail() {
	FAILS=$((FAILS + 1))
	echo "FAIL: net/$1: $2"
}
note() { echo "# $*"; }
logs() { echo "gateway log: $(ike_log_tail gw) client log: $(ike_log_tail cl)"; }

if [ ! -x "$P/usr/libexec/ipsec/pluto" ]; then
	fail lsw-installed "no $P/usr/libexec/ipsec/pluto: run tests/net/ike/install-libreswan.sh"
	exit 1
fi

trap ike_scene_down EXIT
t0=$SECONDS
ike_crypto_warm

# pluto_spawn NAME NS CONF: libreswan's files at their paths, a fresh NSS
# database, CONF as /etc/ipsec.conf.
pluto_spawn() {
	ike_daemon_spawn "$1" "$2" pluto \
		"!mkdir -p /usr/libexec/ipsec /var/lib/ipsec" \
		"$P/usr/libexec/ipsec:/usr/libexec/ipsec" "$P/usr/sbin/ipsec:/usr/sbin/ipsec" \
		"$IKE/$3:/etc/ipsec.conf" "$IKE/libreswan.secrets:/etc/ipsec.secrets" \
		"!mount -t tmpfs ike-etc /etc/ipsec.d && mount -t tmpfs ike-nss /var/lib/ipsec" \
		"!mkdir -p /run/pluto /var/lib/ipsec/nss && certutil -N -d sql:/var/lib/ipsec/nss --empty-password"
}

daemons_spawn() {
	pluto_spawn gw "$IPSEC_NS_GW" libreswan-gateway.conf &&
		pluto_spawn cl "$IPSEC_NS_CL" libreswan-client.conf
}

daemons_ready() {
	local name out
	for name in gw cl; do
		if ! ike_daemon_wait "$name" 2>"$IPSEC_DIR/err"; then
			fail "lsw-$name-starts" "$(tr '\n' ' ' <"$IPSEC_DIR/err")"
			return 1
		fi
		# What "ipsec auto --ready" and "--add" run, without their shell
		# scripts (slow under emulation).
		if ! out=$(ike_in "$name" /usr/libexec/ipsec/whack --listen 2>&1) ||
			! out=$(ike_in "$name" /usr/libexec/ipsec/addconn --config /etc/ipsec.conf --autoall 2>&1); then
			fail "lsw-$name-loads" "whack --listen / addconn --autoall: $(tr '\n' '|' <<<"$out") $(logs)"
			return 1
		fi
	done
}

# up CONN: the client brings CONN up (IKE SA + Child SA), as
# "ipsec auto --up CONN".
up() {
	local conn=$1 out
	ike_crypto_wait
	out=$(ike_in cl /usr/libexec/ipsec/whack --name "$conn" --initiate 2>&1)
	if ! grep -q 'established Child SA' <<<"$out"; then
		fail "lsw-$conn-connects" "whack --initiate: $(tail -4 <<<"$out" | tr '\n' '|') $(logs)"
		return 1
	fi
	pass "lsw-$conn-connects"
	note "$conn: $(grep 'established Child SA' <<<"$out" | sed 's/.*IPsec tunnel//') ($((SECONDS - t0))s)"
}

scene_rw() {
	up rw || return 1
	IPSEC_CLIENT4=$(ike_vip "$IPSEC_NS_CL" 4)
	if [ -z "$IPSEC_CLIENT4" ]; then
		fail lsw-rw-address "no pool address on the client: $(ip -n "$IPSEC_NS_CL" -o addr | tr '\n' '|')"
		return 1
	fi
	note "rw: client $IPSEC_CLIENT4"
	ike_exact lsw-rw-v4 4
	note "counters: $(ike_counters)"
}

scene_n2n() {
	ike_in cl /usr/libexec/ipsec/whack --name rw --terminate >/dev/null 2>&1
	note "n2n: rw down ($((SECONDS - t0))s)"
	ipsec_gw_flush
	ip -n "$IPSEC_NS_CL" addr add 10.99.1.1/32 dev lo || return 1
	up n2n || return 1
	IPSEC_CLIENT4=10.99.1.1
	note "n2n: gateway: ipsec1 $(ip -n "$IPSEC_NS_GW" -d -o link show ipsec1 2>&1 | grep -o -e ' mtu [0-9]*' -e 'if_id 0x[0-9a-f]*' | head -2 | tr '\n' ' ')routes: $(ip -n "$IPSEC_NS_GW" route show table all | grep ipsec1 | grep -v -e fe80 -e ff00 | tr '\n' '|')"
	if ip -n "$IPSEC_NS_GW" xfrm state | grep -q 'if_id 0x1'; then
		pass lsw-n2n-sa-on-interface
	else
		fail lsw-n2n-sa-on-interface "the gateway's SAs carry no if_id 1: $(ip -n "$IPSEC_NS_GW" xfrm state | tr '\n' '|') $(logs)"
	fi
	ike_exact lsw-n2n-v4 4
	note "counters: $(ike_counters)"
}

if ! ike_scene_up daemons_spawn; then
	fail lsw-scene "could not build the scene"
	exit 1
fi
note "scene up ($((SECONDS - t0))s)"
daemons_ready || exit 1
note "daemons up ($((SECONDS - t0))s)"
for sc in ${LSW_SCENES:-rw n2n}; do
	"scene_$sc"
	note "$sc done ($((SECONDS - t0))s)"
done
[ $FAILS = 0 ]
