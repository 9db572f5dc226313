#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 480
#
# strongSwan end to end (tests/net/ike/lib-ike.sh): charon + swanctl with
# the configuration files in tests/net/ike/ (strongswan.conf,
# swanctl-gateway.conf, swanctl-client.conf), each daemon in its own
# namespace.  An IKEv2 road warrior behind NAT (NAT-T, ESP in UDP 4500,
# AES-GCM-16) gets 10.99.0.x and fd99::x from the gateway's pools; its
# tunnel MTU is 1500 (MSS 1460 / 1440); the web server behind the gateway
# drops ICMP frag-needed / packet-too-big.  The rule under test, on the
# gateway, is the man page's:
#   iptables  -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
#   ip6tables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
# Scenes, IPv4 and IPv6 inside:
#   rw  policy-based: the rule in place before the first connection: a
#       300 KB download and a 300 KB push (server -> client, the client's
#       SYN-ACK clamped) complete; the MSS is exact by the kernel's oracle
#       (TCPMSS --set-mss MSS completes, MSS+1 stalls, rule removed); no
#       rule: the download stalls at the client's 1460 / 1440.
#   rekey  the CHILD_SA rekeyed by the gateway (swanctl --rekey) during a
#       long download: new SPIs, the download completes at the exact MSS
#       and the new SA carried part of it; new connections after it: exact.
#   restart  both daemons restarted, the tunnel negotiated again, the rules
#       untouched: exact.
#   ri  route-based: the gateway's CHILD_SA bound to the xfrm interface
#       ipsec7 (if_id_in/if_id_out 7, created here at its default MTU, the
#       pools routed into it): exact from the first connection, as rw.

set -u
# shellcheck source=ike/lib-ike.sh
. "$(dirname "$0")/ike/lib-ike.sh"

IKE=$IKE_LIB_DIR
LONG_BYTES=${IKE_LONG_BYTES:-6000000}
FAILS=0

pass() { echo "PASS: net/$1"; }
fail() {
	FAILS=$((FAILS + 1))
	echo "FAIL: net/$1: $2"
}
note() { echo "# $*"; }
logs() { echo "gateway log: $(ike_log_tail gw) client log: $(ike_log_tail cl)"; }

rules_on() { ike_rule_on 4 && ike_rule_on 6; }

trap ike_scene_down EXIT
t0=$SECONDS
ike_crypto_warm

# daemons_spawn / daemons_ready: both charons started at once; then each
# has its socket and has loaded its swanctl.conf.
daemons_spawn() {
	ike_daemon_spawn gw "$IPSEC_NS_GW" charon "$IKE/strongswan.conf:/etc/strongswan.conf" \
		"$IKE/swanctl-gateway.conf:/etc/swanctl/swanctl.conf" &&
		ike_daemon_spawn cl "$IPSEC_NS_CL" charon "$IKE/strongswan.conf:/etc/strongswan.conf" \
			"$IKE/swanctl-client.conf:/etc/swanctl/swanctl.conf"
}

daemons_ready() {
	local name out
	for name in gw cl; do
		if ! ike_daemon_wait "$name" 2>"$IPSEC_DIR/err"; then
			fail "sw-$name-starts" "$(tr '\n' ' ' <"$IPSEC_DIR/err")"
			return 1
		fi
		if ! out=$(ike_in "$name" swanctl --load-all 2>&1); then
			fail "sw-$name-loads" "swanctl --load-all: $(tr '\n' '|' <<<"$out") $(logs)"
			return 1
		fi
	done
}

# connect CONN [NAME]: the client initiates CONN (IKE_SA + CHILD_SA CONN);
# the download helpers use the virtual IPs it got.
connect() {
	local conn=$1 n=${2:-sw-$1} out
	ike_crypto_wait
	if ! out=$(ike_in cl swanctl --initiate --child "$conn" --timeout 30 2>&1); then
		fail "$n-connects" "swanctl --initiate: $(tail -3 <<<"$out" | tr '\n' '|') $(logs)"
		return 1
	fi
	if ! ike_use_vips "$IPSEC_NS_CL"; then
		fail "$n-connects" "no virtual IPs on the client: $(ip -n "$IPSEC_NS_CL" -o addr | tr '\n' '|') $(logs)"
		return 1
	fi
	pass "$n-connects"
	note "$conn: client $IPSEC_CLIENT4 $IPSEC_CLIENT6, gateway SAs: $(ike_spis "$IPSEC_NS_GW")($((SECONDS - t0))s)"
}

# The gateway's outbound SPIs (toward the client).
ike_out_spis() {
	ip -n "$IPSEC_NS_GW" xfrm state list src "$IKE_GWU4" proto esp |
		awk '$1 == "proto" && $3 == "spi" { printf "%s ", $4 }'
}

# sa_bytes SPI: bytes the gateway's outbound SA SPI carried.
sa_bytes() { ike_sa_bytes "$IPSEC_NS_GW" "$IKE_GWU4" "$IKE_NATOUT4" "$1"; }


# --- the scenes --------------------------------------------------------------

# rw: the policy-based road warrior, the rule before the first connection.
scene_rw() {
	local fam
	connect rw || return 1
	for fam in 4 6; do
		ike_exact "sw-rw-v$fam" "$fam"
	done
	note "counters: $(ike_counters)"
}

# rekey: rw's CHILD_SA rekeyed by the gateway during a long download.
scene_rekey() {
	local old long ts spi s i running got secs port st mss before after fam out from
	rules_on || fail sw-rekey-rules "rules refused"
	read -r old _ <<<"$(ike_out_spis)"
	# the capture's lines so far: an earlier connection may have used the port
	from=$(ipsec_syn_lines)
	ip netns exec "$IPSEC_NS_CL" /usr/bin/python3 "$IPSEC_XFER" fetch "$IPSEC_SERVER4" "$IPSEC_PORT" \
		"$LONG_BYTES" 120 --src "$IPSEC_CLIENT4" >"$IPSEC_DIR/long.out" 2>&1 &
	long=$!
	# Rekey once the download is flowing through the old SA.
	before=0
	for ((i = 0; i < 120; i++)); do
		before=$(sa_bytes "$old")
		[ "${before:-0}" -ge 500000 ] && break
		kill -0 $long 2>/dev/null || break
		sleep 0.25
	done
	ts=$SECONDS
	if ! out=$(ike_in gw swanctl --rekey --child rw 2>&1); then
		fail sw-rekey-forced "swanctl --rekey: $(tr '\n' '|' <<<"$out") $(logs)"
	fi
	spi=
	for ((i = 0; i < 80; i++)); do
		for s in $(ike_out_spis); do
			[[ " $old " == *" $s "* ]] || spi=$s
		done
		[ -n "$spi" ] && break
		sleep 0.25
	done
	running=no
	kill -0 $long 2>/dev/null && running=yes
	note "rekey: the old outbound SA $old had carried $before bytes; new SPI ${spi:-none} after $((SECONDS - ts))s; download still running: $running"
	if [ -n "$spi" ]; then
		pass sw-rekey-new-spi
	else
		fail sw-rekey-new-spi "no new outbound SA beside $old: $(ike_spis "$IPSEC_NS_GW") $(logs)"
	fi
	wait $long
	read -r got secs port st <"$IPSEC_DIR/long.out"
	mss=$(ipsec_seen_mss S "${port:-0}" "$from")
	after=$(sa_bytes "${spi:-0}")
	note "rekey: long download $got/$LONG_BYTES bytes in ${secs}s at MSS $mss ($st); the new outbound SA carried ${after:-0} bytes of it"
	if [ "${st:-}" = ok ] && [ "$got" = "$LONG_BYTES" ] && [ "$mss" = "${IKE_EDGE[4]:-x}" ]; then
		pass sw-rekey-download-completes
	else
		fail sw-rekey-download-completes "wanted ok at MSS ${IKE_EDGE[4]:-?}, got: $(cat "$IPSEC_DIR/long.out") MSS $mss"
	fi
	if [ "$running" = yes ] && [ "${before:-0}" -ge 500000 ] && [ "${after:-0}" -ge 500000 ]; then
		pass sw-rekey-during-download
	else
		fail sw-rekey-during-download "the download must cross both SAs (old ${before:-0}, new ${after:-0} bytes, running after the rekey: $running): raise IKE_LONG_BYTES"
	fi
	for fam in 4 6; do
		ike_again "sw-rekey-after-v$fam" "$fam"
	done
}

# restart: both daemons restarted, the rules (still in place) untouched.
scene_restart() {
	local fam
	# The rules in place before (left by the rekey scene), not touched after.
	for fam in 4 6; do
		ipsec_gw_ipt "$fam" -t mangle -C "${IKE_RULE[@]}" 2>/dev/null || ike_rule_on "$fam"
	done
	ike_daemon_stop cl
	note "restart: client stopped ($((SECONDS - t0))s)"
	ike_daemon_stop gw
	note "restart: gateway SAs left after the daemons stopped: $(ike_spis "$IPSEC_NS_GW")none ($((SECONDS - t0))s)"
	daemons_spawn && daemons_ready && note "restart: daemons up ($((SECONDS - t0))s)" &&
		connect rw sw-restart || return 1
	for fam in 4 6; do
		ike_again "sw-restart-v$fam" "$fam"
	done
}

# ri: route-based, the gateway's CHILD_SA on the xfrm interface ipsec7.
scene_ri() {
	local fam
	ike_in cl swanctl --terminate --ike rw --timeout 20 >/dev/null 2>&1
	note "ri: rw terminated ($((SECONDS - t0))s)"
	ipsec_gw_flush
	if ! ipsec_batch "$IPSEC_NS_GW" <<-EOF; then
		link add ipsec7 type xfrm dev $IPSEC_GW_VPN_IF if_id 7
		link set ipsec7 up
		route replace $IKE_POOL4 dev ipsec7
		route replace $IKE_POOL6 dev ipsec7
	EOF
		fail sw-ri-interface "could not create ipsec7"
		return 1
	fi
	note "ri: ipsec7 $(ip -n "$IPSEC_NS_GW" -o link show ipsec7 | grep -o 'mtu [0-9]*') (its default)"
	connect ri || return 1
	if ip -n "$IPSEC_NS_GW" xfrm state | grep -q 'if_id 0x7'; then
		pass sw-ri-sa-on-interface
	else
		fail sw-ri-sa-on-interface "the gateway's SAs carry no if_id 7: $(ip -n "$IPSEC_NS_GW" xfrm state | tr '\n' '|')"
	fi
	for fam in 4 6; do
		ike_exact "sw-ri-v$fam" "$fam"
	done
	note "counters: $(ike_counters)"
}

if ! ike_scene_up daemons_spawn; then
	fail sw-scene "could not build the scene"
	exit 1
fi
note "scene up ($((SECONDS - t0))s)"
daemons_ready || exit 1
note "daemons up ($((SECONDS - t0))s)"

# SW_SCENES: a subset, for debugging (rekey and restart need rw's edges).
skip=
for sc in ${SW_SCENES:-rw rekey restart ri}; do
	case "$sc" in rekey|restart) [ -z "$skip" ] || continue ;; esac
	"scene_$sc" || skip=1
	note "$sc done ($((SECONDS - t0))s)"
done
[ $FAILS = 0 ]
