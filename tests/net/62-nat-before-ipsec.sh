#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 360
#
# Issue 12, item 1: NAT before IPsec.  The IPsec policies select the
# translated addresses, so the kernel attaches the bundle only after
# source NAT (nf_nat_ipv4_out / nf_nat_ipv6_out -> nf_xfrm_me_harder()),
# after every xtables chain.  Scene (four namespaces, static SAs):
#
#   lan ----------- gw ==== ESP, tunnel mode ==== peer ----------- rem
#   198.51.100.2    LAN side 198.51.100.1          10.20.0.1        10.20.0.5
#   fd51::2         fd51::1                        fd20::1          fd20::5
#                   underlay gu 192.0.2.1 <------> pu 192.0.2.2 (MTU 1500)
#                   and the translated domain on gu:
#                   172.16.0.1/24, fd16::1/64
#
#   Policies and SAs (AES-GCM-16, rfc4106(gcm(aes)) with a 128-bit ICV,
#   outer IPv4): 172.16.0.0/24 <-> 10.20.0.0/24 and fd16::/64 <->
#   fd20::/64, on the gateway (out, in, fwd) and on the peer (mirrored).
#   The gateway routes 10.20.0.0/24 and fd20::/64 via a next hop inside the
#   translated domain on gu (172.16.0.254, fd16::fe: never resolved, only
#   there so MASQUERADE picks 172.16.0.1 / fd16::1); the peer routes the
#   translated domain toward the gateway.  rem and lan both drop ICMP
#   "fragmentation needed" / ICMPv6 "packet too big" in INPUT: the black
#   hole, whichever side sends the bulk.
#
# Cases, IPv4 and IPv6 (ip6tables has all four NAT targets):
#   snat    -t nat -A POSTROUTING -s LAN -d REMOTE -j SNAT --to-source 172.16.0.1
#   masq    ... -j MASQUERADE
#   netmap  ... -j NETMAP --to 172.16.0.0/24
#           lan fetches 300 KB from rem: the SYN goes into the tunnel
#   dnat    -t nat -A PREROUTING -d 172.16.0.80 -p tcp --dport 80
#               -j DNAT --to-destination 198.51.100.2
#           rem connects to 172.16.0.80 through the tunnel and uploads
#           300 KB to lan: lan's SYN-ACK has its source rewritten back in
#           POSTROUTING (the reply side of the DNAT) and only then matches
#           the policy
# and per case:
#   black-hole     (snat and dnat: one per direction; masq and netmap use
#                  the same bundle and peer) no mangle rule: the segment
#                  into the tunnel keeps the host's MSS and the transfer
#                  stalls (the scene has the black hole; "before" on the wire)
#   oracle         (snat and dnat) the kernel's own TCPMSS --set-mss E in
#                  mangle POSTROUTING: completes; E+1 stalls.  E is derived
#                  from the gateway's SA as `ip xfrm state` shows it (outer
#                  header, ESP header, IV, ICV, trailer, the way
#                  xfrm_state_mtu() sizes it) and the MTU of the underlay
#                  device `ip route get` names; lib-ipsec.sh's
#                  ipsec_expected_mss is printed beside it
#   forward        -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN
#                      -j IPSECMSS --auto
#                  completes, the MSS on the wire is E, counter after_nat grows
#   reverse        same rule, the other direction (the segment that comes
#                  out of the tunnel and is un-NATed in PREROUTING: rem's
#                  SYN-ACK to lan for snat/masq/netmap, rem's SYN for dnat;
#                  lan sends the bulk and drops the gateway's ICMP): completes
#                  at E (the SA the segment was decrypted with decides; no
#                  NAT hook is needed for it)
#   postrouting    the --auto rule in mangle POSTROUTING instead: completes
#                  at E, after_nat grows
# and, per family:
#   plain          lan's address inside the encryption domain (172.16.0.10,
#                  fd16::10, no NAT applies) fetches with the FORWARD rule:
#                  completes at E, after_nat stays where it was (the
#                  segment's own route already was the bundle)
#   local-output   the gateway's own fetch from its LAN address, source-NATed
#                  by the snat rule, with the --auto rule in mangle OUTPUT:
#                  completes at E, after_nat grows
# "# RESULT" lines give the MSS on the wire per case.  The module of commit
# a999fba (before the after-NAT hook) fails forward, postrouting and
# local-output (the host's MSS on the wire, 1460 / 1440, and a stall) and
# has no after_nat counter.  IPSEC_IPT picks the iptables frontend (default
# iptables; iptables-legacy passes too).

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

T=nat-before-ipsec
BYTES=307200
PFX=nat62-$$
NS_L=$PFX-lan NS_G=$PFX-gw NS_P=$PFX-peer NS_R=$PFX-rem
IP6T=$(ipsec_ip6t)

GU4=192.0.2.1 PU4=192.0.2.2
KEY_G2P=0x$(printf '2%.0s' {1..40}) KEY_P2G=0x$(printf '1%.0s' {1..40})
ALG='rfc4106(gcm(aes))' ICVBITS=128

cleanup() {
	local ns
	ipsec_agents_stop
	for ns in "$NS_L" "$NS_G" "$NS_P" "$NS_R"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -z "$IPSEC_DIR" ] || rm -rf "$IPSEC_DIR"
}
trap cleanup EXIT

# fam_vars 4|6: the addresses of one family
fam_vars() {
	if [ "$1" = 6 ]; then
		L=fd51::2 GL=fd51::1 LAN=fd51::/64
		X=fd16::1 XNET=fd16::/64 XMAP=fd16::/64
		R=fd20::5 RNET=fd20::/64
		V=fd16::80 Q=fd16::10 IPT=$IP6T IIP=40
	else
		L=198.51.100.2 GL=198.51.100.1 LAN=198.51.100.0/24
		X=172.16.0.1 XNET=172.16.0.0/24 XMAP=172.16.0.0/24
		R=10.20.0.5 RNET=10.20.0.0/24
		V=172.16.0.80 Q=172.16.0.10 IPT=$IPSEC_IPT IIP=20
	fi
}

# sa_side g|p: SAs and policies of the gateway or the peer
sa_side() {
	local me peer kout kin f s4 s6 sout sin
	if [ "$1" = g ]; then
		me=$GU4 peer=$PU4 kout=$KEY_G2P kin=$KEY_P2G
	else
		me=$PU4 peer=$GU4 kout=$KEY_P2G kin=$KEY_G2P
	fi
	for f in 4 6; do
		fam_vars $f
		# local selector first: the gateway's side is the translated domain
		if [ "$1" = g ]; then s4=$XNET s6=$RNET; else s4=$RNET s6=$XNET; fi
		if [ "$1" = g ]; then sout=0x${f}002 sin=0x${f}001; else sout=0x${f}001 sin=0x${f}002; fi
		echo "xfrm state add src $me dst $peer proto esp spi $sout reqid $f mode tunnel aead $ALG $kout $ICVBITS sel src $s4 dst $s6"
		echo "xfrm state add src $peer dst $me proto esp spi $sin reqid $f mode tunnel aead $ALG $kin $ICVBITS sel src $s6 dst $s4"
		echo "xfrm policy add src $s4 dst $s6 dir out tmpl src $me dst $peer proto esp reqid $f mode tunnel"
		echo "xfrm policy add src $s6 dst $s4 dir in tmpl src $peer dst $me proto esp reqid $f mode tunnel"
		echo "xfrm policy add src $s6 dst $s4 dir fwd tmpl src $peer dst $me proto esp reqid $f mode tunnel"
	done
}

scene_up() {
	local a
	IPSEC_DIR=$(mktemp -d /tmp/nat62.XXXXXX) || return 1
	ipsec_batch "" <<-EOF || return 1
		netns add $NS_L
		netns add $NS_G
		netns add $NS_P
		netns add $NS_R
		link add l0 netns $NS_L type veth peer name gl netns $NS_G
		link add gu netns $NS_G type veth peer name pu netns $NS_P
		link add pr netns $NS_P type veth peer name r0 netns $NS_R
	EOF
	# cl = lan, sv = rem, gw (the names lib-ipsec.sh's agents_stop knows)
	ipsec_agent_start cl "$NS_L" && ipsec_agent_start sv "$NS_R" &&
		ipsec_agent_start gw "$NS_G" || return 1
	# ip netns exec execs the agent in place: this pid lives in the gateway's netns
	GW_PID=${IPSEC_PIDS[-1]}
	ipsec_batch "$NS_L" <<-EOF || return 1
		link set lo up
		link set l0 up
		addr add 198.51.100.2/24 dev l0
		addr add fd51::2/64 dev l0 nodad
		addr add 172.16.0.10/32 dev lo
		addr add fd16::10/128 dev lo nodad
		route add default via 198.51.100.1
		route add ::/0 via fd51::1
	EOF
	ipsec_batch "$NS_G" <<-EOF || return 1
		link set lo up
		link set gl up
		link set gu mtu 1500 up
		addr add 198.51.100.1/24 dev gl
		addr add fd51::1/64 dev gl nodad
		addr add $GU4/24 dev gu
		addr add 172.16.0.1/24 dev gu
		addr add fd16::1/64 dev gu nodad
		route add 10.20.0.0/24 via 172.16.0.254 dev gu
		route add fd20::/64 via fd16::fe dev gu
		route add 172.16.0.10/32 via 198.51.100.2 dev gl
		route add fd16::10/128 via fd51::2 dev gl
	EOF
	ipsec_batch "$NS_P" <<-EOF || return 1
		link set lo up
		link set pu mtu 1500 up
		link set pr up
		addr add $PU4/24 dev pu
		addr add 10.20.0.1/24 dev pr
		addr add fd20::1/64 dev pr nodad
		route add 172.16.0.0/24 via $GU4 dev pu
		route add fd16::/64 dev pu
	EOF
	ipsec_batch "$NS_R" <<-EOF || return 1
		link set lo up
		link set r0 up
		addr add 10.20.0.5/24 dev r0
		addr add fd20::5/64 dev r0 nodad
		route add default via 10.20.0.1
		route add ::/0 via fd20::1
	EOF
	sa_side g | ipsec_batch "$NS_G" || return 1
	sa_side p | ipsec_batch "$NS_P" || return 1
	for a in "$NS_G" "$NS_P"; do
		ip netns exec "$a" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward &&
			echo 1 >/proc/sys/net/ipv6/conf/all/forwarding' || return 1
	done
	# The black hole, on both ends.
	for a in "$NS_L" "$NS_R"; do
		ip netns exec "$a" "$IPSEC_IPT" -A INPUT -p icmp \
			--icmp-type fragmentation-needed -j DROP &&
			ip netns exec "$a" "$IP6T" -A INPUT -p ipv6-icmp \
				--icmpv6-type packet-too-big -j DROP || return 1
	done
	ipsec_agent_ready cl && ipsec_agent_ready sv && ipsec_agent_ready gw || return 1
	: >"$IPSEC_DIR/lan.syn"
	: >"$IPSEC_DIR/rem.syn"
	ipsec_agent cl serve "$IPSEC_PORT" l0 "$IPSEC_DIR/lan.syn" >/dev/null &&
		ipsec_agent sv serve "$IPSEC_PORT" r0 "$IPSEC_DIR/rem.syn" >/dev/null
}

# expected_mss 4|6: the largest MSS through the gateway's outbound SA, from
# what `ip xfrm state` and `ip route get` / `ip link` show for it.
expected_mss() {
	local fam=$1 st w i alg='' icvbits='' mode='' src='' dev='' mtu='' oip iv blk icv
	st=$(ip -n "$NS_G" xfrm state get src $GU4 dst $PU4 proto esp spi "0x${fam}002") || return 1
	read -r -a w <<<"$(tr '\n' ' ' <<<"$st")"
	for ((i = 0; i < ${#w[@]}; i++)); do
		case "${w[i]}" in
		src) [ -n "$src" ] || src=${w[i + 1]} ;;
		mode) mode=${w[i + 1]} ;;
		aead) alg=${w[i + 1]} icvbits=${w[i + 3]} ;;
		esac
	done
	[ "$mode" = tunnel ] || { echo "mode $mode"; return 1; }
	case "$alg" in
	# RFC 4106 / RFC 7634: 8-byte IV, stream-like (ESP pads to 4)
	'rfc4106(gcm(aes))'|'rfc7539esp(chacha20,poly1305)') iv=8 blk=4 ;;
	*) echo "unknown aead '$alg'"; return 1 ;;
	esac
	icv=$((icvbits / 8))
	oip=20
	[[ "$src" == *:* ]] && oip=40
	# underlay: the device the kernel routes the outer header to
	read -r -a w <<<"$(ip -n "$NS_G" route get "$PU4")"
	for ((i = 0; i < ${#w[@]}; i++)); do
		[ "${w[i]}" = dev ] && dev=${w[i + 1]}
		[ "${w[i]}" = mtu ] && mtu=${w[i + 1]}
	done
	# no route MTU: the device's
	[ -n "$mtu" ] ||
		mtu=$(ip -n "$NS_G" -o link show dev "$dev" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
	[ -n "$mtu" ] || { echo "no MTU for the underlay ($dev)"; return 1; }
	# xfrm_state_mtu(): tunnel mode, header_len = outer IP + 8 + IV
	echo $(((((mtu - oip - 8 - iv - icv) / blk) * blk) - 2 - IIP - 20))
	echo "# $fam: SA $alg ICV $icv outer $src (IPv$([ $oip = 40 ] && echo 6 || echo 4)) underlay $dev mtu $mtu" >&2
}

# gw_counter NAME: COUNTER = that counter of the gateway's netns, read
# through /proc/PID/net of the gateway's agent (no process started; empty
# if absent).
gw_counter() {
	local k v
	COUNTER=
	while read -r k v; do
		[ "$k" = "$1" ] && COUNTER=$v
	done 2>/dev/null <"/proc/$GW_PID/net/stat/ipsecmss"
}

# gw_tables NATRULE [MANGLE-RULE...]: the gateway's nat and mangle tables of
# the current family hold exactly these (each rule with its chain).
gw_tables() {
	local text r err
	text="*nat"$'\n'
	[ -z "$1" ] || text+="$1"$'\n'
	text+="COMMIT"$'\n'"*mangle"$'\n'
	shift
	for r in "$@"; do
		text+="$r"$'\n'
	done
	text+="COMMIT"$'\n'
	if ! err=$(ip netns exec "$NS_G" "$IPT-restore" <<<"$text" 2>&1); then
		echo "# $IPT-restore refused: $(tr '\n' '|' <<<"$text"): $err"
		return 1
	fi
}

# seen LOG FLAGS: "MSS SOURCE" of the first SYN (S) or SYN-ACK (SA)
# received with port 80 on its server side, "- -" if none.
seen() {
	local log=$1 flags=$2 i _ dir fl src sp dp mss
	for i in 1 2 3 4 5; do
		while read -r _ dir fl src sp _ dp mss; do
			[ "$dir" = in ] && [ "$fl" = "$flags" ] || continue
			if { [ "$fl" = S ] && [ "$dp" = 80 ]; } ||
				{ [ "$fl" = SA ] && [ "$sp" = 80 ]; }; then
				echo "$mss $src"
				return 0
			fi
		done <"$log"
		sleep 0.2
	done
	echo "- -"
}

# xfer DIR BYTES [SRC]: one transfer of the current case in direction in
# (the segment that carries the MSS goes into the tunnel) or rev.  Prints
# "VERDICT GOT SECS STATUS MSS SOURCE" (MSS and source address of that
# segment where it arrived): VERDICT complete | stall (not one byte) | failed;
# partial progress is retried with the slow timeout, as lib-ipsec.sh does.
xfer() {
	local dir=$1 bytes=$2 src=${3:-} ag op host log fl out got secs status tmo
	case "$CASE-$dir" in
	dnat-in) ag=sv op=push host=$V log=rem.syn fl=SA ;;
	dnat-rev) ag=sv op=fetch host=$V log=lan.syn fl=S ;;
	local-in) ag=gw op=fetch host=$R log=rem.syn fl=S ;;
	*-in) ag=cl op=fetch host=$R log=rem.syn fl=S ;;
	*-rev) ag=cl op=push host=$R log=lan.syn fl=SA ;;
	esac
	log=$IPSEC_DIR/$log
	for tmo in "$IPSEC_STALL_TIMEOUT" "$IPSEC_SLOW_TIMEOUT"; do
		: >"$log"
		# shellcheck disable=SC2086 # src is empty or one word
		out=$(ipsec_agent "$ag" "$op" "$host" "$IPSEC_PORT" "$bytes" "$tmo" $src) ||
			{ echo "failed 0 0 agent - -"; return 0; }
		read -r got secs _ status <<<"$out"
		[ "$status" = stalled ] && [ "$got" -gt 0 ] || break
	done
	if [ "$status" = ok ] && [ "$got" = "$bytes" ]; then
		echo "complete $got $secs $status $(seen "$log" "$fl")"
	elif [ "$status" = stalled ] && [ "$got" = 0 ]; then
		echo "stall $got $secs $status $(seen "$log" "$fl")"
	else
		echo "failed $got $secs $status $(seen "$log" "$fl")"
	fi
}

# auto_case NAME DIR: the transfer with the rule already in place must
# complete at E; if COUNT (after_nat must grow: up, stay: same) is given,
# check the counter too.
auto_case() {
	local n=$1 dir=$2 count=${3:-} c0 c1 out v got secs mss st from
	gw_counter after_nat
	c0=$COUNTER
	out=$(xfer "$dir" $BYTES "${SRC:-}")
	gw_counter after_nat
	c1=$COUNTER
	read -r v got secs st mss from <<<"$out"
	echo "# RESULT $n: MSS on the wire $mss (exact $E, from $from), $v: $got/$BYTES bytes in ${secs}s; after_nat ${c0:-?} -> ${c1:-?}"
	if [ "$v" = complete ] && [ "$mss" = "$E" ]; then
		pass "$n"
	else
		fail "$n" "want complete at MSS $E, got $v at MSS $mss ($got/$BYTES bytes, $st)"
	fi
	case "$count" in
	up)
		if [[ "$c0" =~ ^[0-9]+$ && "$c1" =~ ^[0-9]+$ ]] && [ "$c1" -gt "$c0" ]; then
			pass "$n-after-nat-counted"
		else
			fail "$n-after-nat-counted" "after_nat ${c0:-absent} -> ${c1:-absent}, want it to grow"
		fi ;;
	same)
		if [[ "$c0" =~ ^[0-9]+$ ]] && [ "$c1" = "$c0" ]; then
			pass "$n-after-nat-unchanged"
		else
			fail "$n-after-nat-unchanged" "after_nat ${c0:-absent} -> ${c1:-absent}, want no change"
		fi ;;
	esac
}

# oracle NAME: TCPMSS --set-mss E completes, E+1 stalls (the segment into
# the tunnel, mangle POSTROUTING: before NAT, which keeps the value).
oracle() {
	local n=$1 m out v got secs mss st from ok=1 why='' res=''
	for m in "$E" $((E + 1)); do
		gw_tables "$NATRULE" "-A POSTROUTING -d $RNET -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss $m" ||
			{ fail "$n" "TCPMSS rule refused"; return; }
		out=$(xfer in "$IPSEC_PROBE_BYTES")
		read -r v got secs st mss from <<<"$out"
		res+=" --set-mss $m: $v at MSS $mss ($got bytes, $st);"
		[ "$mss" = "$m" ] || { ok=0 why+=" the oracle's MSS $m did not reach the far end ($mss);"; }
		if [ "$m" = "$E" ] && [ "$v" != complete ]; then ok=0 why+=" $m does not complete ($v);"; fi
		if [ "$m" != "$E" ] && [ "$v" != stall ]; then ok=0 why+=" $m does not stall ($v): E is too small;"; fi
	done
	echo "# $n:$res"
	if [ $ok = 1 ]; then pass "$n"; else fail "$n" "${why# }"; fi
}

# black_hole NAME: with the NAT rule alone, the transfer stalls and the
# segment into the tunnel reaches the far end above E.
black_hole() {
	local n=$1 out v got secs mss st from
	out=$(xfer in $BYTES)
	read -r v got secs st mss from <<<"$out"
	echo "# RESULT $n: MSS on the wire $mss (no rule, from $from), $v: $got/$BYTES bytes in ${secs}s"
	if [ "$v" = stall ] && [[ "$mss" =~ ^[0-9]+$ ]] && [ "$mss" -gt "$E" ]; then
		pass "$n"
	else
		fail "$n" "without a rule want a stall at an MSS above $E: $v at MSS $mss ($got bytes, $st)"
	fi
}

nat_case() {
	local fam=$1 n
	CASE=$2
	n=$T-v$fam-$CASE
	case "$CASE" in
	snat) NATRULE="-A POSTROUTING -s $LAN -d $RNET -j SNAT --to-source $X" ;;
	masq) NATRULE="-A POSTROUTING -s $LAN -d $RNET -j MASQUERADE" ;;
	netmap) NATRULE="-A POSTROUTING -s $LAN -d $RNET -j NETMAP --to $XMAP" ;;
	dnat) NATRULE="-A PREROUTING -d $V -p tcp --dport 80 -j DNAT --to-destination $L" ;;
	esac
	if ! gw_tables "$NATRULE"; then
		fail "$n-nat-rule" "$IPT refused: $NATRULE"
		return
	fi
	# The black hole with no mangle rule, and the oracle: once per
	# direction (masq and netmap go through the same bundle and peer).
	case "$CASE" in
	snat|dnat)
		black_hole "$n-black-hole"
		oracle "$n-oracle-$E-is-largest"
		;;
	esac

	gw_tables "$NATRULE" "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto" ||
		{ fail "$n-forward" "--auto rule refused"; return; }
	auto_case "$n-forward" in up
	auto_case "$n-reverse-forward" rev

	gw_tables "$NATRULE" "-A POSTROUTING -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto" ||
		{ fail "$n-postrouting" "--auto rule refused"; return; }
	auto_case "$n-postrouting" in up
}

plain_case() {
	local fam=$1
	CASE=plain
	NATRULE="-A POSTROUTING -s $LAN -d $RNET -j SNAT --to-source $X"
	gw_tables "$NATRULE" "-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto" ||
		{ fail "$T-v$fam-plain" "rules refused"; return; }
	SRC=$Q auto_case "$T-v$fam-plain" in same
}

# local: the gateway's own connection from its LAN address, source-NATed
# into the tunnel like the LAN's; the rule in mangle OUTPUT.
local_case() {
	local fam=$1
	CASE=local
	NATRULE="-A POSTROUTING -s $LAN -d $RNET -j SNAT --to-source $X"
	gw_tables "$NATRULE" "-A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto" ||
		{ fail "$T-v$fam-local-output" "rules refused"; return; }
	SRC=$GL auto_case "$T-v$fam-local-output" in up
}

if ! scene_up; then
	fail "$T-scene" "could not build the scene: $(tail -3 "$IPSEC_DIR/agents.log" 2>/dev/null)"
	exit 1
fi
pass "$T-scene"
echo "# time: scene up at ${SECONDS}s ($IPSEC_IPT, $IP6T)"

for fam in 4 6; do
	fam_vars $fam
	if ! E=$(expected_mss $fam) || ! [[ "$E" =~ ^[0-9]+$ ]]; then
		fail "$T-v$fam-expected" "no MSS from ip xfrm state: $E"
		continue
	fi
	echo "# v$fam: exact MSS from the SA: $E (lib-ipsec.sh's arithmetic: $(IPSEC_OUTER=4 IPSEC_SUITE=aes-gcm-16 IPSEC_MODE=tunnel IPSEC_UNDERLAY_MTU=1500 IPSEC_NATT=0 ipsec_expected_mss $fam))"
	for c in snat masq netmap dnat; do
		nat_case $fam $c
		echo "# time: v$fam $c done at ${SECONDS}s"
	done
	plain_case $fam
	local_case $fam
	echo "# time: v$fam done at ${SECONDS}s"
	# leave this family's tables empty for the next
	gw_tables ""
done
