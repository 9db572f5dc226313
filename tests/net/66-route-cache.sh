#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 900
#
# --auto's route cache: the module keeps the two routes it looks up per SYN
# (the plain route back to the SYN's source and the route toward the SA's
# peer) in a per-netns, per-CPU dst_cache, revalidated on every use.  A
# stale entry would give the old MTU after the network changed.  All of
# this runs in ONE gateway namespace (the cache stays warm; resa keeps the
# namespaces), the seed's scene (AES-GCM-16 tunnel, 1500 underlay, a server
# that drops ICMP frag-needed / packet-too-big), with
#   -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
# on the gateway, IPv4 and IPv6 inside:
#   base      two connections (the second a cache hit) give the same MSS A,
#             A completes and the kernel's TCPMSS --set-mss A+1 stalls
#   peer-lock "ip route replace <peer> dev gu mtu lock 1400": the next SYN
#             gets the new largest MSS (completes, +1 stalls: the oracle,
#             not the module's arithmetic), also the next one; the host
#             route deleted again: A
#   back-lock the route back to the client "mtu lock 1400": the capped
#             largest MSS (oracle); restored: A
#   peer-pmtu a PMTU exception the gateway learns toward the peer (an ICMP
#             error quoting its own ESP, as 58-auto-paths.sh makes it;
#             `ip route get` shows mtu 1400 and its expiry): the new
#             largest MSS (oracle); "ip route flush cache": A
#   back-pmtu the same on the route back to the client (an ICMP error
#             quoting the gateway's echo reply to it)
#   many      24 client addresses per family behind a second SA pair, every
#             other one with a route back "mtu lock 1400", connecting in
#             two interleaved rounds (v4 and v6 alternating, 96 SYNs over
#             16 cache slots): every SYN's MSS on the server's wire is the
#             value measured above for its path (A or the back-lock value)
# with an IPv4 outer header (peer route via fib4: genid, exceptions marking
# the cached route obsolete), then base, peer-lock and peer-pmtu again with
# an IPv6 outer header, IPv6 inside (the peer route via fib6: its cookie).
# "(t=Ns)" in the comment lines: seconds since the script started.

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

# shellcheck disable=SC2034 # read by lib-ipsec.sh
IPSEC_STALL_TIMEOUT=3
bytes=$IPSEC_PROBE_BYTES
trap ipsec_scene_down EXIT

gw() { ip -n "$IPSEC_NS_GW" "$@"; }
num() { [[ "${1:-}" =~ ^[0-9]+$ ]]; }

# --- the rules ---------------------------------------------------------------
# rules FAMILY [RULE]...: the gateway's mangle table of FAMILY holds exactly
# these FORWARD rules, set with one iptables-restore (each command costs a
# process start under emulation).
rules() {
	local fam=$1 r text err cmd=$IPSEC_IPT-restore
	shift
	[ "$fam" = 6 ] && cmd=$(ipsec_ip6t)-restore
	text="*mangle"$'\n'
	for r in "$@"; do
		text+="-A FORWARD $r"$'\n'
	done
	text+="COMMIT"
	if ! err=$(ip netns exec "$IPSEC_NS_GW" "$cmd" <<<"$text" 2>&1); then
		echo "# $cmd refused: $(tr '\n' '|' <<<"$text"): $err"
		return 1
	fi
}
AUTO='-p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto'
# The oracle: the kernel's own TCPMSS lowering the client's SYN to MSS,
# alone on the gateway (an --auto rule would lower MSS+1 again).
oracle_rule() { echo "-o $IPSEC_GW_SRV_IF -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss $1"; }

# --- connections -------------------------------------------------------------
# syn_mss SRC PORT: MSS of the (last) SYN from SRC:PORT the server received.
syn_mss() {
	local i _ dir fl src sp mss got
	for i in 1 2 3 4 5 6; do
		got=
		while read -r _ dir fl src sp _ _ mss; do
			[ "$dir" = in ] && [ "$fl" = S ] && [ "$src" = "$1" ] &&
				[ "$sp" = "$2" ] && got=$mss
		done <"$IPSEC_DIR/sv.syn"
		[ -n "$got" ] && { echo "$got"; return 0; }
		sleep 0.2
	done
	echo -
}

# conn FAMILY: one download of $bytes by the lib's client with the --auto
# rule on; the download_verdict line (the SYN log is emptied first: only
# this connection's SYN can match its port).
conn() {
	: >"$IPSEC_DIR/sv.syn"
	download_verdict "$bytes" "$1"
}

# probe MSS FAMILY: with only the oracle's rule lowering the client's SYN
# to MSS, does a download complete?  As lib-ipsec.sh's probe_mss, with one
# iptables-restore (left in place: the next rules call replaces it).
# Prints the download_verdict line; 0 complete, 1 stall, 2 the oracle
# itself failed (rule refused, the server saw another MSS, no connection).
probe() {
	local mss=$1 fam=$2 out
	rules "$fam" "$(oracle_rule "$mss")" || return 2
	out=$(conn "$fam")
	echo "$out"
	ipsec_verdict_rc "$mss" "$out"
}

# measure NAME FAMILY [WANT]: two connections with --auto (the first one
# right after whatever changed, the second one a cache hit) complete with
# the same MSS; that MSS is WANT if given, else the kernel's TCPMSS
# --set-mss one byte higher stalls (the oracle: it is the largest that gets
# through).  Sets M (the first one's MSS, "-" if it did not complete).
measure() {
	local n=$1 fam=$2 want=${3:-} o1 o2 v1 v2 m2 out r _
	M=-
	if ! rules "$fam" "$AUTO"; then
		fail "$n" "--auto rule refused"
		return 1
	fi
	o1=$(conn "$fam")
	o2=$(conn "$fam")
	read -r v1 _ _ M _ <<<"$o1"
	read -r v2 _ _ m2 _ <<<"$o2"
	echo "# $n: --auto: first [$o1] again [$o2] (t=${SECONDS}s)"
	if [ "$v1" = complete ] && num "$M"; then
		pass "$n-completes"
	else
		fail "$n-completes" "first connection with --auto: $o1"
		M=-
		return 1
	fi
	if [ "$v2" = complete ] && [ "$m2" = "$M" ]; then
		pass "$n-cache-hit-same"
	else
		fail "$n-cache-hit-same" "first MSS $M, the next connection: $o2"
	fi
	if [ -n "$want" ]; then
		if [ "$M" = "$want" ]; then
			pass "$n-mss-$want"
		else
			fail "$n-mss-$want" "--auto gave MSS $M, the path's measured largest is $want (a stale route?)"
		fi
		return 0
	fi
	out=$(probe "$((M + 1))" "$fam"); r=$?
	echo "# $n: TCPMSS --set-mss $((M + 1)): $out"
	case $r in
	1) pass "$n-$M-is-the-largest" ;;
	0) fail "$n-$M-is-the-largest" "MSS $((M + 1)) gets through too: $M is not this path's value (a stale route?)" ;;
	*) fail "$n-$M-is-the-largest" "the oracle failed: $out" ;;
	esac
}

# differs NAME GOT OLD: the changed path's MSS is not the old one (else the
# change did not reach the path and the check above proves nothing).
differs() {
	if num "$2" && [ "$2" != "$3" ]; then
		pass "$1"
	else
		fail "$1" "MSS $2 after the change, $3 before: the change did not change the path"
	fi
}

# shows NAME PATTERN CMD...: CMD's output matches PATTERN (grep -E).
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
# lacks NAME PATTERN CMD...: the opposite.
lacks() {
	local n=$1 pat=$2 out
	shift 2
	out=$("$@" 2>&1)
	if grep -Eq -- "$pat" <<<"$out"; then
		fail "$n" "'$*' still shows /$pat/: $(echo "$out" | tr '\n' ' ')"
		return 1
	fi
	pass "$n"
}

scene() {
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

outer_addrs() {
	if [ "$IPSEC_OUTER" = 6 ]; then
		OCL=$IPSEC_CLU6 OGW=$IPSEC_GWU6 IPF=-6 OPL=128
	else
		OCL=$IPSEC_CLU4 OGW=$IPSEC_GWU4 IPF=-4 OPL=32
	fi
}
client_of() { if [ "$1" = 6 ]; then echo "$IPSEC_CLIENT6"; else echo "$IPSEC_CLIENT4"; fi; }
plen_of() { if [ "$1" = 6 ]; then echo 128; else echo 32; fi; }

# --- PMTU exceptions (lib-ipsec.sh: icmp_too_big) ----------------------------

# learn NAME IPF DEST ICMP-ARGS...: the gateway learns a PMTU of 1400
# toward DEST from icmp_too_big ICMP-ARGS; `ip route get DEST` shows the
# exception (mtu 1400, expires).
learn() {
	local n=$1 ipf=$2 dest=$3 out
	shift 3
	lacks "$n-no-mtu-before" 'mtu' gw "$ipf" route get "$dest"
	out=$(icmp_too_big "$@" 2>&1)
	echo "# $n: $out"
	sleep 0.3
	shows "$n-learnt" 'expires.*mtu 1400|mtu 1400.*expires' gw "$ipf" route get "$dest"
}

# --- the steps ---------------------------------------------------------------
declare -A BASE=() BACKLOCK=()

# base TAG FAMILY: A for this outer/inner pair, kept in BASE[TAG-FAMILY].
step_base() {
	local t=$1 f=$2
	measure "$t-v$f-base" "$f"
	BASE[$t-$f]=$M
}

# The route toward the peer: a host route with "mtu lock 1400", then
# deleted (the connected route is left, as before).
step_peer_lock() {
	local f=$2 n=$1-v$2-peer-lock a=${BASE[$1-$2]:-}
	outer_addrs
	num "$a" || { fail "$n" "no base value"; return; }
	gw "$IPF" route replace "$OCL/$OPL" dev "$IPSEC_GW_VPN_IF" mtu lock 1400
	shows "$n-route" 'mtu lock 1400' gw "$IPF" route get "$OCL" from "$OGW"
	measure "$n" "$f"
	differs "$n-changed" "$M" "$a"
	gw "$IPF" route del "$OCL/$OPL" dev "$IPSEC_GW_VPN_IF"
	lacks "$n-restored-route" 'mtu' gw "$IPF" route get "$OCL" from "$OGW"
	measure "$n-restored" "$f" "$a"
}

# The plain route back to the client: "mtu lock 1400", then restored.
step_back_lock() {
	local t=$1 f=$2 n=$1-v$2-back-lock a=${BASE[$1-$2]:-} c
	num "$a" || { fail "$n" "no base value"; return; }
	c=$(client_of "$f")
	gw route replace "$c/$(plen_of "$f")" dev "$IPSEC_GW_VPN_IF" mtu lock 1400
	shows "$n-route" 'mtu lock 1400' gw route get "$c"
	measure "$n" "$f"
	differs "$n-changed" "$M" "$a"
	BACKLOCK[$t-$f]=$M
	gw route replace "$c/$(plen_of "$f")" dev "$IPSEC_GW_VPN_IF"
	lacks "$n-restored-route" 'mtu' gw route get "$c"
	measure "$n-restored" "$f" "$a"
}

# A PMTU exception toward the peer, learnt from an ICMP error quoting the
# gateway's own ESP (esp4_err / esp6_err), then flushed.
step_peer_pmtu() {
	local f=$2 n=$1-v$2-peer-pmtu a=${BASE[$1-$2]:-} spi
	outer_addrs
	num "$a" || { fail "$n" "no base value"; return; }
	spi=$(gw xfrm state list src "$OGW" dst "$OCL" | awk '$1 == "proto" && $3 == "spi" { print $4; exit }')
	if [ -z "$spi" ]; then
		fail "$n-spi" "no outbound SA on the gateway"
		return
	fi
	if learn "$n" "$IPF" "$OCL" "$OGW" "$OGW" "$OCL" 50 "$(printf '%08x00000001' "$spi")" 1400; then
		measure "$n" "$f"
		differs "$n-changed" "$M" "$a"
	fi
	gw "$IPF" route flush cache
	lacks "$n-flushed-route" 'mtu' gw "$IPF" route get "$OCL"
	measure "$n-flushed" "$f" "$a"
}

# A PMTU exception on the plain route back to the client, learnt from an
# ICMP error quoting an echo reply of the gateway's to it, then flushed.
step_back_pmtu() {
	local f=$2 n=$1-v$2-back-pmtu a=${BASE[$1-$2]:-}
	num "$a" || { fail "$n" "no base value"; return; }
	if [ "$f" = 6 ]; then
		learn "$n" -6 "$IPSEC_CLIENT6" "$IPSEC_GWU6" "$IPSEC_GWSRV6" "$IPSEC_CLIENT6" 58 8100000000000001 1400
	else
		learn "$n" -4 "$IPSEC_CLIENT4" "$IPSEC_GWU4" "$IPSEC_GWSRV4" "$IPSEC_CLIENT4" 1 0000000000000001 1400
	fi && {
		measure "$n" "$f"
		differs "$n-changed" "$M" "$a"
	}
	gw "-$f" route flush cache
	lacks "$n-flushed-route" 'mtu' gw "-$f" route get "$(client_of "$f")"
	measure "$n-flushed" "$f" "$a"
}

# A rekey: a second outbound SA of the same CHILD_SA (reqid FAMILY) on the
# gateway, as an IKE daemon installs the new SA before it deletes the old
# one, with a larger overhead (AES-CBC + HMAC-SHA512, where the scene has
# AES-GCM-16), and its inbound twin on the client.  The kernel's bundle
# goes to the newest SA (xfrm_state_find()), so must --auto's mirror: the
# new largest MSS (oracle); the new SA deleted: A again.
step_rekey() {
	local f=$2 n=$1-v$2-rekey a=${BASE[$1-$2]:-} spi alg ci sn
	outer_addrs
	num "$a" || { fail "$n" "no base value"; return; }
	spi=$(printf '0x%x0a2' "$f")
	ci=$(client_of "$f")/$(plen_of "$f")
	if [ "$f" = 6 ]; then sn=$IPSEC_SRVNET6; else sn=$IPSEC_SRVNET4; fi
	ipsec_suite aes-cbc-sha512 && alg=$IPSEC_ALG_G2C
	ipsec_suite "$IPSEC_SUITE"
	# shellcheck disable=SC2086 # $alg: the algorithm's words
	if ! ip -n "$IPSEC_NS_CL" xfrm state add src "$OGW" dst "$OCL" proto esp spi "$spi" reqid "$f" mode tunnel $alg sel src "$sn" dst "$ci" ||
	   ! gw xfrm state add src "$OGW" dst "$OCL" proto esp spi "$spi" reqid "$f" mode tunnel $alg sel src "$sn" dst "$ci"; then
		fail "$n-sa" "the new SA was refused"
		return
	fi
	measure "$n" "$f"
	differs "$n-changed" "$M" "$a"
	shows "$n-new-sa-carried-it" '[1-9][0-9]*\(bytes\)' gw -s xfrm state get src "$OGW" dst "$OCL" proto esp spi "$spi"
	gw xfrm state del src "$OGW" dst "$OCL" proto esp spi "$spi"
	ip -n "$IPSEC_NS_CL" xfrm state del src "$OGW" dst "$OCL" proto esp spi "$spi"
	measure "$n-deleted" "$f" "$a"
}

# --- many clients --------------------------------------------------------------
# A second SA pair (reqid 40 + family) for 10.99.0.64/27 and fd99::1:0/112,
# addresses .65-.88 / fd99::1:1-fd99::1:24 on the client, every even one
# with a route back "mtu lock 1400" on the gateway.
MANY=24
many_addr() { if [ "$1" = 6 ]; then echo "fd99::1:$2"; else echo "10.99.0.$((64 + $2))"; fi; }
many_setup() {
	local f i ci sn
	outer_addrs
	{
		for f in 4 6; do
			if [ "$f" = 6 ]; then ci=fd99::1:0/112 sn=$IPSEC_SRVNET6; else ci=10.99.0.64/27 sn=$IPSEC_SRVNET4; fi
			echo "xfrm state add src $OCL dst $OGW proto esp spi 0x4${f}01 reqid 4$f mode tunnel $IPSEC_ALG_C2G sel src $ci dst $sn"
			echo "xfrm state add src $OGW dst $OCL proto esp spi 0x4${f}02 reqid 4$f mode tunnel $IPSEC_ALG_G2C sel src $sn dst $ci"
			echo "xfrm policy add src $ci dst $sn dir out tmpl src $OCL dst $OGW proto esp reqid 4$f mode tunnel"
			echo "xfrm policy add src $sn dst $ci dir in tmpl src $OGW dst $OCL proto esp reqid 4$f mode tunnel"
		done
		for ((i = 1; i <= MANY; i++)); do
			echo "addr add $(many_addr 4 "$i")/32 dev lo"
			echo "addr add $(many_addr 6 "$i")/128 dev lo nodad"
		done
	} | ipsec_batch "$IPSEC_NS_CL" || return 1
	{
		for f in 4 6; do
			if [ "$f" = 6 ]; then ci=fd99::1:0/112 sn=$IPSEC_SRVNET6; else ci=10.99.0.64/27 sn=$IPSEC_SRVNET4; fi
			echo "xfrm state add src $OGW dst $OCL proto esp spi 0x4${f}02 reqid 4$f mode tunnel $IPSEC_ALG_G2C sel src $sn dst $ci"
			echo "xfrm state add src $OCL dst $OGW proto esp spi 0x4${f}01 reqid 4$f mode tunnel $IPSEC_ALG_C2G sel src $ci dst $sn"
			echo "xfrm policy add src $sn dst $ci dir out tmpl src $OGW dst $OCL proto esp reqid 4$f mode tunnel"
			echo "xfrm policy add src $ci dst $sn dir fwd tmpl src $OCL dst $OGW proto esp reqid 4$f mode tunnel"
			echo "xfrm policy add src $ci dst $sn dir in tmpl src $OCL dst $OGW proto esp reqid 4$f mode tunnel"
			echo "route replace $ci dev $IPSEC_GW_VPN_IF"
		done
		for ((i = 2; i <= MANY; i += 2)); do
			echo "route replace $(many_addr 4 "$i")/32 dev $IPSEC_GW_VPN_IF mtu lock 1400"
			echo "route replace $(many_addr 6 "$i")/128 dev $IPSEC_GW_VPN_IF mtu lock 1400"
		done
	} | ipsec_batch "$IPSEC_NS_GW"
}

# many_round NAME ORDER...: for each index of ORDER, a v4 then a v6
# connection from that client address; one check per family that every
# SYN had its path's value (BASE for odd, BACKLOCK for even indexes).
many_round() {
	local n=$1 i f src sv out got port status mss want cnt=0
	local -A bad=([4]='' [6]='') seen=([4]='' [6]='')
	shift
	: >"$IPSEC_DIR/sv.syn"
	for i in "$@"; do
		for f in 4 6; do
			src=$(many_addr "$f" "$i")
			if [ "$f" = 6 ]; then sv=$IPSEC_SERVER6; else sv=$IPSEC_SERVER4; fi
			if ((i % 2)); then want=${BASE[o4-$f]:-}; else want=${BACKLOCK[o4-$f]:-}; fi
			out=$(ipsec_agent cl fetch "$sv" "$IPSEC_PORT" 2000 5 "$src")
			read -r got _ port status <<<"$out"
			mss=$(syn_mss "$src" "$port")
			cnt=$((cnt + 1))
			seen[$f]+=" $i:$mss"
			if [ "$mss" != "$want" ] || [ "$status" != ok ] || [ "$got" != 2000 ]; then
				bad[$f]+=" $src: MSS $mss (want $want), $got bytes, $status;"
			fi
		done
	done
	echo "# $n: $cnt connections (t=${SECONDS}s); index:MSS v4:${seen[4]}"
	echo "# $n: index:MSS v6:${seen[6]}"
	for f in 4 6; do
		if [ -z "${bad[$f]}" ]; then
			pass "$n-v$f-every-syn-exact"
		else
			fail "$n-v$f-every-syn-exact" "${bad[$f]# }"
		fi
	done
}

step_many() {
	local n=many i f order=()
	for f in 4 6; do
		if ! num "${BASE[o4-$f]:-}" || ! num "${BACKLOCK[o4-$f]:-}"; then
			fail "$n" "no base or back-lock value for v$f"
			return
		fi
	done
	if ! many_setup; then
		fail "$n-setup" "second SA pair, addresses or routes refused"
		return
	fi
	shows "$n-route-v4" 'mtu lock 1400' gw route get "$(many_addr 4 2)"
	shows "$n-route-v6" 'mtu lock 1400' gw route get "$(many_addr 6 2)"
	lacks "$n-route-odd" 'mtu' gw route get "$(many_addr 4 1)"
	if ! rules 4 "$AUTO" || ! rules 6 "$AUTO"; then
		fail "$n" "--auto rule refused"
		return
	fi
	# Round 1 in order, round 2 with a stride of 7 (coprime to 24):
	# neighbours in the slot hash's input change every time.
	many_round "$n-round1" $(seq 1 $MANY)
	for ((i = 0; i < MANY; i++)); do
		order+=($((i * 7 % MANY + 1)))
	done
	many_round "$n-round2" "${order[@]}"
}

# =============================================================================
# shellcheck disable=SC2034 # read by lib-ipsec.sh
IPSEC_MODE=tunnel IPSEC_SUITE=aes-gcm-16 IPSEC_NATT=0 IPSEC_OUTER=4 IPSEC_UNDERLAY_MTU=1500

# ROUTE_CACHE_STEPS: the steps to run (base always runs first; "many"
# needs back_lock, "outer6" runs base, peer_lock and peer_pmtu with an IPv6
# outer header); the sanitizer kernel runs a part of them
# (tests/sanitized/net/66-route-cache-part.sh).
STEPS=" ${ROUTE_CACHE_STEPS:-peer_lock back_lock peer_pmtu back_pmtu rekey many outer6} "
want() { [[ "$STEPS" == *" $1 "* ]]; }

scene route-cache || exit 0
echo "# scene up (t=${SECONDS}s; steps:$STEPS)"

for f in 4 6; do
	step_base o4 "$f"
	want peer_lock && step_peer_lock o4 "$f"
	want back_lock && step_back_lock o4 "$f"
	want peer_pmtu && step_peer_pmtu o4 "$f"
	want back_pmtu && step_back_pmtu o4 "$f"
	want rekey && step_rekey o4 "$f"
done
want many && step_many

# The same gateway namespace (its cache stays), SAs with an IPv6 outer
# header: the route toward the peer is an IPv6 one.
IPSEC_OUTER=6
if want outer6 && resa outer6; then
	step_base o6 6
	want peer_lock && step_peer_lock o6 6
	want peer_pmtu && step_peer_pmtu o6 6
fi
echo "# gateway counters: $(ip netns exec "$IPSEC_NS_GW" cat /proc/net/stat/ipsecmss | tr '\n' ' ')"
exit 0
