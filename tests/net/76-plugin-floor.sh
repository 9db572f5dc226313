#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The plugin's floor is the kernel's (issue 11, item 5).  With the module
# loaded, `iptables -L` shows the MSS a fixed --mtu rule sets, and the
# plugin refuses a fixed --mtu (or an --auto --mtu cap) below the floor,
# against the live module parameters min_mss_ipv4 / min_mss_ipv6, not
# their defaults.  Both frontends, IPv4 and IPv6.
#
# Oracles: the MSS the kernel writes on the wire for a SYN announcing
# 65000 (pkt.py), and floors this script chooses itself from that value.
# Whatever `iptables -L` shows must be what the wire carries, before and
# after the parameter is raised above it; a second rule with the same
# options is refused once the floor is above the wire value, naming the
# floor and the file it was read from, and accepted again below it.  An
# --auto --mtu M cap leaves at most M minus the IP and TCP headers (the
# test's own 40/60 bytes): refused one byte below the floor, accepted at it.
# Leaves the parameters at their defaults.

set -u
. "$(dirname "$0")/lib.sh"

P=/sys/module/xt_ipsecmss/parameters
declare -A DEF=([4]=536 [6]=1220) HDR=([4]=40 [6]=60)

wr() { printf '%s' "$2" >"$P/$1"; }

if [ ! -d "$P" ]; then
	fail plugin-floor-loaded "the harness did not load xt_ipsecmss"
	exit 1
fi
if ! net_setup; then
	fail plugin-floor-setup "could not build the client/gw/server namespaces"
	exit 1
fi
pkt_start

RULE=(-i g0 -p tcp -j IPSECMSS --esp aes-gcm-16 --mtu 1500)

# shown FW FAM: the rule as `iptables -L` prints it in $SHOWN, the N of
# its "(mss N" in $S
shown() {
	SHOWN=$(gw_ipt "$1" "$2" -t mangle -L FORWARD -n 2>&1 | grep IPSECMSS)
	S=$(sed -n 's/.*(mss \([0-9]*\).*/\1/p' <<<"$SHOWN")
}

for fw in legacy nft; do
	for fam in 4 6; do
		t="plugin-floor/$fw/v$fam"
		param=min_mss_ipv$fam
		wr "$param" "${DEF[$fam]}"
		gw_flush
		gw_rule "$t/insert" "$fw" "$fam" "${RULE[@]}" || continue

		# the value shown is the value on the wire
		pkt send fam="$fam" opts=mss:65000
		wire=$(sed -n 's/.* mss=\([0-9]*\) .*/\1/p' <<<" $PKT_OUT ")
		expect "$t/rewritten" "$PKT_OUT" arrived=1 csum=ok delta=rewritten:1
		shown "$fw" "$fam"
		if [ -n "$wire" ] && [ "$S" = "$wire" ]; then
			pass "$t/shown-is-wire"
		else
			fail "$t/shown-is-wire" "iptables -L: \"$SHOWN\", wire MSS ${wire:-none}"
		fi
		[ -n "$wire" ] || continue

		# a floor above it: the kernel raises, the listing follows
		floor=$((wire + 44))
		wr "$param" "$floor"
		pkt send fam="$fam" opts=mss:65000
		expect "$t/raised-on-wire" "$PKT_OUT" arrived=1 csum=ok mss="$floor"
		shown "$fw" "$fam"
		if [ "$S" = "$floor" ] && [[ "$SHOWN" == *"$wire raised to the floor, $param"* ]]; then
			pass "$t/shown-raised"
		else
			fail "$t/shown-raised" "iptables -L: \"$SHOWN\", floor $floor over $wire"
		fi

		# the same options again: refused against the live floor
		if err=$(gw_ipt "$fw" "$fam" -t mangle -A FORWARD "${RULE[@]}" 2>&1); then
			fail "$t/refused-live" "accepted with $param=$floor above MSS $wire"
		else
			ok_if "$t/refused-live" "message: $err" \
				grep -qF "MSS $wire, below the floor $floor ($param, read from $P/$param)" <<<"$err"
		fi
		# and accepted at a floor that the MSS reaches
		wr "$param" "$wire"
		if err=$(gw_ipt "$fw" "$fam" -t mangle -A FORWARD "${RULE[@]}" 2>&1); then
			pass "$t/accepted-at-floor"
		else
			fail "$t/accepted-at-floor" "refused with $param=$wire: $err"
		fi

		# --auto --mtu M: at most M - headers, against the live floor
		wr "$param" "$floor"
		m=$((floor + HDR[$fam]))
		if err=$(gw_ipt "$fw" "$fam" -t mangle -A FORWARD -p tcp -j IPSECMSS \
			--auto --mtu $((m - 1)) 2>&1); then
			fail "$t/auto-cap-refused" "--auto --mtu $((m - 1)) accepted with $param=$floor"
		else
			ok_if "$t/auto-cap-refused" "message: $err" \
				grep -qF "below the floor $floor ($param, read from $P/$param)" <<<"$err"
		fi
		if err=$(gw_ipt "$fw" "$fam" -t mangle -A FORWARD -p tcp -j IPSECMSS \
			--auto --mtu "$m" 2>&1); then
			pass "$t/auto-cap-accepted"
		else
			fail "$t/auto-cap-accepted" "--auto --mtu $m refused with $param=$floor: $err"
		fi
		wr "$param" "${DEF[$fam]}"
	done
done
gw_flush
wr min_mss_ipv4 536
wr min_mss_ipv6 1220
exit 0
