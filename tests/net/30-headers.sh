#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# What sits between the IP header and TCP, through
# `-i g0 -p tcp -j IPSECMSS --set-mss 1360`, iptables-legacy and -nft:
#   - IPv4 header options (4 and 40 bytes): MSS lowered, MSS inserted (the
#     IP total length and header checksum follow), a broken TCP option list
#     still found and dropped;
#   - IPv6 hop-by-hop, destination options, routing and atomic fragment
#     headers: the same;
#   - fragments (no defragmentation on the gateway): the first fragment of
#     a SYN has its MSS lowered and the reassembled segment's checksum is
#     right; the non-first fragment (whose data looks like a SYN with MSS
#     1460) is untouched, alone or after its first; no MSS is inserted into
#     a first fragment whose segment carries data further on.

set -u
. "$(dirname "$0")/lib.sh"

if ! net_setup; then
	fail headers-setup "could not build the client/gw/server namespaces"
	exit 1
fi
pkt_start

# NOPn: n NOP options, for options= and ipopts= (no subshell per case).
s=
for ((n = 1; n <= 39; n++)); do
	s+=01
	printf -v "NOP$n" 'raw:%s' "$s"
done
DLV="sentinel=ok opts=ok csum=ok ipcsum=ok iplen=ok iprest=same"

# c NAME SEND-ARGS EXPECT...
c() {
	local name=$1 args=$2
	shift 2
	# shellcheck disable=SC2086 # word lists on purpose
	pkt send fam=$fam $args
	# shellcheck disable=SC2086
	expect "headers-$t-$name" "$PKT_OUT" "$@"
}

for fw in legacy nft; do
	gw_rules "headers-v4-$fw-rule" $fw 4 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	gw_rules "headers-v6-$fw-rule" $fw 6 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	for fam in 4 6; do
		t=v$fam-$fw

		if [ $fam = 4 ]; then
			c ipopts-lowered "ipopts=nop,nop,nop,eol opts=mss:1460,nop,ws:7" $DLV arrived=1 \
				mss=1360 rest=same growth=0 delta=rewritten:1
			c ipopts-40-unaligned-lowered "ipopts=$NOP39,eol opts=nop,nop,nop,mss:1460,nop" \
				$DLV arrived=1 mss=1360 rest=same growth=0 delta=rewritten:1
			c ipopts-inserted "ipopts=nop,nop,nop,eol" $DLV arrived=1 mss=536 doff=6 growth=4 \
				delta=inserted:1
			c ipopts-malformed-dropped "ipopts=nop,nop,nop,eol opts=raw:1e000101,mss:1460" \
				arrived=0 sentinel=ok delta=malformed:1,dropped:1
		else
			c ext-hbh-lowered "ext=hbh opts=mss:1460,nop,ws:7" $DLV arrived=1 mss=1360 \
				rest=same growth=0 delta=rewritten:1
			c ext-hbh-dst-rt-dst-unaligned-lowered "ext=hbh,dst,rt,dst opts=nop,mss:1460,nop,nop,nop" \
				$DLV arrived=1 mss=1360 rest=same growth=0 delta=rewritten:1
			c ext-atomic-fragment-lowered "ext=hbh,frag opts=mss:1460" $DLV arrived=1 mss=1360 \
				rest=same growth=0 delta=rewritten:1
			c ext-inserted "ext=hbh,dst,rt" $DLV arrived=1 mss=1220 doff=6 growth=4 \
				delta=inserted:1
			c ext-malformed-dropped "ext=hbh,dst opts=raw:1e000101,mss:1460" \
				arrived=0 sentinel=ok delta=malformed:1,dropped:1
		fi

		c frag-first-lowered "opts=mss:1460 payload=fakesyn frag=24" $DLV arrived=2 same=0,1 \
			reasm=ok mss=1360 payload=24 pdata=ok rest=same delta=rewritten:1,fragment:1
		[ $fam = 6 ] && c frag-after-ext-first-lowered "ext=hbh,dst opts=mss:1460 payload=fakesyn frag=24" \
			$DLV arrived=2 same=0,1 reasm=ok mss=1360 pdata=ok rest=same \
			delta=rewritten:1,fragment:1
		c frag-non-first-alone-untouched "opts=mss:1460 payload=fakesyn frag=24 only=2" \
			arrived=1 same=1 sentinel=ok delta=fragment:1
		c frag-first-no-mss-not-inserted "opts=nop,ws:7 payload=16 frag=24" $DLV arrived=2 \
			same=1,1 reasm=ok mss=none pdata=ok delta=no_mss:1,fragment:1
		c frag-first-malformed-dropped "opts=raw:1e000101,mss:1460 payload=16 frag=24" \
			arrived=1 same=0,1 sentinel=ok delta=fragment:1,malformed:1,dropped:1
	done
	gw_rules "headers-v4-$fw-clear" $fw 4
	gw_rules "headers-v6-$fw-clear" $fw 6
done
exit $((NET_FAILS > 0))
