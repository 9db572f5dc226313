#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The seed's scene with real ESP (tests/net/lib-ipsec.sh): a VPN client
# (MTU 1500, MSS 1460/1440) -> AES-GCM-16 tunnel over a 1500 underlay ->
# gateway -> web server that drops ICMP frag-needed / packet-too-big.
# IPv4 in IPv4 and IPv6 in IPv6:
#   - no rule: a 300 KB download stalls (and the gateway did send the ICMP
#     the server drops: the stall is the PMTUD black hole);
#   - the seed's rule ending in -j IPSECMSS --set-mss 1360: completes, the
#     server saw MSS 1360 (iptables-nft, then iptables-legacy);
#   - TCPMSS --clamp-mss-to-pmtu: still stalls (the reason for this project);
#   - the oracle the --auto tests use: --set-mss 1406 (v4) / 1366 (v6)
#     completes, one byte more stalls.
# IPSECMSS_SEED_TARGET=TCPMSS runs the seed's rule with the kernel's own
# target instead (reference run).

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

bytes=307200
target=${IPSECMSS_SEED_TARGET:-IPSECMSS}
tname=${target,,}
trap ipsec_scene_down EXIT

# ICMP "too big" messages the gateway sent (fresh namespace: from zero).
# shellcheck disable=SC2016 # awk programs
gw_toobig_sent() {
	if [ "$1" = 6 ]; then
		ip netns exec "$IPSEC_NS_GW" awk '$1 == "Icmp6OutPktTooBigs" { print $2 }' /proc/net/snmp6
	else
		ip netns exec "$IPSEC_NS_GW" awk '$1 == "Icmp:" {
			if (!c) { for (i = 2; i <= NF; i++) if ($i == "OutDestUnreachs") c = i }
			else print $c }' /proc/net/snmp
	fi
}

# expect NAME VERDICT MSS BYTES LINE: LINE is a download_verdict line.
expect() {
	local name=$1 want=$2 want_mss=$3 n=$4 verdict got secs mss status
	read -r verdict got secs mss status <<<"$5"
	echo "# $name: $got/$n bytes in ${secs}s, server saw MSS $mss, $status"
	if [ "$verdict" = "$want" ] && [ "$mss" = "$want_mss" ]; then
		pass "$name"
	else
		fail "$name" "wanted $want at MSS $want_mss, got $verdict ($got/$n bytes in ${secs}s, $status) at MSS $mss"
	fi
}

seed_rule() {
	local fam=$1 ipt=$2
	IPSEC_IPT=$ipt ipsec_gw_ipt "$fam" -t mangle -A FORWARD -o "$IPSEC_GW_SRV_IF" \
		-p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss 1361:1536 \
		-j "$target" --set-mss 1360
}

for fam in 4 6; do
	n=seed-v$fam
	if [ "$fam" = 6 ]; then edge=1366 client_mss=1440; else edge=1406 client_mss=1460; fi
	IPSEC_INNER=$fam IPSEC_OUTER=$fam IPSEC_SUITE=aes-gcm-16 IPSEC_MODE=tunnel
	IPSEC_NATT=0 IPSEC_UNDERLAY_MTU=1500
	if ! ipsec_scene_up; then
		fail "$n-scene" "could not build the scene (see above)"
		ipsec_scene_down
		continue
	fi

	out=$(download_verdict $bytes)
	expect "$n-no-rule-stalls" stall $client_mss $bytes "$out"
	icmp=$(gw_toobig_sent "$fam")
	if [ "${icmp:-0}" -gt 0 ]; then
		pass "$n-no-rule-gateway-sent-toobig"
	else
		fail "$n-no-rule-gateway-sent-toobig" "the gateway sent no ICMP too-big (${icmp:-?}): the stall has another cause"
	fi

	for ipt in iptables-nft iptables-legacy; do
		v=${ipt#iptables-}
		if err=$(seed_rule "$fam" "$ipt" 2>&1); then
			out=$(download_verdict $bytes)
			expect "$n-$tname-set-mss-1360-$v-completes" complete 1360 $bytes "$out"
		else
			fail "$n-$tname-set-mss-1360-$v-completes" "rule refused: $(echo "$err" | tr '\n' ' ')"
		fi
		IPSEC_IPT=$ipt ipsec_gw_ipt "$fam" -t mangle -F
	done

	if err=$(ipsec_gw_ipt "$fam" -t mangle -A FORWARD -o "$IPSEC_GW_SRV_IF" -p tcp \
		-m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu 2>&1); then
		out=$(download_verdict $bytes)
		expect "$n-tcpmss-clamp-stalls" stall $client_mss $bytes "$out"
	else
		fail "$n-tcpmss-clamp-stalls" "rule refused: $(echo "$err" | tr '\n' ' ')"
	fi
	ipsec_gw_flush

	# The oracle of the --auto tests, checked against the notes' numbers.
	out=$(probe_mss $edge)
	expect "$n-set-mss-$edge-completes" complete $edge "$IPSEC_PROBE_BYTES" "$out"
	out=$(probe_mss $((edge + 1)))
	expect "$n-set-mss-$((edge + 1))-stalls" stall $((edge + 1)) "$IPSEC_PROBE_BYTES" "$out"
	# ... and the library's own arithmetic agrees with it.
	calc=$(ipsec_expected_mss "$fam")
	if [ "$calc" = "$edge" ]; then
		pass "$n-expected-mss-arithmetic"
	else
		fail "$n-expected-mss-arithmetic" "ipsec_expected_mss gives $calc, probing gives $edge"
	fi

	ipsec_scene_down
done
