#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# SYNs whose TCP header is not in the skb's linear area, through
# `-i g0 -p tcp -j IPSECMSS --set-mss 1360`, IPv4 and IPv6, iptables-legacy
# and iptables-nft.
#
# Why: the target reads the header with skb_header_pointer(), which hands
# back a pointer into the skb when the header is linear and otherwise
# copies it into a 60-byte buffer on the stack.  Every other crafted test
# sends small frames, which are linear, so the copy path is never taken
# there; and a read past the header in the linear area stays inside the
# skb's head allocation (tailroom, skb_shared_info) where KASAN cannot see
# it.  A frame of a page or more sent on an AF_PACKET socket is built
# paged, with only the Ethernet header linear, and the IP layer pulls only
# the IP header: the TCP header then reaches the target in page fragments,
# and an overread of the stack copy is a KASAN stack-out-of-bounds report.
# The links get MTU 9000 so the gateway forwards such frames.
#
# Run by tests/sanitized/check.sh (make check-sanitized) after tests/net;
# it passes on any kernel.

set -u
# shellcheck source=tests/net/lib.sh
. "${REPO:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/net/lib.sh"

if ! net_setup; then
	fail paged-setup "could not build the client/gw/server namespaces"
	exit 1
fi
if ! { ip -n "$NS_C" link set c0 mtu 9000 && ip -n "$NS_G" link set g0 mtu 9000 &&
       ip -n "$NS_G" link set g1 mtu 9000 && ip -n "$NS_S" link set s0 mtu 9000; }; then
	fail paged-setup "could not set MTU 9000 on the links"
	exit 1
fi
pkt_start

# 5000 bytes of payload: the frame is well over a page
PL=payload=5000
s=
for ((n = 1; n <= 40; n++)); do
	s+=01
	printf -v "NOP$n" 'raw:%s' "$s"
done
DLV="arrived=1 sentinel=ok opts=ok csum=ok ipcsum=ok iplen=ok iprest=same payload=5000 pdata=ok"
DROPPED="arrived=0 sentinel=ok delta=malformed:1,dropped:1"

# c NAME SEND-ARGS EXPECT...
c() {
	local name=$1 args=$2
	shift 2
	# shellcheck disable=SC2086 # word lists on purpose
	pkt send fam=$fam $PL $args
	# shellcheck disable=SC2086
	expect "paged-$t-$name" "$PKT_OUT" "$@"
}

for fw in legacy nft; do
	gw_rules "paged-v4-$fw-rule" $fw 4 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	gw_rules "paged-v6-$fw-rule" $fw 6 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	for fam in 4 6; do
		t=v$fam-$fw
		# shellcheck disable=SC2086
		c lowered "opts=mss:1460,nop,ws:7" $DLV mss=1360 rest=same delta=rewritten:1
		# shellcheck disable=SC2086
		c left-alone "opts=mss:1000,nop,ws:7" $DLV same=1 mss=1000 delta=unchanged:1
		# 60-byte headers: the walk ends at the last byte of the stack copy
		# shellcheck disable=SC2086
		c 60-mss-first "opts=mss:1460,$NOP36" $DLV doff=15 mss=1360 rest=same \
			delta=rewritten:1
		# shellcheck disable=SC2086
		c 60-mss-last "opts=$NOP36,mss:1460" $DLV doff=15 mss=1360 rest=same \
			delta=rewritten:1
		# shellcheck disable=SC2086
		c 60-no-mss "opts=$NOP40" $DLV same=1 doff=15 mss=none delta=no_mss:1
		# shellcheck disable=SC2086
		c 60-length-byte-cut-off "opts=mss:1460,$NOP35,raw:02" $DROPPED
		# shellcheck disable=SC2086
		c 60-length-past-end "opts=mss:1460,$NOP34,raw:1e05" $DROPPED
	done
	gw_rules "paged-v4-$fw-clear" $fw 4
	gw_rules "paged-v6-$fw-clear" $fw 6
done
exit $((NET_FAILS > 0))
