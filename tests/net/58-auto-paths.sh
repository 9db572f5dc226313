#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 900
#
# --auto on the paths real gateways have (issue 11, items 2, 3, 4, 7, 8).
# With one rule on the gateway,
#   -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
# a 300 KB transfer through real ESP, from a server that drops ICMP
# frag-needed / packet-too-big (tests/net/lib-ipsec.sh), must complete, and
# the MSS the server saw must be the largest that gets through: the
# kernel's own TCPMSS --set-mss one byte higher stalls (the oracle,
# independent of the code under test; no expected value is hard-coded).
# The counter in the gateway's /proc/net/stat/ipsecmss that says why
# (from_route, from_secpath, from_cap) must grow around the transfer.
# IPv4 and IPv6 inside, each case:
#   2a  route-based (xfrm interface) with ipsec0 at MTU 1400: the reverse
#       path of a SYN leaving the tunnel is capped by the device (from_route)
#   2b  policy-based with the pool route "mtu lock 1400" (from_route)
#   2c  policy-based with a PMTU exception the gateway learnt toward the
#       client's outer address (an ICMP frag-needed / ICMPv6 packet-too-big
#       quoting the gateway's own ESP, as esp4_err/esp6_err take it),
#       IPv4 and IPv6 outer (from_secpath: the route toward the peer)
#   3   policy routing of the SA's ESP: the gateway's outbound SAs carry
#       output-mark 0x64 and "ip rule fwmark 0x64" leads to a table whose
#       route to the client is "mtu lock 1400"; also a source-address rule
#       (the SA's local address selects the table); IPv4 and IPv6 outer;
#       download (SYN leaving the tunnel, from_secpath) and push (the
#       client's SYN-ACK leaving it)
#   4   an underlay the gateway cannot see: its link is 9000, the client's
#       end 1500 (larger packets are dropped silently): --auto alone stalls
#       (the cap is needed), --auto --mtu 1500 is exact (from_cap)
#   7   no key exchange on the module's behalf: a SYN whose reply would
#       enter a policy without an SA, dropped by a later filter rule, must
#       not make the kernel send an ACQUIRE (counted with ip xfrm monitor),
#       through an xfrm interface and policy-based; also with the rule in
#       mangle POSTROUTING (where the man page sends rules that must not
#       look ahead of the filter table); a control without the filter rule
#       shows the monitor counts the kernel's own ACQUIRE.
# AUTO_PATHS_CASES (default: all) picks groups: 7 2a 2b 2c 3 4 outer6.
# "# RESULT" lines give the MSS the server saw and the verdict per case.

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

bytes=307200
IPSEC_STALL_TIMEOUT=3
trap 'acq_monitor_stop; ipsec_scene_down' EXIT
want() { [[ " ${AUTO_PATHS_CASES:-7 2a 2b 2c 3 4 outer6} " == *" $1 "* ]]; }

gw() { ip -n "$IPSEC_NS_GW" "$@"; }
cl() { ip -n "$IPSEC_NS_CL" "$@"; }

# --- counters --------------------------------------------------------------
# snap before a transfer, snap after; then delta NAME and deltas
# (lib-ipsec.sh) give the growth of the gateway's counters.
# shellcheck disable=SC2034 # read by deltas (lib-ipsec.sh)
COUNTERS="from_bundle from_secpath from_device from_route from_cap auto_ipsec auto_route rewritten"
snap() { stat_read STAT_BEFORE; }
snap_after() { stat_read STAT_AFTER; }

# --- transfers -------------------------------------------------------------
auto_rule() {
	local fam=$1
	shift
	ipsec_gw_ipt "$fam" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN \
		-j IPSECMSS --auto "$@"
}

# transfer NAME FAMILY DIRECTION AUTO-ARGS...: with only the --auto rule
# (and AUTO-ARGS) on the gateway, one 300 KB transfer; sets T_VERDICT,
# T_GOT, T_SECS, T_MSS, T_STATUS and T_DELTAS (counter growth).
transfer() {
	local n=$1 fam=$2 dir=$3 out err
	shift 3
	T_VERDICT=refused T_GOT=0 T_SECS=- T_MSS=- T_STATUS=- T_DELTAS=
	ipsec_gw_flush
	if ! err=$(auto_rule "$fam" "$@" 2>&1); then
		T_STATUS="refused: $(echo "$err" | tr '\n' ' ')"
		return 1
	fi
	snap
	if [ "$dir" = push ]; then
		out=$(push_verdict $bytes "$fam")
	else
		out=$(download_verdict $bytes "$fam")
	fi
	snap_after
	T_DELTAS=$(deltas)
	ipsec_gw_flush
	read -r T_VERDICT T_GOT T_SECS T_MSS T_STATUS <<<"$out"
	echo "# $n: --auto $*: $T_GOT/$bytes bytes in ${T_SECS}s, server saw MSS $T_MSS, $T_STATUS; counters: $T_DELTAS"
	echo "# RESULT $n: rule=--auto${*:+ $*} mss=$T_MSS verdict=$T_VERDICT"
	return 0
}

# counted NAME COUNTER: COUNTER grew during the last transfer.
counted() {
	local n=$1 c=$2 d
	d=$(delta "$c")
	if [ -z "$d" ]; then
		fail "$n-counts-$c" "no counter $c in /proc/net/stat/ipsecmss"
	elif [ "$d" -ge 1 ]; then
		pass "$n-counts-$c"
	else
		fail "$n-counts-$c" "$c did not grow (counters: $T_DELTAS)"
	fi
}

# exact NAME FAMILY DIRECTION COUNTER [AUTO-ARGS...]: DIRECTION down (the
# client downloads: its SYN leaves the tunnel) or push (the server sends
# to the client: the client's SYN-ACK leaves it).  The transfer completes,
# MSS+1 stalls (check_max_mss at the --auto value: the completed transfer
# is the first half), COUNTER grew.
exact() {
	local n=$1 fam=$2 dir=$3 ctr=$4 out r
	shift 4
	if ! transfer "$n" "$fam" "$dir" "$@"; then
		fail "$n-auto-completes" "--auto $* rule refused: $T_STATUS"
		echo "# RESULT $n: rule=--auto${*:+ $*} refused"
		return
	fi
	counted "$n" "$ctr"
	if [ "$T_VERDICT" != complete ]; then
		fail "$n-auto-completes" "$T_VERDICT: $T_GOT/$bytes bytes, server saw MSS $T_MSS, $T_STATUS"
		return
	fi
	pass "$n-auto-completes"
	case "$T_MSS" in ''|*[!0-9]*) fail "$n-auto-mss" "server saw no MSS ($T_MSS)"; return ;; esac
	if [ "$dir" = push ]; then
		out=$(probe_push $((T_MSS + 1)) "$fam"); r=$?
	else
		out=$(probe_mss $((T_MSS + 1)) "$fam"); r=$?
	fi
	echo "# $n: TCPMSS --set-mss $((T_MSS + 1)): $out"
	case $r in
	1) pass "$n-auto-$T_MSS-is-the-largest" ;;
	0) fail "$n-auto-$T_MSS-is-the-largest" "MSS $((T_MSS + 1)) gets through too: $T_MSS wastes bytes" ;;
	*) fail "$n-auto-$T_MSS-is-the-largest" "the oracle failed: $out" ;;
	esac
}

# --- scenes ------------------------------------------------------------------
scene() {
	ipsec_scene_down
	if ipsec_scene_up; then
		return 0
	fi
	fail "$1-scene" "could not build the scene (see above)"
	return 1
}
resa() {
	ipsec_sa_down
	if ipsec_sa_up; then
		return 0
	fi
	fail "$1-sa" "could not set up the SAs (see above)"
	return 1
}

# shows NAME PATTERN CMD...: the kernel's answer to CMD matches PATTERN
# (grep -E); the scene is what the case says it is.
shows() {
	local n=$1 pat=$2 out
	shift 2
	out=$("$@" 2>&1)
	echo "# $n: $*: $(echo "$out" | tr '\n' ' ')"
	if grep -Eq -- "$pat" <<<"$out"; then
		pass "$n"
		return 0
	fi
	fail "$n" "'$*' does not show /$pat/: $(echo "$out" | tr '\n' ' ')"
	return 1
}

# The client's and the gateway's outer (underlay) addresses.
outer_addrs() {
	if [ "$IPSEC_OUTER" = 6 ]; then
		OCL=$IPSEC_CLU6 OGW=$IPSEC_GWU6 IPF=-6
	else
		OCL=$IPSEC_CLU4 OGW=$IPSEC_GWU4 IPF=-4
	fi
}

# --- item 2c: a PMTU exception learnt from an ICMP error ------------------

# learnt NAME IPF DEST: icmp_too_big (the rest of the arguments) made the
# gateway learn a PMTU of 1400 toward DEST; `ip route get` shows it.
learnt() {
	local n=$1 ipf=$2 dest=$3 out
	shift 3
	out=$(gw "$ipf" route get "$dest")
	if grep -q 'mtu' <<<"$out"; then
		fail "$n-none-before" "the route already has an MTU: $(echo "$out" | tr '\n' ' ')"
	else
		pass "$n-none-before"
	fi
	out=$(icmp_too_big "$@" 2>&1)
	echo "# $n: $out"
	sleep 0.3
	if ! shows "$n-learnt" 'mtu 1400' gw "$ipf" route get "$dest"; then
		echo "# $n: the gateway did not learn the PMTU: case left out"
		return 1
	fi
}

# The route toward the IPsec peer: an ICMP error quoting the gateway's own
# ESP (its outbound SA's SPI), which esp4_err/esp6_err turn into a PMTU
# exception on the route to the client's outer address.
case_2c_peer() {
	local n=pmtu-exception-peer-o$IPSEC_OUTER spi
	outer_addrs
	spi=$(gw xfrm state list src "$OGW" dst "$OCL" | awk '$1 == "proto" && $3 == "spi" { print $4; exit }')
	if [ -z "$spi" ]; then
		fail "$n-spi" "no outbound SA on the gateway"
		return
	fi
	if learnt "$n" "$IPF" "$OCL" "$OGW" "$OGW" "$OCL" 50 "$(printf '%08x00000001' "$spi")" 1400; then
		exact "$n-v4-down" 4 down from_secpath
		exact "$n-v6-down" 6 down from_secpath
	fi
	gw "$IPF" route flush cache
}

# The plain route back to the client's pool address: an ICMP error quoting
# an echo reply from the gateway to it (icmp_err / icmpv6_err update the
# PMTU of that route).
case_2c_pool() {
	local n=pmtu-exception-pool
	if learnt "$n-v4" -4 "$IPSEC_CLIENT4" "$IPSEC_GWU4" "$IPSEC_GWSRV4" "$IPSEC_CLIENT4" 1 0000000000000001 1400; then
		exact "$n-v4-down" 4 down from_route
	fi
	if learnt "$n-v6" -6 "$IPSEC_CLIENT6" "$IPSEC_GWU6" "$IPSEC_GWSRV6" "$IPSEC_CLIENT6" 58 8100000000000001 1400; then
		exact "$n-v6-down" 6 down from_route
	fi
	gw -4 route flush cache
	gw -6 route flush cache
}

# --- item 3: the SA's output mark, the SA's source address -----------------
case_3_mark() {
	local o=o$IPSEC_OUTER n
	outer_addrs
	n=output-mark-$o
	# shellcheck disable=SC2034 # read by lib-ipsec.sh
	IPSEC_GW_OUTPUT_MARK=0x64
	resa "$n" || { unset IPSEC_GW_OUTPUT_MARK; return; }
	unset IPSEC_GW_OUTPUT_MARK
	shows "$n-sa-has-it" 'output-mark 0x64' gw xfrm state list src "$OGW" dst "$OCL"
	gw $IPF rule add fwmark 0x64 lookup 100
	gw route add "$OCL" dev "$IPSEC_GW_VPN_IF" mtu lock 1400 table 100
	shows "$n-route" 'mtu lock 1400' gw $IPF route get "$OCL" mark 0x64
	exact "$n-v4-down" 4 down from_secpath
	exact "$n-v6-down" 6 down from_secpath
	if [ "$IPSEC_OUTER" = 4 ]; then
		exact "$n-v4-push" 4 push from_secpath
		exact "$n-v6-push" 6 push from_secpath
	fi
	gw $IPF rule del fwmark 0x64 lookup 100
	gw route del "$OCL" table 100
	resa "$n-restore"
}

case_3_src() {
	local o=o$IPSEC_OUTER n
	outer_addrs
	n=source-rule-$o
	gw $IPF rule add from "$OGW" lookup 101
	gw route add "$OCL" dev "$IPSEC_GW_VPN_IF" mtu lock 1400 table 101
	shows "$n-route" 'mtu lock 1400' gw $IPF route get "$OCL" from "$OGW"
	exact "$n-v4-down" 4 down from_secpath
	exact "$n-v6-down" 6 down from_secpath
	gw $IPF rule del from "$OGW" lookup 101
	gw route del "$OCL" table 101
}

# --- item 7: ACQUIREs ---------------------------------------------------------
ACQ_PID=
acq_monitor_stop() {
	[ -z "$ACQ_PID" ] && return 0
	kill "$ACQ_PID" 2>/dev/null
	wait "$ACQ_PID" 2>/dev/null
	ACQ_PID=
}
acquires() { grep -c '^acquire' "$IPSEC_DIR/acquire.log"; }
larval() { gw xfrm state list | grep -c 'spi 0x00000000'; }

# syn_from FAMILY NET: a connection attempt from the client's address
# 10.NET.0.5 / fdNET::5 (sent in clear over the underlay) to the server.
syn_from() {
	if [ "$1" = 6 ]; then
		ipsec_agent cl fetch "$IPSEC_SERVER6" "$IPSEC_PORT" 1000 1.5 "fd$2::5"
	else
		ipsec_agent cl fetch "$IPSEC_SERVER4" "$IPSEC_PORT" 1000 1.5 "10.$2.0.5"
	fi
}

# case_7 NAME: the gateway has outbound policies for 10.98.0.0/24 and
# fd98::/64 (behind the xfrm interface in xfrmi mode) and no SA for them;
# a client SYN from there to the server passes mangle FORWARD and is
# dropped in filter FORWARD.  The reply that a key exchange would be for
# is never sent: no ACQUIRE may be seen, with or without the --auto rule.
# The control has policies of its own (10.97.0.0/24, fd97::/64, other
# reqids: a larval state left by a failure above would hold back a new
# ACQUIRE for the same template) and no filter rule: the server answers,
# the kernel's own forwarding asks for the SA, the monitor must see it.
case_7() {
	local n=$1 ifid='' dev4 dev6 a0 a1 a2 a3 l net
	outer_addrs
	if [ "$IPSEC_MODE" = xfrmi ]; then
		ifid="if_id 7" dev4="dev ipsec0" dev6="dev ipsec0"
	else
		dev4="via $IPSEC_CLU4 dev $IPSEC_GW_VPN_IF" dev6="via $IPSEC_CLU6 dev $IPSEC_GW_VPN_IF"
	fi
	for net in 98 97; do
		if ! gw -batch - <<-EOF; then
			xfrm policy add src $IPSEC_SRVNET4 dst 10.$net.0.0/24 dir out $ifid tmpl src $OGW dst $OCL proto esp reqid 4$net mode tunnel
			xfrm policy add src $IPSEC_SRVNET6 dst fd$net::/64 dir out $ifid tmpl src $OGW dst $OCL proto esp reqid 6$net mode tunnel
			route add 10.$net.0.0/24 $dev4
			route add fd$net::/64 $dev6
		EOF
			fail "$n-setup" "gateway policies/routes refused"
			return
		fi
		if ! cl -batch - <<-EOF; then
			addr add 10.$net.0.5/32 dev lo
			addr add fd$net::5/128 dev lo nodad
		EOF
			fail "$n-setup" "client addresses refused"
			return
		fi
		if ! cl -4 rule add from "10.$net.0.5" lookup 102 || ! cl -6 rule add from "fd$net::5" lookup 102; then
			fail "$n-setup" "client rules refused"
			return
		fi
	done
	if ! cl -batch - <<-EOF; then
		route add $IPSEC_SERVER4/32 via $IPSEC_GWU4 dev $IPSEC_CL_IF table 102
		route add $IPSEC_SERVER6/128 via $IPSEC_GWU6 dev $IPSEC_CL_IF table 102
	EOF
		fail "$n-setup" "client routes refused"
		return
	fi
	if ! ipsec_gw_ipt 4 -A FORWARD -s 10.98.0.0/24 -j DROP ||
		! ipsec_gw_ipt 6 -A FORWARD -s fd98::/64 -j DROP; then
		fail "$n-setup" "filter rules refused"
		return
	fi
	: >"$IPSEC_DIR/acquire.log"
	ip -n "$IPSEC_NS_GW" xfrm monitor acquire >>"$IPSEC_DIR/acquire.log" 2>&1 &
	ACQ_PID=$!
	sleep 1

	ipsec_gw_flush
	l=$(syn_from 4 98); echo "# $n: no rule, v4: $l"
	l=$(syn_from 6 98); echo "# $n: no rule, v6: $l"
	a0=$(acquires)
	if [ "$a0" = 0 ]; then pass "$n-no-acquire-without-rule"; else
		fail "$n-no-acquire-without-rule" "$a0 ACQUIREs: $(tr '\n' ' ' <"$IPSEC_DIR/acquire.log")"; fi

	# The place the man page names for a rule that must not look ahead
	# of the filter table: mangle POSTROUTING (before the FORWARD rule:
	# a larval state that one leaves would hold back a later ACQUIRE).
	if ! ipsec_gw_ipt 4 -t mangle -A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto ||
		! ipsec_gw_ipt 6 -t mangle -A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto; then
		fail "$n-rule" "--auto refused in POSTROUTING"
		acq_monitor_stop
		return
	fi
	l=$(syn_from 4 98); echo "# $n: --auto in POSTROUTING, v4: $l"
	l=$(syn_from 6 98); echo "# $n: --auto in POSTROUTING, v6: $l"
	a1=$(acquires)
	if [ "$a1" = "$a0" ]; then pass "$n-no-acquire-with-auto-in-postrouting"; else
		fail "$n-no-acquire-with-auto-in-postrouting" "$((a1 - a0)) ACQUIRE(s): $(tr '\n' ' ' <"$IPSEC_DIR/acquire.log")"; fi
	ipsec_gw_flush
	a0=$a1

	if ! auto_rule 4 || ! auto_rule 6; then
		fail "$n-rule" "--auto refused"
		acq_monitor_stop
		return
	fi
	snap
	l=$(syn_from 4 98); echo "# $n: --auto, v4: $l"
	a1=$(acquires)
	l=$(syn_from 6 98); echo "# $n: --auto, v6: $l"
	a2=$(acquires)
	snap_after
	echo "# $n: counters: $(deltas)"
	echo "# RESULT $n: acquires v4=$((a1 - a0)) v6=$((a2 - a1)) larval=$(larval)"
	if [ "$a1" = "$a0" ]; then pass "$n-v4-no-acquire-with-auto"; else
		fail "$n-v4-no-acquire-with-auto" "$((a1 - a0)) ACQUIRE(s) for a SYN that filter FORWARD dropped: $(tr '\n' ' ' <"$IPSEC_DIR/acquire.log")"; fi
	if [ "$a2" = "$a1" ]; then pass "$n-v6-no-acquire-with-auto"; else
		fail "$n-v6-no-acquire-with-auto" "$((a2 - a1)) ACQUIRE(s) for a SYN that filter FORWARD dropped: $(tr '\n' ' ' <"$IPSEC_DIR/acquire.log")"; fi
	l=$(larval)
	if [ "$l" = 0 ]; then pass "$n-no-larval-state"; else
		fail "$n-no-larval-state" "$l acquire state(s): $(gw xfrm state list | grep -A1 'spi 0x00000000' | tr '\n' ' ')"; fi

	ipsec_gw_flush
	l=$(syn_from 4 97); echo "# $n: control, v4: $l"
	a3=$(acquires)
	if [ "$a3" -gt "$a2" ]; then pass "$n-control-v4-monitor-counts"; else
		fail "$n-control-v4-monitor-counts" "the kernel's own ACQUIRE was not seen: the counts above prove nothing"; fi
	l=$(syn_from 6 97); echo "# $n: control, v6: $l"
	a2=$a3 a3=$(acquires)
	if [ "$a3" -gt "$a2" ]; then pass "$n-control-v6-monitor-counts"; else
		fail "$n-control-v6-monitor-counts" "the kernel's own ACQUIRE was not seen: the counts above prove nothing"; fi
	acq_monitor_stop
	ipsec_gw_ipt 4 -F FORWARD && ipsec_gw_ipt 6 -F FORWARD
	for net in 98 97; do
		gw -batch - <<-EOF
			xfrm policy delete src $IPSEC_SRVNET4 dst 10.$net.0.0/24 dir out $ifid
			xfrm policy delete src $IPSEC_SRVNET6 dst fd$net::/64 dir out $ifid
			route del 10.$net.0.0/24
			route del fd$net::/64
		EOF
		cl -4 rule del from "10.$net.0.5" lookup 102
		cl -6 rule del from "fd$net::5" lookup 102
	done
}

# =============================================================================
# shellcheck disable=SC2034 # read by lib-ipsec.sh
IPSEC_SUITE=aes-gcm-16 IPSEC_NATT=0 IPSEC_OUTER=4 IPSEC_UNDERLAY_MTU=1500

# --- route-based: xfrm interface ------------------------------------------------
IPSEC_MODE=xfrmi
if { want 7 || want 2a; } && scene xfrmi; then
	want 7 && case_7 no-acquire-xfrmi
	if want 2a; then
		gw link set ipsec0 mtu 1400
		shows xfrmi-mtu-1400-dev 'mtu 1400' gw link show ipsec0
		exact xfrmi-mtu-1400-v4-down 4 down from_route
		exact xfrmi-mtu-1400-v6-down 6 down from_route
		exact xfrmi-mtu-1400-v4-push 4 push from_route
	fi
fi

# --- policy-based ---------------------------------------------------------------
IPSEC_MODE=tunnel IPSEC_OUTER=4
if { want 2b || want 2c || want 3 || want outer6; } && scene tunnel; then
	if want 2b; then
		gw -batch - <<-EOF
			route replace $IPSEC_CLIENT4/32 dev $IPSEC_GW_VPN_IF mtu lock 1400
			route replace $IPSEC_CLIENT6/128 dev $IPSEC_GW_VPN_IF mtu lock 1400
		EOF
		shows pool-route-lock-v4 'mtu lock 1400' gw route get "$IPSEC_CLIENT4"
		shows pool-route-lock-v6 'mtu lock 1400' gw route get "$IPSEC_CLIENT6"
		exact pool-route-lock-v4-down 4 down from_route
		exact pool-route-lock-v6-down 6 down from_route
		gw -batch - <<-EOF
			route replace $IPSEC_CLIENT4/32 dev $IPSEC_GW_VPN_IF
			route replace $IPSEC_CLIENT6/128 dev $IPSEC_GW_VPN_IF
		EOF
	fi
	want 2c && case_2c_pool
	want 2c && case_2c_peer
	if want 3; then
		case_3_mark
		case_3_src
	fi
	if want outer6; then
		IPSEC_OUTER=6
		if resa outer6; then
			want 2c && case_2c_peer
			if want 3; then
				case_3_mark
				case_3_src
			fi
			want 7 && case_7 no-acquire-policy
		fi
	elif want 7; then
		case_7 no-acquire-policy
	fi
fi

# --- an underlay the gateway cannot see -----------------------------------------
IPSEC_MODE=tunnel IPSEC_OUTER=4 IPSEC_UNDERLAY_MTU=9000
if want 4 && scene underlay-9000; then
	# A veth takes frames up to its MTU + 18 (Ethernet header and a VLAN
	# tag): the client's end at 1500 passes IP packets of up to 1504
	# bytes.  The drop rule makes the path exactly 1500 further out, still
	# without any ICMP.
	cl link set "$IPSEC_CL_IF" mtu 1500
	ip netns exec "$IPSEC_NS_CL" "$IPSEC_IPT" -t raw -A PREROUTING -i "$IPSEC_CL_IF" \
		-m length --length 1501:65535 -j DROP ||
		fail underlay-cap-drop-rule "the client's raw PREROUTING rule was refused"
	for f in 4 6; do
		n=underlay-cap-v$f
		if transfer "$n-uncapped" "$f" down; then
			if [ "$T_VERDICT" = stall ]; then
				pass "$n-uncapped-stalls"
			else
				fail "$n-uncapped-stalls" "--auto alone: $T_VERDICT with MSS $T_MSS: the scene shows no black hole"
			fi
		else
			fail "$n-uncapped-stalls" "--auto refused: $T_STATUS"
		fi
		exact "$n-down" "$f" down from_cap --mtu 1500
	done
fi
exit 0
