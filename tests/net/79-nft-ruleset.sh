#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 300
#
# IPSECMSS beside a native nftables firewall, as Debian 13 ships one: the
# gateway's `table inet filter` has a forward chain with policy drop and
# "ct state established,related accept"; the IPSECMSS rule goes in through
# iptables-nft (mangle FORWARD).  In the seed's scene (lib-ipsec.sh), for
# IPv4 and IPv6: the download completes at the MSS lib-ipsec.sh's ESP
# arithmetic gives (55-auto-exact proves it exact by probing) and one byte
# more stalls; `nft list ruleset` and `iptables-save` both show the rule;
# restoring either one's saved rules leaves the other's intact.

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }
ok() { local n=$1 why=$2; shift 2; if "$@"; then pass "$n"; else fail "$n" "$why"; fi; }

IPSEC_IPT=iptables-nft
trap ipsec_scene_down EXIT
if ! ipsec_scene_up; then
	fail nft-scene "could not build the scene (see above)"
	exit 0
fi
gw() { ip netns exec "$IPSEC_NS_GW" "$@"; }
tmp=$(mktemp -d /tmp/nft-ruleset.XXXXXX)

# The firewall: forward policy drop, the web server reachable from the VPN.
cat >"$tmp/filter.nft" <<NFT
table inet filter
flush table inet filter
table inet filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ip saddr $IPSEC_CLIENT4 tcp dport $IPSEC_PORT accept
		ip6 saddr $IPSEC_CLIENT6 tcp dport $IPSEC_PORT accept
	}
}
NFT
if ! err=$(gw nft -f "$tmp/filter.nft" 2>&1); then
	fail nft-ruleset-loads "nft -f: $err"
	exit 0
fi
pass nft-ruleset-loads

for fam in 4 6; do
	ipsec_gw_ipt "$fam" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
	want=$(ipsec_expected_mss "$fam")
	read -r verdict got _ mss _ <<<"$(download_verdict 307200 "$fam")"
	echo "# v$fam: with the nftables firewall: $verdict, $got bytes, server saw MSS $mss (ESP arithmetic: $want)"
	ok "nft-ruleset-v$fam-download-completes" "$verdict, $got bytes" [ "$verdict" = complete ]
	ok "nft-ruleset-v$fam-mss-exact" "server saw $mss, the ESP arithmetic gives $want" [ "$mss" = "$want" ]
	# one byte more stalls, through the same firewall (the rule out of the way)
	ipsec_gw_ipt "$fam" -t mangle -F
	probe_mss $((want + 1)) "$fam" >/dev/null
	r=$?
	ok "nft-ruleset-v$fam-one-more-stalls" "TCPMSS --set-mss $((want + 1)): probe result $r (1 = stall)" [ "$r" = 1 ]
	ipsec_gw_ipt "$fam" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
done

# Both views show the rule; the firewall is there too.
ruleset=$(gw nft list ruleset 2>&1)
ok nft-list-shows-xt-target "nft list ruleset: $(grep -c . <<<"$ruleset") lines, no 'xt target IPSECMSS'" \
	grep -q 'xt target IPSECMSS' <<<"$ruleset"
ok nft-list-shows-filter "no 'policy drop' in nft list ruleset" grep -q 'policy drop' <<<"$ruleset"
for fam in 4 6; do
	saved=$(ipsec_gw_ipt "$fam" -S FORWARD -t mangle 2>&1)
	ok "iptables-save-v$fam-shows-rule" "$saved" grep -q -- '-j IPSECMSS --auto' <<<"$saved"
done

# iptables-restore of iptables-save's output leaves the nftables table.
gw iptables-nft-save >"$tmp/v4.rules" && gw ip6tables-nft-save >"$tmp/v6.rules"
gw iptables-nft-restore <"$tmp/v4.rules" && gw ip6tables-nft-restore <"$tmp/v6.rules"
ok iptables-restore-keeps-nft-table "table inet filter gone after iptables-restore" \
	gw nft list table inet filter
ok iptables-restore-keeps-rule "the IPSECMSS rule is gone after its own restore" \
	grep -q -- '-j IPSECMSS --auto' <<<"$(gw iptables-nft -t mangle -S FORWARD)"
# nft -f of the firewall file (it flushes its own table) leaves IPSECMSS.
gw nft -f "$tmp/filter.nft"
ok nft-restore-keeps-ipsecmss-v4 "no IPSECMSS rule after nft -f" \
	grep -q -- '-j IPSECMSS --auto' <<<"$(ipsec_gw_ipt 4 -t mangle -S FORWARD)"
ok nft-restore-keeps-ipsecmss-v6 "no IPSECMSS rule after nft -f" \
	grep -q -- '-j IPSECMSS --auto' <<<"$(ipsec_gw_ipt 6 -t mangle -S FORWARD)"
read -r verdict got _ mss _ <<<"$(download_verdict 307200 4)"
ok nft-after-restores-still-exact "$verdict, MSS $mss" [ "$verdict" = complete ] && [ "$mss" = "$(ipsec_expected_mss 4)" ]
rm -rf "$tmp"
exit 0
