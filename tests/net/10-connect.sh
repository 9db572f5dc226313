#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Real TCP connections client -> gw -> server, IPv4 and IPv6, under
# iptables-legacy and iptables-nft, with `-p tcp -j IPSECMSS --set-mss 1360`
# on the gateway's mangle FORWARD chain (no --syn: the target must pick the
# SYNs itself):
#   - the client's SYN (captured at the server) and the server's SYN-ACK
#     (captured at the client) both carry MSS 1360, with valid checksums,
#     and every byte of a 20 kB upload and a 100 kB download arrives;
#   - MSS 1000 on both sides is left alone;
#   - a SYN without an MSS option gets one (536 / 1220) and the server's
#     socket really uses it;
#   - the seed's rule (SYN-only, outgoing side, tcpmss match) lowers the
#     client's SYN and nothing else;
#   - with transmit checksum offload off (checksums computed in software
#     before the gateway) the rewritten checksums are still right.
# Without a rule the MSS is 1460 / 1440: the topology itself clamps nothing.
# Counters: exact where nothing else can move them; a SYN or SYN-ACK
# retransmitted under a slow emulator may count twice, so those are >=.

set -u
. "$(dirname "$0")/lib.sh"

if ! net_setup; then
	fail connect-setup "could not build the client/gw/server namespaces"
	exit 1
fi
pkt_start

declare -A DEF=([4]=1460 [6]=1440) MIN=([4]=536 [6]=1220)
clean_counters="d.inserted=0 d.no_mss=0 d.fragment=0 d.malformed=0 d.dropped=0"

for fam in 4 6; do
	pkt connect fam=$fam
	expect "connect-v$fam-no-rule" "$PKT_OUT" connected=yes up=ok down=ok \
		syn=1 syn.mss=${DEF[$fam]} syn.csum=ok synack=1 synack.mss=${DEF[$fam]} synack.csum=ok
done

for fw in legacy nft; do
	for fam in 4 6; do
		t=v$fam-$fw
		gw_rules "connect-$t-rule" $fw $fam "-p tcp -j IPSECMSS --set-mss 1360" || continue

		pkt connect fam=$fam
		# shellcheck disable=SC2086 # word lists on purpose
		expect "connect-$t-lowered" "$PKT_OUT" connected=yes up=ok down=ok \
			syn=1 syn.flags=S syn.mss=1360 syn.opts=ok syn.csum=ok \
			synack=1 synack.flags=SA synack.mss=1360 synack.opts=ok synack.csum=ok \
			'cmaxseg<=1360' 'smaxseg<=1360' \
			'd.rewritten>=2' d.unchanged=0 'd.not_syn>=1' $clean_counters

		pkt connect fam=$fam cmss=1000 smss=1000
		# shellcheck disable=SC2086
		expect "connect-$t-lower-left-alone" "$PKT_OUT" connected=yes up=ok down=ok \
			syn.mss=1000 syn.csum=ok synack.mss=1000 synack.csum=ok \
			'd.unchanged>=2' d.rewritten=0 $clean_counters

		pkt handshake fam=$fam
		expect "connect-$t-absent-inserted" "$PKT_OUT" accepted=yes \
			syn=1 syn.mss=${MIN[$fam]} syn.doff=6 syn.csum=ok smaxseg=${MIN[$fam]} \
			synack.mss=1360 synack.csum=ok \
			d.inserted=1 'd.rewritten>=1' d.malformed=0 d.dropped=0

		# The seed's rule, with IPSECMSS instead of TCPMSS.
		gw_rules "connect-$t-seed-rule" $fw $fam "-o g1 -p tcp -m tcp --tcp-flags SYN,RST SYN \
			-m tcpmss --mss 1361:1536 -j IPSECMSS --set-mss 1360" || continue
		pkt connect fam=$fam
		expect "connect-$t-seed-rule" "$PKT_OUT" connected=yes up=ok down=ok \
			syn.mss=1360 syn.csum=ok synack.mss=${DEF[$fam]} synack.csum=ok \
			'd.rewritten>=1' d.unchanged=0 d.not_syn=0 $clean_counters
		gw_rules "connect-$t-clear" $fw $fam
	done
done

# Checksums computed by the stacks in software (no CHECKSUM_PARTIAL): the
# gateway must update a complete checksum.
pkt txcsum ns=client dev=c0 off
[ "$PKT_OUT" = ok ] || fail connect-txcsum-off "client: $PKT_OUT"
pkt txcsum ns=server dev=s0 off
[ "$PKT_OUT" = ok ] || fail connect-txcsum-off "server: $PKT_OUT"
for fam in 4 6; do
	gw_rules "connect-v$fam-nft-no-offload" nft $fam "-p tcp -j IPSECMSS --set-mss 1360" || continue
	pkt connect fam=$fam
	expect "connect-v$fam-nft-no-offload" "$PKT_OUT" connected=yes up=ok down=ok \
		syn.mss=1360 syn.csum=ok syn.csumstate=full \
		synack.mss=1360 synack.csum=ok synack.csumstate=full 'd.rewritten>=2' d.unchanged=0
done
exit $((NET_FAILS > 0))
