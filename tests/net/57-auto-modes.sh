#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 600
#
# The derived modes around --auto, in the seed's scene (AES-GCM-16 tunnel,
# 1500 underlay; tests/net/lib-ipsec.sh), checked by the MSS the server
# sees and the counters in the gateway's /proc/net/stat/ipsecmss:
#   - --auto on an IPsec path counts auto_ipsec; with no IPsec (the
#     gateway's own connection to the server over a route with MTU 1400)
#     it counts auto_route and gives what the kernel's TCPMSS
#     --clamp-mss-to-pmtu gives there;
#   - --fallback-mss is not used while an MTU is known (fallback and
#     auto_failed stay 0);
#   - --min-mss raises the floor above the derived value, and so does the
#     module parameter min_mss_ipv4 when --min-mss is not given;
#   - --overhead and --esp, with and without --mtu, from this file's own
#     arithmetic;
#   - a rule in ip6tables-legacy and iptables-nft alike.

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

trap ipsec_scene_down EXIT
IPSEC_STALL_TIMEOUT=3

stat_of() {
	ip netns exec "$IPSEC_NS_GW" awk -v k="$1" '$1 == k { print $2 }' /proc/net/stat/ipsecmss
}
snap() {
	local c
	for c in rewritten unchanged auto_ipsec auto_route auto_failed fallback; do
		eval "before_$c=$(stat_of $c)"
	done
}
# delta NAME: how much counter NAME grew since snap
delta() {
	local b
	eval "b=\${before_$1:-0}"
	echo $(($(stat_of "$1") - b))
}

# seen FAMILY RULE...: with only RULE on the gateway (mangle FORWARD), the
# client downloads; prints the MSS the server saw.
seen() {
	local fam=$1 out
	shift
	ipsec_gw_flush
	ipsec_gw_ipt "$fam" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN "$@" || { echo refused; return; }
	out=$(download 65536 "$IPSEC_STALL_TIMEOUT" "$fam")
	ipsec_gw_flush
	echo "$out" | awk '{ print $3 }'
}

check() {
	local n=$1 want=$2 got=$3
	if [ "$got" = "$want" ]; then pass "$n"; else fail "$n" "wanted $want, got $got"; fi
}

IPSEC_MODE=tunnel IPSEC_SUITE=aes-gcm-16 IPSEC_OUTER=4 IPSEC_NATT=0 IPSEC_UNDERLAY_MTU=1500
if ! ipsec_scene_up; then
	fail modes-scene "could not build the scene (see above)"
	exit 0
fi
# The scene's largest MSS by lib-ipsec.sh's ESP arithmetic; 55-auto-exact
# shows by probing that it is exact.
edge4=$(ipsec_expected_mss 4)
edge6=$(ipsec_expected_mss 6)

# --- counters of an IPsec path, fallback unused --------------------------
snap
m=$(seen 4 -j IPSECMSS --auto --fallback-mss 1300)
check auto-fallback-unused-mss "$edge4" "$m"
# Two segments: the client's SYN leaving the tunnel and the server's
# SYN-ACK entering it (1460 too, lowered as well).
check auto-counts-auto_ipsec 2 "$(delta auto_ipsec)"
check auto-counts-rewritten 2 "$(delta rewritten)"
check auto-ipsec-no-auto_route 0 "$(delta auto_route)"
check auto-fallback-counter-0 0 "$(delta fallback)"
check auto-auto_failed-counter-0 0 "$(delta auto_failed)"

# --- --min-mss and the module parameter ----------------------------------
m=$(seen 4 -j IPSECMSS --auto --min-mss $((edge4 + 10)))
check auto-min-mss-raises-floor $((edge4 + 10)) "$m"
m=$(seen 4 -j IPSECMSS --auto --min-mss 536)
check auto-min-mss-below-derived "$edge4" "$m"
p=/sys/module/xt_ipsecmss/parameters/min_mss_ipv4
old=$(cat $p)
if echo $((edge4 + 4)) >$p 2>/dev/null; then
	m=$(seen 4 -j IPSECMSS --auto)
	check auto-param-min_mss_ipv4-floor $((edge4 + 4)) "$m"
	# An explicit --min-mss wins over the parameter.
	m=$(seen 4 -j IPSECMSS --auto --min-mss 600)
	check auto-min-mss-beats-param "$edge4" "$m"
	echo "$old" >$p
else
	fail auto-param-min_mss_ipv4-floor "cannot write $p"
fi
# Never raise: a floor above the client's own 1460 leaves 1460.
m=$(seen 4 -j IPSECMSS --auto --min-mss 1480)
check auto-floor-never-raises 1460 "$m"

# --- --overhead and --esp ------------------------------------------------
# 1500 - 60 - 20 (IPv4) - 20 (TCP)
m=$(seen 4 -j IPSECMSS --overhead 60 --mtu 1500)
check overhead-mtu-1500 1400 "$m"
m=$(seen 4 -j IPSECMSS --overhead 60 --mtu 1400)
check overhead-mtu-1400 1300 "$m"
# without --mtu: the plain routes, 1500 both ways here
m=$(seen 4 -j IPSECMSS --overhead 73)
check overhead-route-mtu 1387 "$m"
# --esp without --mtu: the plain route MTU under the scene's own suite
m=$(seen 4 -j IPSECMSS --esp aes-gcm-16)
check esp-route-mtu "$edge4" "$m"
# The same SA arithmetic for IPv6 inside IPv4 (--outer ipv4 on ip6tables).
m=$(seen 6 -j IPSECMSS --esp aes-gcm-16 --outer ipv4 --mtu 1500)
check esp-v6-in-v4 "$edge6" "$m"
m=$(seen 6 -j IPSECMSS --auto)
check auto-v6-in-v4 "$edge6" "$m"

# --- the rule through both iptables back ends ----------------------------
for ipt in iptables-legacy iptables-nft; do
	m=$(IPSEC_IPT=$ipt seen 4 -j IPSECMSS --auto)
	check "auto-$ipt" "$edge4" "$m"
	m=$(IPSEC_IPT=$ipt seen 6 -j IPSECMSS --auto)
	check "auto-${ipt/iptables/ip6tables}" "$edge6" "$m"
done

# --- no IPsec: a correct clamp to the route MTU --------------------------
# The gateway's own connection to the server (OUTPUT), over a route with
# MTU 1400; the kernel's TCPMSS --clamp-mss-to-pmtu is the reference.
ip -n "$IPSEC_NS_GW" route replace "$IPSEC_SRVNET4" dev "$IPSEC_GW_SRV_IF" mtu lock 1400 advmss 1460
gw_fetch() {
	local out got secs port status from
	from=$(ipsec_syn_lines)
	out=$(ipsec_agent gw fetch "$IPSEC_SERVER4" "$IPSEC_PORT" 65536 5 "$IPSEC_GWSRV4") || { echo -; return; }
	read -r got secs port status <<<"$out"
	ipsec_seen_mss S "$port" "$from"
}
ipsec_gw_ipt 4 -t mangle -A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
ref=$(gw_fetch)
ipsec_gw_ipt 4 -t mangle -F
snap
ipsec_gw_ipt 4 -t mangle -A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
m=$(gw_fetch)
ipsec_gw_ipt 4 -t mangle -F
check auto-plain-route-is-tcpmss-clamp-1360 "1360 1360" "$ref $m"
check auto-plain-counts-auto_route 1 "$(delta auto_route)"
check auto-plain-no-auto_ipsec 0 "$(delta auto_ipsec)"
exit 0
