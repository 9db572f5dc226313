#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 300
#
# Route-derived rules where there is no route (issue 11, item 1), IPv4 and
# IPv6.  --auto, and --esp/--overhead without --mtu, read the route of the
# segment; they are refused outside FORWARD/OUTPUT/POSTROUTING only through
# the hook mask seen at insertion, and iptables-nft checks a rule in a
# user-defined chain with an empty mask.  So:
#  (a) iptables-legacy refuses "-N X; -A X -p tcp -j IPSECMSS --auto;
#      -A PREROUTING -j X" (and INPUT), iptables-nft accepts it.  With the
#      nft rule in place, a SYN with MSS 1460 crossing PREROUTING (forwarded
#      to the server) or INPUT (delivered to the gateway itself) arrives with
#      1460, counted as no_route_hook; the same for --esp aes-gcm-16 and
#      --overhead 60.  The routes around are made to differ from 1500 (1400
#      back to the client, 1380 on to the server) so that any value read
#      from them would show.  The same user chain jumped to from FORWARD
#      still rewrites, to what the kernel's TCPMSS --clamp-mss-to-pmtu gives
#      there (the check is per hook, not a blanket refusal).
#  (b) A SYN arriving through a collect_md ("external") device carries a
#      metadata dst without a device into PREROUTING; reading its MTU was a
#      NULL dereference in dst_blackhole_mtu (a kernel panic).  One SYN per
#      device kind, the rule chain (all three modes) jumped to from
#      PREROUTING and from INPUT: ipip external (peer: a plain ipip tunnel
#      in another namespace), ip6tnl external (IPv6 and IPv4 inside),
#      vxlan external (over IPv4 and over IPv6), gretap external (IPv4 and
#      IPv6 inside), ip6gretap external, and a tc tunnel_key set action on
#      the gateway's ingress.  Each: no crash, delivered with MSS 1460,
#      counted (no_route_hook or no_route), never rewritten.  (By INPUT the
#      metadata dst has been replaced by the local route; the gateway's
#      route back to the tunnelled sources has MTU 1400, so a value read
#      there would show too.)
#  (c) The unprivileged sequence: as uid 65534, unshare -Urn, an ipip
#      external device, the three iptables-nft commands, one IPIP SYN to
#      127.0.0.1 on a raw socket.  No crash, delivered unchanged, counted.
#
# The MSS is read at the receiver (a raw TCP socket, after LOCAL_IN), the
# counters in the gateway's /proc/net/stat/ipsecmss (tests/net/ipip_syn.py).
# Subsets, e.g. to see one case crash an unfixed module (through
# IPSECMSS_VM_ENV, lists with commas): ROUTE_HOOKS_PARTS=a,b,c,
# ROUTE_HOOKS_CASES (case_of below), ROUTE_HOOKS_MODES=auto,esp,overhead,
# ROUTE_HOOKS_HOOKS=PREROUTING,INPUT.

set -u
. "$(dirname "$0")/lib.sh"
HELPER=$LIB_DIR/ipip_syn.py

# (lists: spaces or commas)
PARTS=${ROUTE_HOOKS_PARTS:-a b c}
CASES=${ROUTE_HOOKS_CASES:-ipip ip6tnl6 ip6tnl4 vxlan4 vxlan6 gretap4 gretap6 ip6gretap6 tunnel_key4 tunnel_key6}
MODES=${ROUTE_HOOKS_MODES:-auto esp overhead}
HOOKS=${ROUTE_HOOKS_HOOKS:-PREROUTING INPUT}
PARTS=${PARTS//,/ } CASES=${CASES//,/ } MODES=${MODES//,/ } HOOKS=${HOOKS//,/ }

NS_T=ipsecmss-t-$$
T4=203.0.113.2 G4T=203.0.113.1 T6=2001:db8:3::2 G6T=2001:db8:3::1
MAC_T=02:00:00:00:03:02 MAC_GT=02:00:00:00:03:01
MAC_VX=02:00:00:00:04:01 MAC_GTAP=02:00:00:00:05:01 MAC_G6TAP=02:00:00:00:06:01
# the inner source of the tunnelled SYNs
Q4=10.99.0.2 Q6=fd99::2

cleanup() {
	[ -n "${HELPER_P_PID:-}" ] && kill "$HELPER_P_PID" 2>/dev/null
	ip netns del "$NS_T" 2>/dev/null
	net_cleanup
}

mode_args() {
	case $1 in
	auto) echo "--auto" ;;
	esp) echo "--esp aes-gcm-16" ;;
	overhead) echo "--overhead 60" ;;
	esac
}

# nft_chain FAM HOOK MODE...: the gateway's nft mangle table (of that
# family) holds user chain X with one IPSECMSS rule per MODE, jumped to
# from HOOK.  Fails NAME-less: returns 1 and prints why.
nft_chain() {
	local fam=$1 hook=$2 m text
	shift 2
	text="*mangle"$'\n'":X - [0:0]"$'\n'
	for m in "$@"; do
		text+="-A X -p tcp -j IPSECMSS $(mode_args "$m")"$'\n'
	done
	text+="-A $hook -j X"$'\n'"COMMIT"
	ip netns exec "$NS_G" "$(ipt_cmd nft "$fam")-restore" <<<"$text" 2>&1
}

# ipip_syn.py as one coprocess (python starts slowly under emulation)
helper_start() {
	coproc HELPER_P { exec "$PY" -S "$HELPER" serve 2>"$NET_TMP/helper.err"; }
}

# send NS DEV DMAC FAM SRC DST RECV-NS [HOW [DPORT]]: ipip_syn.py's answer
# in OUT (HOW: dev, a frame on DEV; route, a raw IP socket bound to DEV)
send() {
	local line="${8:-dev} --ns $1 --dev $2 --dmac $3 --fam $4 --src $5 --dst $6 --recv-ns $7 --count-ns $NS_G --dport ${9:-}"
	OUT=
	# bash unsets HELPER_P when the coprocess is gone
	if [ -z "${HELPER_P[1]:-}" ] ||
		! printf '%s\n' "$line" 1>&"${HELPER_P[1]}" 2>/dev/null ||
		! IFS= read -r -t 30 OUT <&"${HELPER_P[0]}"; then
		OUT="error=ipip_syn.py-gone:$(tr '\n ' '|_' <"$NET_TMP/helper.err" 2>/dev/null | tail -c 300)"
	fi
}

# kv KEY: the value of KEY in OUT (0 for an absent d.* counter)
kv() {
	local w
	for w in $OUT; do
		[ "${w%%=*}" = "$1" ] && { echo "${w#*=}"; return; }
	done
	case $1 in d.*) echo 0 ;; esac
}

# unchanged_counted NAME NRULES: OUT shows the SYN delivered with 1460,
# not rewritten, each of NRULES rules counting it as having no route.
unchanged_counted() {
	local name=$1 n=$2 c
	c=$(($(kv d.no_route_hook) + $(kv d.no_route)))
	if [ "$(kv arrived)" = 1 ] && [ "$(kv mss)" = 1460 ] &&
		[ "$(kv d.rewritten)" = 0 ] && [ "$c" = "$n" ]; then
		pass "$name"
	else
		fail "$name" "want arrived=1 mss=1460, rewritten 0, no_route_hook+no_route=$n; got: $OUT"
	fi
}

net_setup || { fail route-hooks-setup "net_setup"; exit 0; }
trap cleanup EXIT
# Routes that any route-derived value would show: 1400 back to the
# (phantom) client, 1380 on to the server.  The server has no way back to
# the crafted sources, so no RST re-crosses the gateway's rules.
if ! ip -n "$NS_G" -batch - <<-EOF || ! ip -n "$NS_S" -batch - <<-EOF2; then
	route add $P4/32 dev g0 mtu 1400
	route add $P6/128 dev g0 mtu 1400
	route add $S4/32 dev g1 mtu 1380
	route add $S6/128 dev g1 mtu 1380
	EOF
	route add blackhole $P4/32
	route add blackhole $P6/128
	route add blackhole 10.99.0.0/16
	route add blackhole fd99::/16
	EOF2
	fail route-hooks-setup "routes"
	exit 0
fi
helper_start

# --- (a) user-defined chains ------------------------------------------------
part_a() {
	local fam c err rc mode hook dst recv src want got n

	# legacy: the jump from PREROUTING or INPUT makes the whole table
	# fail its check; from FORWARD it is accepted
	for fam in 4 6; do
		c=$(ipt_cmd legacy $fam)
		if ! err=$(ip netns exec "$NS_G" sh -c "$c -t mangle -N X && $c -t mangle -A X -p tcp -j IPSECMSS --auto" 2>&1); then
			fail legacy-user-chain-v$fam "$c: -N X / -A X ... --auto refused: $err"
			continue
		fi
		for hook in PREROUTING INPUT; do
			err=$(ip netns exec "$NS_G" "$c" -t mangle -A $hook -j X 2>&1)
			rc=$?
			if [ $rc != 0 ] && [ -n "$err" ] &&
				! ip netns exec "$NS_G" "$c" -t mangle -S $hook | grep -q -- '-j X'; then
				pass legacy-refuses-$hook-jump-v$fam
				echo "    ($c -t mangle -A $hook -j X: exit $rc: $(head -1 <<<"$err"))"
			else
				fail legacy-refuses-$hook-jump-v$fam "exit $rc, message '$err'"
			fi
		done
		err=$(ip netns exec "$NS_G" "$c" -t mangle -A FORWARD -j X 2>&1)
		ok_if legacy-accepts-FORWARD-jump-v$fam "$c -t mangle -A FORWARD -j X: $err" [ $? = 0 ]
		# --esp and --overhead alike, in one restore each
		for mode in esp overhead; do
			err=$(ip netns exec "$NS_G" "$c-restore" 2>&1 <<-EOF
				*mangle
				:X - [0:0]
				-A X -p tcp -j IPSECMSS $(mode_args $mode)
				-A PREROUTING -j X
				COMMIT
			EOF
			)
			rc=$?
			ok_if legacy-refuses-$mode-PREROUTING-v$fam "$c-restore exit $rc: $err" [ $rc != 0 ]
		done
		ip netns exec "$NS_G" sh -c "$c -t mangle -F; $c -t mangle -X" 2>/dev/null
	done

	# nft: the three commands are accepted
	for fam in 4 6; do
		c=$(ipt_cmd nft $fam)
		err=$(ip netns exec "$NS_G" sh -c "$c -t mangle -N X && $c -t mangle -A X -p tcp -j IPSECMSS --auto && $c -t mangle -A PREROUTING -j X" 2>&1)
		ok_if nft-accepts-PREROUTING-jump-v$fam "$c: $err" [ $? = 0 ]
	done
	# ... and with them in place, a forwarded SYN keeps its 1460
	send "$NS_C" c0 "$MAC_G0" 4 "$P4" "$S4" "$NS_S"
	[ "$(kv d.no_route_hook)" = 1 ] || OUT="$OUT (no_route_hook did not grow by 1)"
	unchanged_counted nft-three-commands-PREROUTING-auto-v4 1
	send "$NS_C" c0 "$MAC_G0" 6 "$P6" "$S6" "$NS_S"
	[ "$(kv d.no_route_hook)" = 1 ] || OUT="$OUT (no_route_hook did not grow by 1)"
	unchanged_counted nft-three-commands-PREROUTING-auto-v6 1

	# Each mode in a user chain of its own, jumped to by destination port
	# (one ruleset per family: every iptables exec costs under
	# emulation): PREROUTING 1001-1003 (forwarded to the server), INPUT
	# 2001-2003 (to the gateway itself), FORWARD 3001 and 3003 (still
	# rewritten there), and the kernel's TCPMSS --clamp-mss-to-pmtu on
	# FORWARD port 3000 as the oracle (the plain route on to the server;
	# the route back is larger, so --auto gives the same, --overhead 60
	# 60 less).
	local text='*mangle'$'\n' i port
	local -a mn=(- auto esp overhead)
	for i in 1 2 3; do
		mode=${mn[$i]}
		text+=":X$i - [0:0]"$'\n'"-A X$i -p tcp -j IPSECMSS $(mode_args $mode)"$'\n'
		text+="-A PREROUTING -p tcp --dport 100$i -j X$i"$'\n'
		text+="-A INPUT -p tcp --dport 200$i -j X$i"$'\n'
		[ $i = 2 ] || text+="-A FORWARD -p tcp --dport 300$i -j X$i"$'\n'
	done
	text+="-A FORWARD -p tcp --dport 3000 --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu"$'\n'
	text+="COMMIT"
	for fam in 4 6; do
		c=$(ipt_cmd nft $fam)
		if ! err=$(ip netns exec "$NS_G" "$c-restore" <<<"$text" 2>&1); then
			fail nft-user-chains-v$fam "$c-restore refused: $err"
			continue
		fi
		if [ $fam = 4 ]; then src=$P4; else src=$P6; fi
		for hook in PREROUTING INPUT; do
			for i in 1 2 3; do
				mode=${mn[$i]}
				if [ $hook = PREROUTING ]; then
					port=100$i recv=$NS_S
					if [ $fam = 4 ]; then dst=$S4; else dst=$S6; fi
				else
					port=200$i recv=$NS_G
					if [ $fam = 4 ]; then dst=$G4S; else dst=$G6S; fi
				fi
				send "$NS_C" c0 "$MAC_G0" $fam "$src" "$dst" "$recv" dev $port
				[ "$(kv d.no_route_hook)" = 1 ] || OUT="$OUT (no_route_hook did not grow by 1)"
				unchanged_counted nft-user-chain-$hook-$mode-v$fam 1
			done
		done

		if [ $fam = 4 ]; then dst=$S4; else dst=$S6; fi
		send "$NS_C" c0 "$MAC_G0" $fam "$src" "$dst" "$NS_S" dev 3000
		want=$(kv mss)
		if ! [[ "$want" =~ ^[0-9]+$ ]] || [ "$want" -ge 1460 ]; then
			fail nft-user-chain-FORWARD-v$fam "TCPMSS oracle gave '$want' ($OUT)"
			continue
		fi
		for i in 1 3; do
			mode=${mn[$i]}
			n=$want
			[ $mode = overhead ] && n=$((want - 60))
			send "$NS_C" c0 "$MAC_G0" $fam "$src" "$dst" "$NS_S" dev 300$i
			got=$(kv mss)
			if [ "$(kv arrived)" = 1 ] && [ "$got" = "$n" ] &&
				[ "$(kv d.rewritten)" = 1 ] && [ "$(kv d.no_route_hook)" = 0 ]; then
				pass nft-user-chain-FORWARD-$mode-v$fam
				echo "    (FORWARD via X$i, $(mode_args $mode): 1460 -> $got; TCPMSS --clamp-mss-to-pmtu: $want)"
			else
				fail nft-user-chain-FORWARD-$mode-v$fam "want mss=$n rewritten=1 no_route_hook=0; got: $OUT"
			fi
		done
	done
	gw_flush
}

# --- (b) metadata dsts ------------------------------------------------------
tunnels_up() {
	ip netns add "$NS_T" &&
	ip link add tp0 netns "$NS_T" address $MAC_T type veth \
		peer name gt netns "$NS_G" address $MAC_GT || return 1
	# A route back to the tunnelled sources, with an MTU any value read
	# from it would show (the SYNs come in through the tunnels, not gt).
	# rp_filter off before the devices exist (they inherit "default")
	ip netns exec "$NS_G" sh -c '
		for f in all default; do echo 0 >/proc/sys/net/ipv4/conf/$f/rp_filter; done' || return 1
	ip -n "$NS_T" -batch - <<-EOF || return 1
		link set lo up
		link set tp0 up
		addr add $T4/24 dev tp0
		addr add $T6/64 dev tp0 nodad
		neigh replace $G4T lladdr $MAC_GT dev tp0 nud permanent
		neigh replace $G6T lladdr $MAC_GT dev tp0 nud permanent
	EOF
	ip -n "$NS_G" -batch - <<-EOF || return 1
		link set gt up
		addr add $G4T/24 dev gt
		addr add $G6T/64 dev gt nodad
		neigh replace $T4 lladdr $MAC_T dev gt nud permanent
		neigh replace $T6 lladdr $MAC_T dev gt nud permanent
		route add 10.99.0.0/16 dev gt mtu 1400
		route add fd99::/16 dev gt mtu 1400
		neigh replace $Q4 lladdr $MAC_T dev gt nud permanent
		neigh replace $Q6 lladdr $MAC_T dev gt nud permanent
	EOF
	# one device per kind on each side; a kind the kernel lacks is
	# reported by its cases
	ip -n "$NS_G" -force -batch - <<-EOF 2>"$NET_TMP/g.err"
		link add ipx type ipip external
		link add ip6x type ip6tnl mode any external
		link add vxx address $MAC_VX type vxlan external dstport 4789
		link add gtx address $MAC_GTAP type gretap external
		link add g6x address $MAC_G6TAP type ip6gretap external
		link set ipx up
		link set ip6x up
		link set vxx up
		link set gtx up
		link set g6x up
	EOF
	ip -n "$NS_T" -force -batch - <<-EOF 2>"$NET_TMP/t.err"
		link add ipx type ipip local $T4 remote $G4T
		link add ip6x type ip6tnl mode any local $T6 remote $G6T
		link add vx4 type vxlan id 42 local $T4 remote $G4T dstport 4789
		link add vx6 type vxlan id 43 local $T6 remote $G6T dstport 4789
		link add gtx type gretap local $T4 remote $G4T
		link add g6x type ip6gretap local $T6 remote $G6T
		link set ipx up
		link set ip6x up
		link set vx4 up
		link set vx6 up
		link set gtx up
		link set g6x up
		route add $S4/32 dev ip6x
		route add $G4S/32 dev ip6x
		route add $S6/128 dev ip6x
		route add $G6S/128 dev ip6x
	EOF
	# forwarding on the new devices too
	ip netns exec "$NS_G" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/forwarding'
	tc -n "$NS_G" qdisc add dev g0 clsact 2>>"$NET_TMP/g.err"
}

# case_of NAME: sets SNS SDEV SDMAC FAM GDEV HOW (the sending namespace,
# device and frame destination, the inner family, the gateway's device to
# check, how ipip_syn.py sends)
case_of() {
	SNS=$NS_T SDMAC='' HOW=dev
	case $1 in
	ipip) SDEV=ipx FAM=4 GDEV=ipx ;;
	ip6tnl6) SDEV=ip6x FAM=6 GDEV=ip6x HOW=route ;;
	ip6tnl4) SDEV=ip6x FAM=4 GDEV=ip6x HOW=route ;;
	vxlan4) SDEV=vx4 FAM=4 GDEV=vxx SDMAC=$MAC_VX ;;
	vxlan6) SDEV=vx6 FAM=6 GDEV=vxx SDMAC=$MAC_VX ;;
	gretap4) SDEV=gtx FAM=4 GDEV=gtx SDMAC=$MAC_GTAP ;;
	gretap6) SDEV=gtx FAM=6 GDEV=gtx SDMAC=$MAC_GTAP ;;
	ip6gretap6) SDEV=g6x FAM=6 GDEV=g6x SDMAC=$MAC_G6TAP ;;
	tunnel_key4) SNS=$NS_C SDEV=c0 FAM=4 GDEV=g0 SDMAC=$MAC_G0 ;;
	tunnel_key6) SNS=$NS_C SDEV=c0 FAM=6 GDEV=g0 SDMAC=$MAC_G0 ;;
	*) return 1 ;;
	esac
}

part_b() {
	local hook cs fam err src dst recv nm tk='' gdevs tdevs cdevs sdevs
	local -a modes
	read -r -a modes <<<"$MODES"
	nm=${#modes[@]}
	if ! tunnels_up; then
		fail metadata-setup "could not build the tunnel namespace"
		return
	fi
	[ -s "$NET_TMP/g.err" ] && echo "    (gateway devices: $(tr '\n' '|' <"$NET_TMP/g.err"))"
	[ -s "$NET_TMP/t.err" ] && echo "    (peer devices: $(tr '\n' '|' <"$NET_TMP/t.err"))"
	gdevs=" $(ip -n "$NS_G" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); printf "%s ", $2 }')"
	tdevs=" $(ip -n "$NS_T" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); printf "%s ", $2 }')"
	cdevs=" c0 "
	for hook in $HOOKS; do
		for fam in 4 6; do
			if ! err=$(nft_chain $fam $hook "${modes[@]}"); then
				fail metadata-rules-$hook-v$fam "refused: $err"
			fi
		done
		for cs in $CASES; do
			if ! case_of "$cs"; then
				fail metadata-$cs "unknown case"
				continue
			fi
			sdevs=$tdevs
			[ "$SNS" = "$NS_C" ] && sdevs=$cdevs
			if [[ "$gdevs" != *" $GDEV "* || "$sdevs" != *" $SDEV "* ]]; then
				fail metadata-$cs-$hook "no device $GDEV/$SDEV: $(tr '\n' '|' <"$NET_TMP/g.err") $(tr '\n' '|' <"$NET_TMP/t.err")"
				continue
			fi
			if [[ $cs == tunnel_key* ]] && [ -z "$tk" ]; then
				# from here on every frame into g0 carries a
				# metadata dst (the tunnel_key cases come last)
				if ! err=$(tc -n "$NS_G" filter add dev g0 ingress matchall \
					action tunnel_key set src_ip $G4C dst_ip $C4 id 42 2>&1); then
					fail metadata-$cs-$hook "tc tunnel_key: $err"
					continue
				fi
				tk=1
			fi
			if [ $FAM = 4 ]; then
				src=$Q4
				[ "$SNS" = "$NS_C" ] && src=$P4
			else
				src=$Q6
				[ "$SNS" = "$NS_C" ] && src=$P6
			fi
			if [ $hook = INPUT ]; then
				recv=$NS_G
				if [ $FAM = 4 ]; then dst=$G4S; else dst=$G6S; fi
			else
				recv=$NS_S
				if [ $FAM = 4 ]; then dst=$S4; else dst=$S6; fi
			fi
			send "$SNS" "$SDEV" "$SDMAC" $FAM $src $dst "$recv" $HOW
			unchanged_counted metadata-$cs-$hook $nm
		done
		if [ -n "$tk" ]; then
			tc -n "$NS_G" filter del dev g0 ingress
			tk=
		fi
	done
	gw_flush
}

# --- (c) the unprivileged sequence -----------------------------------------
part_c() {
	local uu mu out
	uu=$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo absent)
	mu=$(cat /proc/sys/user/max_user_namespaces)
	echo "    (kernel.unprivileged_userns_clone=$uu user.max_user_namespaces=$mu)"
	out=$(setpriv --reuid 65534 --regid 65534 --clear-groups \
		unshare -Urn /bin/sh -c '
		echo "uid_map: $(cat /proc/self/uid_map)" >&2
		ip link set lo up &&
		ip link add t0 type ipip external &&
		ip link set t0 up &&
		ip addr add 10.1.1.2/32 dev t0 || { echo "error=ip-link"; exit 0; }
		iptables-nft -t mangle -N X &&
		iptables-nft -t mangle -A X -p tcp -j IPSECMSS --auto &&
		iptables-nft -t mangle -A PREROUTING -j X || { echo "error=iptables-nft"; exit 0; }
		"$0" -S "$1" lo-ipip --src 10.1.1.1 --dst 10.1.1.2
		echo "inside, /proc/net/stat/ipsecmss:" $(cat /proc/net/stat/ipsecmss) >&2
		' "$PY" "$HELPER" 2>"$NET_TMP/c.err")
	sed 's/^/    | /' "$NET_TMP/c.err"
	OUT=$out
	if [ -z "$out" ]; then
		fail unprivileged-userns "no answer: $(tr '\n' '|' <"$NET_TMP/c.err")"
		return
	fi
	unchanged_counted unprivileged-userns-ipip-external 1
}

for p in $PARTS; do
	t0=$SECONDS
	case $p in
	a) part_a ;;
	b) part_b ;;
	c) part_c ;;
	esac
	echo "    (part $p: $((SECONDS - t0)) s)"
done
exit 0
