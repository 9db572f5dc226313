#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Crafted segments through `-i g0 -p tcp -j IPSECMSS --set-mss 1360`, IPv4
# and IPv6, iptables-legacy and iptables-nft; each checked as captured at
# the server (MSS values, checksum, every other byte unchanged) and by the
# exact counters that moved:
#   - MSS above 1360 lowered, at 1360 or below left alone, SYN and SYN-ACK;
#   - MSS after 1 and 3 NOPs (odd offsets), also with 65535 and with
#     timestamps after it;
#   - two MSS options: every one above 1360 lowered;
#   - non-SYN segments with an MSS option: untouched;
#   - no MSS option: one inserted (536 / 1220), also in a SYN-ACK, keeping
#     the other options, up to a 56-byte header; none when the header is
#     full (60 bytes) or the SYN carries data;
#   - a SYN with data: its MSS lowered;
#   - options after End of Option List are padding, not options;
#   - the inserted value is the smaller of the target and 536 / 1220.

set -u
. "$(dirname "$0")/lib.sh"

if ! net_setup; then
	fail options-setup "could not build the client/gw/server namespaces"
	exit 1
fi
pkt_start

declare -A INS=([4]=536 [6]=1220)
# NOPn: n NOP options, for options= and ipopts= (no subshell per case).
s=
for ((n = 1; n <= 39; n++)); do
	s+=01
	printf -v "NOP$n" 'raw:%s' "$s"
done
# Every crafted segment that gets through must look right on the wire.
DLV="arrived=1 sentinel=ok opts=ok csum=ok ipcsum=ok iplen=ok iprest=same"

# c NAME SEND-ARGS EXPECT...
c() {
	local name=$1 args=$2
	shift 2
	# shellcheck disable=SC2086 # word lists on purpose
	pkt send fam=$fam $args
	# shellcheck disable=SC2086
	expect "options-$t-$name" "$PKT_OUT" $DLV "$@"
}

for fw in legacy nft; do
	gw_rules "options-v4-$fw-rule" $fw 4 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	gw_rules "options-v6-$fw-rule" $fw 6 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	for fam in 4 6; do
		t=v$fam-$fw

		c lowered "opts=mss:1460,nop,ws:7" flags=S mss=1360 others=3 rest=same growth=0 \
			delta=rewritten:1
		c equal-left-alone "opts=mss:1360,nop,ws:7" same=1 mss=1360 delta=unchanged:1
		c lower-left-alone "opts=mss:1000,nop,ws:7" same=1 mss=1000 delta=unchanged:1
		c synack-lowered "flags=SA opts=mss:1460,nop,ws:7" flags=SA mss=1360 rest=same \
			delta=rewritten:1

		c after-1-nop "opts=nop,mss:1460,nop,nop,nop" mss=1360 rest=same delta=rewritten:1
		c after-3-nops "opts=nop,nop,nop,mss:1460,nop" mss=1360 rest=same delta=rewritten:1
		c after-1-nop-65535 "opts=nop,mss:65535,nop,nop,nop" mss=1360 rest=same delta=rewritten:1
		c after-3-nops-65535 "opts=nop,nop,nop,mss:65535,nop" mss=1360 rest=same delta=rewritten:1
		c unaligned-with-ts "opts=nop,mss:1460,sackok,nop,ts,nop,nop" mss=1360 others=4,8 \
			rest=same delta=rewritten:1

		c two-mss-both "opts=mss:1460,mss:1400" mss=1360,1360 rest=same delta=rewritten:1
		c two-mss-second "opts=mss:1200,mss:1460" mss=1200,1360 rest=same delta=rewritten:1
		c two-mss-unaligned "opts=nop,mss:1460,nop,nop,nop,mss:9000" mss=1360,1360 rest=same \
			delta=rewritten:1

		c non-syn-ack "flags=A opts=mss:1460,nop,ws:7" same=1 mss=1460 delta=not_syn:1
		c non-syn-data "flags=PA opts=mss:1460 payload=100" same=1 mss=1460 payload=100 \
			delta=not_syn:1
		c non-syn-rst "flags=R opts=mss:9000" same=1 mss=9000 delta=not_syn:1

		c inserted "" mss=${INS[$fam]} doff=6 payload=0 growth=4 delta=inserted:1
		c inserted-keeps-options "opts=nop,ws:7,sackok,nop,nop" mss=${INS[$fam]} doff=8 \
			others=3,4 payload=0 growth=4 delta=inserted:1
		c synack-inserted "flags=SA" flags=SA mss=${INS[$fam]} doff=6 growth=4 delta=inserted:1
		c inserted-into-56-byte-header "opts=ts,ws:7,sackok,$NOP21" mss=${INS[$fam]} \
			doff=15 others=8,3,4 growth=4 delta=inserted:1
		c no-room-in-60-byte-header "opts=ts,ws:7,sackok,$NOP25" same=1 mss=none \
			doff=15 delta=no_mss:1

		c payload-lowered "opts=mss:1460,nop,ws:7 payload=100" mss=1360 payload=100 pdata=ok \
			rest=same delta=rewritten:1
		c payload-not-inserted "payload=100" same=1 mss=none payload=100 delta=no_mss:1

		c eol-ends-list "opts=mss:1460,eol,raw:1e0000" mss=1360 rest=same delta=rewritten:1
	done
	gw_rules "options-v4-$fw-clear" $fw 4
	gw_rules "options-v6-$fw-clear" $fw 6
done

# The value inserted: min(target, 536) for IPv4, min(target, 1220) for IPv6.
for n in 1000 500; do
	for fam in 4 6; do
		t=v$fam-nft-$n
		gw_rules "options-$t-rule" nft $fam "-i g0 -p tcp -j IPSECMSS --set-mss $n" || continue
		want=$n
		[ "$n" -gt "${INS[$fam]}" ] && want=${INS[$fam]}
		c inserted "" mss=$want growth=4 delta=inserted:1
		c lowered "opts=mss:1460" mss=$n rest=same delta=rewritten:1
	done
done
exit $((NET_FAILS > 0))
