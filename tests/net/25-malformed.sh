#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile SYNs through `-i g0 -p tcp -j IPSECMSS --set-mss 1360`, IPv4 and
# IPv6, iptables-legacy and iptables-nft.  Each carries an MSS of 1460
# somewhere, so a walker that ignores the damage would rewrite it; the
# contract is: dropped, and counted once as malformed and once as dropped.
#   - option length 0 or 1, before or after the MSS option;
#   - an option longer than what is left of the header (by 6 and by 1);
#   - an option whose length byte is past the header end;
#   - an MSS option of length 2, 3 or 6, or cut by the header end;
#   - data offset 0 or 4, data offset past the end of the packet, a TCP
#     header shorter than 20 bytes.
# A non-SYN segment with a broken option list is not the target's business:
# it passes untouched (not_syn).

set -u
. "$(dirname "$0")/lib.sh"

if ! net_setup; then
	fail malformed-setup "could not build the client/gw/server namespaces"
	exit 1
fi
pkt_start

DROPPED="arrived=0 sentinel=ok delta=malformed:1,dropped:1"

# d NAME SEND-ARGS: the segment must be dropped and counted.
d() {
	# shellcheck disable=SC2086 # word lists on purpose
	pkt send fam=$fam $2
	# shellcheck disable=SC2086
	expect "malformed-$t-$1" "$PKT_OUT" $DROPPED
}

for fw in legacy nft; do
	gw_rules "malformed-v4-$fw-rule" $fw 4 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	gw_rules "malformed-v6-$fw-rule" $fw 6 "-i g0 -p tcp -j IPSECMSS --set-mss 1360" || continue
	for fam in 4 6; do
		t=v$fam-$fw

		d zero-length-first "opts=raw:1e000101,mss:1460"
		d zero-length-after-mss "opts=mss:1460,raw:1e000101"
		d one-length "opts=raw:1e010101,mss:1460"
		d length-past-end "opts=mss:1460,raw:080a0000"
		d length-past-end-by-1 "opts=mss:1460,raw:1e050000"
		d length-byte-cut-off "opts=mss:1460,raw:01010108"
		d mss-length-2 "opts=raw:02020101,mss:1460"
		d mss-length-3 "opts=raw:0203050101010101,mss:1460"
		d mss-length-6 "opts=raw:020605b400000101"
		d mss-cut-by-header-end "opts=mss:1460,raw:01010204"

		d data-offset-0 "opts=mss:1460 doff=0"
		d data-offset-4 "opts=mss:1460 doff=4"
		d data-offset-past-packet "opts=mss:1460 doff=15"
		d data-offset-past-packet-by-4 "opts=mss:1460 trunc=20"
		d header-16-bytes "trunc=16"

		pkt send fam=$fam flags=A "opts=raw:1e000101,mss:1460"
		expect "malformed-$t-non-syn-passes" "$PKT_OUT" arrived=1 sentinel=ok same=1 \
			delta=not_syn:1
	done
	gw_rules "malformed-v4-$fw-clear" $fw 4
	gw_rules "malformed-v6-$fw-clear" $fw 6
done
exit $((NET_FAILS > 0))
