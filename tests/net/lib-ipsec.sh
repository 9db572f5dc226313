# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# The seed's scene with real ESP, in network namespaces (source this file):
#
#   client  --- ESP over underlay veth ---  gateway  --- plain veth ---  server
#   (VPN client, inner address              (decrypts,                   (drops ICMP frag-needed
#    10.99.0.2 / fd99::2 from the pool,      forwards; the MSS            and ICMPv6 packet-too-big
#    announces MSS for MTU 1500)             rules under test go here)    in INPUT: the black hole)
#
# Static SAs and policies with `ip xfrm` (no IKE).  Both inner families are
# always set up (one SA pair each); the outer family, suite, NAT-T, mode and
# underlay MTU are chosen by these variables before ipsec_scene_up (or
# ipsec_sa_up after ipsec_sa_down, which keeps namespaces and the server):
#
#   IPSEC_OUTER        4 | 6                                   (default 4)
#   IPSEC_SUITE        aes-gcm-8|12|16, chacha20-poly1305, aes-cbc-sha1|256|384|512,
#                      aes-ccm-8|12|16, aes-gmac, aes-ctr-sha256, 3des-cbc-sha1,
#                      null-sha256                             (default aes-gcm-16)
#   IPSEC_NATT         0 | 1: ESP in UDP 4500 (python helpers hold the
#                      UDP_ENCAP_ESPINUDP sockets)             (default 0)
#   IPSEC_MODE         tunnel: policy-based tunnel mode
#                      transport: ESP transport between the two underlay
#                        addresses protecting an IP-in-IP tunnel device
#                        (sit "any" over IPv4, ip6tnl "any" over IPv6) that
#                        carries the inner traffic, device MTU 1500
#                      xfrmi: route-based, tunnel-mode SAs behind an xfrm
#                        interface (if_id) at its default MTU 1500
#                      vti: route-based, tunnel-mode SAs marked with the
#                        key of a vti (vti6 over IPv6) device, default MTU
#                                                              (default tunnel)
#   IPSEC_UNDERLAY_MTU MTU of the client-gateway veth          (default 1500)
#   IPSEC_CLIENT_MTU   the client announces MSS for this MTU (route advmss)
#                                                              (default 1500)
#   IPSEC_INNER        4 | 6: family used by download & co.    (default 4)
#   IPSEC_IPT          iptables command for the gateway and server:
#                      iptables | iptables-legacy | iptables-nft (default iptables);
#                      the IPv6 one is derived (ip6tables...)
#   IPSEC_STALL_TIMEOUT  seconds without a single body byte after which a
#                        download counts as stalled
#   IPSEC_SLOW_TIMEOUT   timeout of the retry of a download that made progress
#   IPSEC_PROBE_BYTES    bytes per probe download
#   IPSEC_PROBE_TARGET   target of the --set-mss oracle (default TCPMSS: the
#                        kernel's own, independent of the code under test)
#   IPSEC_GW_OUTPUT_MARK  if set, the gateway's outbound SAs (toward the
#                        client) carry "output-mark" with this value, so the
#                        kernel routes their ESP by that mark (policy
#                        routing: ip rule fwmark ...)         (default unset)
#
# Names after ipsec_scene_up:
#   namespaces  $IPSEC_NS_CL $IPSEC_NS_GW $IPSEC_NS_SV
#   gateway     $IPSEC_GW_VPN_IF (toward the client), $IPSEC_GW_SRV_IF (toward the server)
#   addresses   $IPSEC_CLIENT4 $IPSEC_CLIENT6 $IPSEC_SERVER4 $IPSEC_SERVER6
#
# Functions (all return non-zero on failure, with a message on stderr):
#   ipsec_scene_up / ipsec_scene_down / ipsec_sa_up / ipsec_sa_down
#   ipsec_gw_ipt FAMILY ARGS...      iptables (4) or ip6tables (6) in the gateway
#   ipsec_gw_flush                   flush the gateway's mangle table (v4 and v6)
#   download BYTES TIMEOUT [FAMILY]  client fetches from the server; prints
#                                    "BYTES-RECEIVED SECONDS MSS STATUS", MSS as seen
#                                    by the server in the client's SYN ("-" if none),
#                                    STATUS ok | stalled (connected, then timed
#                                    out) | connect-timeout | error:ERRNO
#   download_verdict BYTES [FAMILY]  download with IPSEC_STALL_TIMEOUT; prints
#                                    "VERDICT <download line>", VERDICT complete |
#                                    stall (not one body byte: the black hole) |
#                                    failed; partial progress is slowness, not a
#                                    stall: retried with IPSEC_SLOW_TIMEOUT
#   push_to_client BYTES TIMEOUT [FAMILY]
#                                    the server connects to the client and sends;
#                                    same output, MSS seen by the server in the
#                                    client's SYN-ACK
#   push_verdict BYTES [FAMILY]      push_to_client as download_verdict does it
#   probe_mss MSS [FAMILY]           oracle: with only "--set-mss MSS" on the
#                                    gateway, does a download complete?
#   probe_push MSS FAMILY            the same for the push (the client's SYN-ACK)
#   ipsec_verdict_rc MSS LINE        probe_mss's return code for a verdict LINE
#   stat_read / delta / deltas       the gateway's counters (COUNTERS: the names)
#   icmp_too_big TO QSRC QDST QPROTO QHEAD MTU
#                                    an ICMP error to the gateway (PMTU exceptions)
#   check_max_mss MSS [FAMILY]       MSS completes and MSS+1 stalls
#   probe_max_mss LO HI [FAMILY]     bisect the largest MSS in LO..HI that completes
#   ipsec_expected_mss [FAMILY]      the scene's largest MSS by this file's own
#                                    arithmetic (kernel's xfrm_state_mtu rules)

IPSEC_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IPSEC_XFER="$IPSEC_LIB_DIR/xfer.py"

: "${IPSEC_OUTER:=4}" "${IPSEC_SUITE:=aes-gcm-16}" "${IPSEC_NATT:=0}"
: "${IPSEC_MODE:=tunnel}" "${IPSEC_UNDERLAY_MTU:=1500}" "${IPSEC_CLIENT_MTU:=1500}"
: "${IPSEC_INNER:=4}" "${IPSEC_IPT:=iptables}"
# Measured in the TCG guest with two other VMs loading the host: a 300 KB
# download through AES-GCM takes 0.1-0.4 s from connect() to the last byte,
# a 64 KB one 0.05 s; a black hole never delivers one full-size segment.
: "${IPSEC_STALL_TIMEOUT:=5}" "${IPSEC_SLOW_TIMEOUT:=60}" "${IPSEC_PROBE_BYTES:=65536}"
: "${IPSEC_PROBE_TARGET:=TCPMSS}" "${IPSEC_PREFIX:=ipsec-$$-}"

IPSEC_NS_CL=${IPSEC_PREFIX}cl
IPSEC_NS_GW=${IPSEC_PREFIX}gw
IPSEC_NS_SV=${IPSEC_PREFIX}sv
IPSEC_CL_IF=cu IPSEC_GW_VPN_IF=gu IPSEC_GW_SRV_IF=gs IPSEC_SV_IF=sv0
IPSEC_CLIENT4=10.99.0.2 IPSEC_CLIENT6=fd99::2
IPSEC_SERVER4=198.51.100.2 IPSEC_SERVER6=2001:db8:2::2
IPSEC_GWSRV4=198.51.100.1 IPSEC_GWSRV6=2001:db8:2::1
IPSEC_SRVNET4=198.51.100.0/24 IPSEC_SRVNET6=2001:db8:2::/64
IPSEC_CLU4=192.0.2.2 IPSEC_GWU4=192.0.2.1
IPSEC_CLU6=2001:db8:1::2 IPSEC_GWU6=2001:db8:1::1
IPSEC_PORT=80
IPSEC_DIR=
IPSEC_PIDS=()        # background helpers we started, killed by pid

ipsec_err() { echo "lib-ipsec: $*" >&2; }

# Run an `ip` batch (stdin) in a namespace ("" = this one); show the error.
ipsec_batch() {
	local out
	if ! out=$(ip ${1:+-n "$1"} -batch - 2>&1); then
		ipsec_err "ip batch${1:+ in $1} failed: $out"
		return 1
	fi
}

# Agents: one xfer.py per namespace, driven over two FIFOs with bash
# builtins only (a process start costs up to a second or two under TCG,
# Python's several).  ipsec_agent_start NAME NS; then ipsec_agent NAME CMD...
# prints the one-line answer.
ipsec_agent_start() {
	local name=$1 ns=$2 w r
	mkfifo "$IPSEC_DIR/$name.in" "$IPSEC_DIR/$name.out" || return 1
	ip netns exec "$ns" /usr/bin/python3 "$IPSEC_XFER" agent \
		<"$IPSEC_DIR/$name.in" >"$IPSEC_DIR/$name.out" 2>>"$IPSEC_DIR/agents.log" &
	IPSEC_PIDS+=($!)
	# Same order as the child's redirections: no deadlock.
	exec {w}>"$IPSEC_DIR/$name.in" {r}<"$IPSEC_DIR/$name.out"
	eval "IPSEC_FDW_$name=$w IPSEC_FDR_$name=$r"
}

ipsec_agent_ready() {
	local r line
	eval "r=\${IPSEC_FDR_$1:-}"
	if [ -z "$r" ] || ! read -r -t 120 line <&"$r" || [ "$line" != ready ]; then
		ipsec_err "agent $1 did not start: $(tail -3 "$IPSEC_DIR/agents.log" 2>/dev/null)"
		return 1
	fi
}

ipsec_agent() {
	local name=$1 w r line
	shift
	eval "w=\${IPSEC_FDW_$name:-} r=\${IPSEC_FDR_$name:-}"
	[ -n "$w" ] || { ipsec_err "no agent $name"; return 1; }
	# A dead agent must not kill the test with SIGPIPE.
	if ! (trap '' PIPE; printf '%s\n' "$*" >&"$w") 2>/dev/null; then
		ipsec_err "agent $name is gone"
		return 1
	fi
	# Longer than any command's own timeout (fetch TIMEOUT is capped).
	if ! read -r -t 200 line <&"$r"; then
		ipsec_err "agent $name: no answer to: $*"
		return 1
	fi
	case "$line" in
	ERR*) ipsec_err "agent $name: $line"; return 1 ;;
	esac
	echo "$line"
}

ipsec_agents_stop() {
	local p name d fd
	for name in cl gw sv; do
		for d in W R; do
			eval "fd=\${IPSEC_FD${d}_$name:-}"
			[ -z "$fd" ] || exec {fd}>&-
			eval "IPSEC_FD${d}_$name="
		done
	done
	for p in "${IPSEC_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${IPSEC_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	IPSEC_PIDS=()
}

ipsec_ip6t() { echo "${IPSEC_IPT/iptables/ip6tables}"; }

ipsec_gw_ipt() {
	local fam=$1
	shift
	if [ "$fam" = 6 ]; then
		ip netns exec "$IPSEC_NS_GW" "$(ipsec_ip6t)" "$@"
	else
		ip netns exec "$IPSEC_NS_GW" "$IPSEC_IPT" "$@"
	fi
}

ipsec_gw_flush() {
	ipsec_gw_ipt 4 -t mangle -F && ipsec_gw_ipt 6 -t mangle -F
}

# --- ESP suites: ip xfrm algorithm arguments and the overhead parameters ---
# ipsec_suite NAME sets IPSEC_ALG_C2G / IPSEC_ALG_G2C (ip xfrm words, one key
# per direction) and IPSEC_IV, IPSEC_ICV, IPSEC_BLK (cipher block size; the
# ESP trailer is padded to it rounded up to 4).
ipsec_key() {
	local k=0x i
	for ((i = 0; i < $2; i++)); do k+=$1; done
	echo "$k"
}

ipsec_suite() {
	local d k aead='' enc='' auth='' ekey=0 akey=0 bits=0
	case "$1" in
	aes-gcm-8|aes-gcm-12|aes-gcm-16)
		aead='rfc4106(gcm(aes))' ekey=20 bits=$((${1#aes-gcm-} * 8))
		IPSEC_IV=8 IPSEC_ICV=${1#aes-gcm-} IPSEC_BLK=1 ;;
	aes-ccm-8|aes-ccm-12|aes-ccm-16)
		aead='rfc4309(ccm(aes))' ekey=19 bits=$((${1#aes-ccm-} * 8))
		IPSEC_IV=8 IPSEC_ICV=${1#aes-ccm-} IPSEC_BLK=1 ;;
	aes-gmac)
		aead='rfc4543(gcm(aes))' ekey=20 bits=128
		IPSEC_IV=8 IPSEC_ICV=16 IPSEC_BLK=1 ;;
	chacha20-poly1305)
		aead='rfc7539esp(chacha20,poly1305)' ekey=36 bits=128
		IPSEC_IV=8 IPSEC_ICV=16 IPSEC_BLK=1 ;;
	aes-cbc-sha1|aes-cbc-sha256|aes-cbc-sha384|aes-cbc-sha512)
		enc='cbc(aes)' ekey=16 IPSEC_IV=16 IPSEC_BLK=16
		case "$1" in
		*sha1) auth='hmac(sha1)' akey=20 IPSEC_ICV=12 ;;
		*sha256) auth='hmac(sha256)' akey=32 IPSEC_ICV=16 ;;
		*sha384) auth='hmac(sha384)' akey=48 IPSEC_ICV=24 ;;
		*sha512) auth='hmac(sha512)' akey=64 IPSEC_ICV=32 ;;
		esac ;;
	aes-ctr-sha256)
		enc='rfc3686(ctr(aes))' ekey=20 auth='hmac(sha256)' akey=32
		IPSEC_IV=8 IPSEC_ICV=16 IPSEC_BLK=1 ;;
	3des-cbc-sha1)
		enc='cbc(des3_ede)' ekey=24 auth='hmac(sha1)' akey=20
		IPSEC_IV=8 IPSEC_ICV=12 IPSEC_BLK=8 ;;
	null-sha256)
		enc='ecb(cipher_null)' auth='hmac(sha256)' akey=32
		IPSEC_IV=0 IPSEC_ICV=16 IPSEC_BLK=1 ;;
	*) ipsec_err "unknown suite $1"; return 1 ;;
	esac
	for d in C2G G2C; do
		if [ "$d" = C2G ]; then k=1; else k=2; fi
		if [ -n "$aead" ]; then
			eval "IPSEC_ALG_$d=\"aead $aead $(ipsec_key "$k$k" "$ekey") $bits\""
		elif [ "$ekey" = 0 ]; then
			eval "IPSEC_ALG_$d=\"enc $enc \\\"\\\" auth-trunc $auth $(ipsec_key "$k$((k + 2))" "$akey") $((IPSEC_ICV * 8))\""
		else
			eval "IPSEC_ALG_$d=\"enc $enc $(ipsec_key "$k$k" "$ekey") auth-trunc $auth $(ipsec_key "$k$((k + 2))" "$akey") $((IPSEC_ICV * 8))\""
		fi
	done
}

# The scene's largest MSS, computed here from the ESP format (RFC 4303) the
# way the kernel's xfrm_state_mtu() sizes it: outer IP header, 8 bytes of
# SPI+sequence, IV, UDP 8 under NAT-T, payload+2-byte trailer padded to the
# block size rounded up to 4, ICV.  Transport mode pads the payload after
# the IP header and carries an IP-in-IP tunnel header.
ipsec_expected_mss() {
	local fam=${1:-$IPSEC_INNER} oip=20 iip=20 tip=0 blk hdr mtu
	[ "$IPSEC_OUTER" = 6 ] && oip=40
	[ "$fam" = 6 ] && iip=40
	ipsec_suite "$IPSEC_SUITE" || return 1
	blk=$(((IPSEC_BLK + 3) / 4 * 4))
	hdr=$((8 + IPSEC_IV))
	[ "$IPSEC_NATT" = 1 ] && hdr=$((hdr + 8))
	if [ "$IPSEC_MODE" = transport ]; then
		tip=$oip
		mtu=$((((IPSEC_UNDERLAY_MTU - hdr - IPSEC_ICV - oip) / blk * blk) + oip - 2))
		mtu=$((mtu - tip))
	else
		mtu=$((((IPSEC_UNDERLAY_MTU - oip - hdr - IPSEC_ICV) / blk * blk) - 2))
	fi
	# The client's own announcement is the other bound.
	[ "$mtu" -gt "$IPSEC_CLIENT_MTU" ] && mtu=$IPSEC_CLIENT_MTU
	echo $((mtu - iip - 20))
}

# --- the scene ---

ipsec_scene_up() {
	local a
	IPSEC_DIR=$(mktemp -d /tmp/lib-ipsec.XXXXXX) || return 1
	ipsec_batch "" <<-EOF || return 1
		netns add $IPSEC_NS_CL
		netns add $IPSEC_NS_GW
		netns add $IPSEC_NS_SV
		link add $IPSEC_CL_IF netns $IPSEC_NS_CL type veth peer name $IPSEC_GW_VPN_IF netns $IPSEC_NS_GW
		link add $IPSEC_GW_SRV_IF netns $IPSEC_NS_GW type veth peer name $IPSEC_SV_IF netns $IPSEC_NS_SV
	EOF
	# The agents start (slowly) while the namespaces are configured.
	ipsec_agent_start cl "$IPSEC_NS_CL" &&
		ipsec_agent_start gw "$IPSEC_NS_GW" &&
		ipsec_agent_start sv "$IPSEC_NS_SV" || return 1
	# nodad everywhere: addresses usable at once, no tentative wait.
	ipsec_batch "$IPSEC_NS_CL" <<-EOF || return 1
		link set lo up
		link set $IPSEC_CL_IF mtu $IPSEC_UNDERLAY_MTU up
		addr add $IPSEC_CLU4/24 dev $IPSEC_CL_IF
		addr add $IPSEC_CLU6/64 dev $IPSEC_CL_IF nodad
		addr add $IPSEC_CLIENT4/32 dev lo
		addr add $IPSEC_CLIENT6/128 dev lo nodad
	EOF
	ipsec_batch "$IPSEC_NS_GW" <<-EOF || return 1
		link set lo up
		link set $IPSEC_GW_VPN_IF mtu $IPSEC_UNDERLAY_MTU up
		link set $IPSEC_GW_SRV_IF up
		addr add $IPSEC_GWU4/24 dev $IPSEC_GW_VPN_IF
		addr add $IPSEC_GWU6/64 dev $IPSEC_GW_VPN_IF nodad
		addr add $IPSEC_GWSRV4/24 dev $IPSEC_GW_SRV_IF
		addr add $IPSEC_GWSRV6/64 dev $IPSEC_GW_SRV_IF nodad
	EOF
	ipsec_batch "$IPSEC_NS_SV" <<-EOF || return 1
		link set lo up
		link set $IPSEC_SV_IF up
		addr add $IPSEC_SERVER4/24 dev $IPSEC_SV_IF
		addr add $IPSEC_SERVER6/64 dev $IPSEC_SV_IF nodad
		route add 0.0.0.0/0 via $IPSEC_GWSRV4
		route add ::/0 via $IPSEC_GWSRV6
	EOF
	# The black hole: the server never hears that its segments are too big.
	ip netns exec "$IPSEC_NS_SV" "$IPSEC_IPT" -A INPUT -p icmp \
		--icmp-type fragmentation-needed -j DROP || return 1
	ip netns exec "$IPSEC_NS_SV" "$(ipsec_ip6t)" -A INPUT -p ipv6-icmp \
		--icmpv6-type packet-too-big -j DROP || return 1
	for a in cl gw sv; do
		ipsec_agent_ready $a || return 1
	done
	ipsec_agent gw sysctl net.ipv4.ip_forward 1 >/dev/null &&
		ipsec_agent gw sysctl net.ipv6.conf.all.forwarding 1 >/dev/null || return 1
	: >"$IPSEC_DIR/sv.syn"
	ipsec_agent sv serve "$IPSEC_PORT" "$IPSEC_SV_IF" "$IPSEC_DIR/sv.syn" >/dev/null || return 1
	ipsec_sa_up
}

ipsec_scene_down() {
	local ns
	ipsec_agents_stop
	for ns in "$IPSEC_NS_CL" "$IPSEC_NS_GW" "$IPSEC_NS_SV"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -z "$IPSEC_DIR" ] || rm -rf "$IPSEC_DIR"
	IPSEC_DIR=
	return 0
}

# One side's SAs, policies and routes.  $1 = cl or gw.
ipsec_sa_side() {
	local side=$1 me peer ctl encap='' oany f ci sn pr vif=''
	local spi_out spi_in alg_out alg_in reqid ifid= omark=''
	if [ "$IPSEC_OUTER" = 6 ]; then
		if [ "$side" = cl ]; then me=$IPSEC_CLU6 peer=$IPSEC_GWU6; else me=$IPSEC_GWU6 peer=$IPSEC_CLU6; fi
		oany=::
	else
		if [ "$side" = cl ]; then me=$IPSEC_CLU4 peer=$IPSEC_GWU4; else me=$IPSEC_GWU4 peer=$IPSEC_CLU4; fi
		oany=0.0.0.0
	fi
	[ "$IPSEC_NATT" = 1 ] && encap="encap espinudp 4500 4500 $oany"
	if [ "$side" = cl ]; then
		alg_out=$IPSEC_ALG_C2G alg_in=$IPSEC_ALG_G2C ctl=$IPSEC_CL_IF
	else
		alg_out=$IPSEC_ALG_G2C alg_in=$IPSEC_ALG_C2G ctl=$IPSEC_GW_VPN_IF
		[ -z "${IPSEC_GW_OUTPUT_MARK:-}" ] || omark="output-mark $IPSEC_GW_OUTPUT_MARK"
	fi
	# SPIs: 0xIF0S, I = inner family (0 for transport), S = 1 for c->g.
	spi_c2g() { printf '0x%x001' "$1"; }
	spi_g2c() { printf '0x%x002' "$1"; }

	case "$IPSEC_MODE" in
	transport)
		# One SA pair between the underlay addresses, for IP-in-IP (4) and
		# IPv6-in-IP (41) only: narrow, so ND and the like stay in clear.
		if [ "$side" = cl ]; then spi_out=$(spi_c2g 0) spi_in=$(spi_g2c 0); else spi_out=$(spi_g2c 0) spi_in=$(spi_c2g 0); fi
		if [ "$IPSEC_OUTER" = 6 ]; then
			echo "link add ipt0 type ip6tnl mode any local $me remote $peer encaplimit none"
		else
			echo "link add ipt0 type sit mode any local $me remote $peer"
		fi
		echo "link set ipt0 mtu $IPSEC_CLIENT_MTU up"
		echo "xfrm state add src $me dst $peer proto esp spi $spi_out reqid 9 mode transport $alg_out $encap $omark"
		echo "xfrm state add src $peer dst $me proto esp spi $spi_in reqid 9 mode transport $alg_in $encap"
		for pr in 4 41; do
			echo "xfrm policy add src $me dst $peer proto $pr dir out tmpl src $me dst $peer proto esp reqid 9 mode transport"
			echo "xfrm policy add src $peer dst $me proto $pr dir in tmpl src $peer dst $me proto esp reqid 9 mode transport"
		done
		vif=ipt0
		;;
	tunnel|xfrmi|vti)
		if [ "$IPSEC_MODE" = xfrmi ]; then
			echo "link add ipsec0 type xfrm dev $ctl if_id 7"
			echo "link set ipsec0 up"
			ifid="if_id 7" vif=ipsec0
		elif [ "$IPSEC_MODE" = vti ]; then
			# vti (IPv4 outer) / vti6: the SAs and policies carry
			# the device's key as mark.
			if [ "$IPSEC_OUTER" = 6 ]; then
				echo "link add ipsec0 type vti6 local $me remote $peer ikey 7 okey 7"
			else
				echo "link add ipsec0 type vti local $me remote $peer ikey 7 okey 7"
			fi
			echo "link set ipsec0 up"
			ifid="mark 7" vif=ipsec0
		fi
		for f in 4 6; do
			if [ "$f" = 6 ]; then ci=$IPSEC_CLIENT6/128 sn=$IPSEC_SRVNET6; else ci=$IPSEC_CLIENT4/32 sn=$IPSEC_SRVNET4; fi
			reqid=$f
			# The SA's selector fixes its inner family (needed when it
			# differs from the outer one).
			if [ "$side" = cl ]; then
				echo "xfrm state add src $me dst $peer proto esp spi $(spi_c2g "$f") reqid $reqid mode tunnel $alg_out $encap sel src $ci dst $sn $ifid"
				echo "xfrm state add src $peer dst $me proto esp spi $(spi_g2c "$f") reqid $reqid mode tunnel $alg_in $encap sel src $sn dst $ci $ifid"
				echo "xfrm policy add src $ci dst $sn dir out $ifid tmpl src $me dst $peer proto esp reqid $reqid mode tunnel"
				echo "xfrm policy add src $sn dst $ci dir in $ifid tmpl src $peer dst $me proto esp reqid $reqid mode tunnel"
			else
				echo "xfrm state add src $me dst $peer proto esp spi $(spi_g2c "$f") reqid $reqid mode tunnel $alg_out $encap $omark sel src $sn dst $ci $ifid"
				echo "xfrm state add src $peer dst $me proto esp spi $(spi_c2g "$f") reqid $reqid mode tunnel $alg_in $encap sel src $ci dst $sn $ifid"
				echo "xfrm policy add src $sn dst $ci dir out $ifid tmpl src $me dst $peer proto esp reqid $reqid mode tunnel"
				echo "xfrm policy add src $ci dst $sn dir fwd $ifid tmpl src $peer dst $me proto esp reqid $reqid mode tunnel"
				echo "xfrm policy add src $ci dst $sn dir in $ifid tmpl src $peer dst $me proto esp reqid $reqid mode tunnel"
			fi
		done
		[ -n "$vif" ] || vif=$ctl
		;;
	*) ipsec_err "unknown IPSEC_MODE $IPSEC_MODE"; return 1 ;;
	esac
	# Inner routes: the client reaches the server net through the VPN and
	# announces the MSS of its own (LAN-sized) MTU; the gateway routes the
	# client's pool address back.
	if [ "$side" = cl ]; then
		echo "route replace $IPSEC_SRVNET4 dev $vif src $IPSEC_CLIENT4 advmss $((IPSEC_CLIENT_MTU - 40))"
		echo "route replace $IPSEC_SRVNET6 dev $vif src $IPSEC_CLIENT6 advmss $((IPSEC_CLIENT_MTU - 60))"
	else
		echo "route replace $IPSEC_CLIENT4/32 dev $vif"
		echo "route replace $IPSEC_CLIENT6/128 dev $vif"
	fi
}

ipsec_sa_up() {
	local natt=v4
	ipsec_suite "$IPSEC_SUITE" || return 1
	if [ "$IPSEC_NATT" = 1 ]; then
		# What the IKE daemon does on each end: a UDP 4500 socket with
		# UDP_ENCAP_ESPINUDP, without which ESP-in-UDP is not taken in.
		[ "$IPSEC_OUTER" = 6 ] && natt=v6
		ipsec_agent cl natt $natt >/dev/null && ipsec_agent gw natt $natt >/dev/null || return 1
	fi
	ipsec_sa_side cl | ipsec_batch "$IPSEC_NS_CL" || return 1
	ipsec_sa_side gw | ipsec_batch "$IPSEC_NS_GW" || return 1
}

# Also deletes the inner routes (and with them any PMTU exception a stall
# left cached, e.g. on the xfrm interface): down + up gives a fresh path.
ipsec_sa_down() {
	local ns a r1 r2
	for ns in "$IPSEC_NS_CL" "$IPSEC_NS_GW"; do
		# Only this side's inner routes: the gateway's own route to the
		# server net is a connected one and must stay.
		if [ "$ns" = "$IPSEC_NS_CL" ]; then
			r1=$IPSEC_SRVNET4 r2=$IPSEC_SRVNET6
		else
			r1=$IPSEC_CLIENT4/32 r2=$IPSEC_CLIENT6/128
		fi
		ip -force -n "$ns" -batch - >/dev/null 2>&1 <<-EOF
			xfrm policy flush
			xfrm state flush
			link del ipt0
			link del ipsec0
			route del $r1
			route del $r2
		EOF
	done
	for a in cl gw; do
		ipsec_agent $a natt off >/dev/null
	done
	return 0
}

# --- traffic ---

# ipsec_syn_lines: how many SYNs the server's capture holds so far; give
# it to ipsec_seen_mss as FROM so that an earlier connection that had the
# same port (of either family: the capture keeps them all) is not taken.
ipsec_syn_lines() { wc -l <"$IPSEC_DIR/sv.syn"; }

# ipsec_seen_mss FLAGS PORT [FROM]: MSS of the first SYN (S) or SYN-ACK (SA)
# the server received from/to PORT after the capture's first FROM lines.
ipsec_seen_mss() {
	local flags=$1 port=$2 from=${3:-0} i _ dir fl sp dp mss
	for i in 1 2 3 4 5; do
		while read -r _ dir fl _ sp _ dp mss; do
			if [ "$dir" = in ] && [ "$fl" = "$flags" ] &&
				{ [ "$sp" = "$port" ] || [ "$dp" = "$port" ]; }; then
				echo "$mss"
				return 0
			fi
		done < <(tail -n +$((from + 1)) "$IPSEC_DIR/sv.syn")
		sleep 0.2
	done
	echo -
}

ipsec_addrs() {
	if [ "${1:-$IPSEC_INNER}" = 6 ]; then
		echo "$IPSEC_CLIENT6 $IPSEC_SERVER6"
	else
		echo "$IPSEC_CLIENT4 $IPSEC_SERVER4"
	fi
}

download() {
	local bytes=$1 tmo=$2 ci sv out got secs port status from
	read -r ci sv <<<"$(ipsec_addrs "${3:-}")"
	from=$(ipsec_syn_lines)
	out=$(ipsec_agent cl fetch "$sv" "$IPSEC_PORT" "$bytes" "$tmo" "$ci") || return 1
	read -r got secs port status <<<"$out"
	echo "$got $secs $(ipsec_seen_mss S "$port" "$from") $status"
}

push_to_client() {
	local bytes=$1 tmo=$2 ci sv out got secs port status from
	read -r ci sv <<<"$(ipsec_addrs "${3:-}")"
	if [ ! -e "$IPSEC_DIR/cl.serving" ]; then
		ipsec_agent cl serve "$IPSEC_PORT" >/dev/null || return 1
		: >"$IPSEC_DIR/cl.serving"
	fi
	from=$(ipsec_syn_lines)
	out=$(ipsec_agent sv push "$ci" "$IPSEC_PORT" "$bytes" "$tmo" "$sv") || return 1
	read -r got secs port status <<<"$out"
	echo "$got $secs $(ipsec_seen_mss SA "$port" "$from") $status"
}

# transfer_verdict FN BYTES [FAMILY]: FN (download or push_to_client) with
# IPSEC_STALL_TIMEOUT, again with IPSEC_SLOW_TIMEOUT if it stalled after
# some progress; prints "VERDICT <FN's line>".
transfer_verdict() {
	local fn=$1 bytes=$2 fam=${3:-} out got secs mss status
	out=$("$fn" "$bytes" "$IPSEC_STALL_TIMEOUT" "$fam") || { echo "failed agent"; return 0; }
	read -r got secs mss status <<<"$out"
	if [ "$status" = stalled ] && [ "$got" -gt 0 ]; then
		out=$("$fn" "$bytes" "$IPSEC_SLOW_TIMEOUT" "$fam") || { echo "failed agent"; return 0; }
		read -r got secs mss status <<<"$out"
	fi
	if [ "$status" = ok ] && [ "$got" = "$bytes" ]; then
		echo "complete $out"
	elif [ "$status" = stalled ] && [ "$got" = 0 ]; then
		echo "stall $out"
	else
		echo "failed $out"
	fi
}
download_verdict() { transfer_verdict download "$@"; }
push_verdict() { transfer_verdict push_to_client "$@"; }

# --- the --set-mss oracle ---

# probe_mss MSS [FAMILY]: with the gateway lowering the client's SYN to MSS
# (IPSEC_PROBE_TARGET --set-mss, first rule of mangle FORWARD), download
# IPSEC_PROBE_BYTES.  Prints the download_verdict line.  Returns 0: complete
# at that MSS; 1: stalled at that MSS; 2: the oracle itself failed (rule not
# accepted, the server saw another MSS, connection failed).
probe_mss() {
	probe_with download_verdict "$IPSEC_PROBE_TARGET" "$1" "${2:-$IPSEC_INNER}"
}

# probe_push MSS FAMILY: probe_mss for the push (the server connects to
# the client), with TCPMSS --set-mss MSS on the client's SYN-ACK.
probe_push() { probe_with push_verdict TCPMSS "$1" "$2"; }

# probe_with VERDICT-FN TARGET MSS FAMILY: probe_mss's body.
probe_with() {
	local fn=$1 target=$2 mss=$3 fam=$4 rule out
	# shellcheck disable=SC2054 # SYN,RST is one iptables word
	rule=(FORWARD -o "$IPSEC_GW_SRV_IF" -p tcp --tcp-flags SYN,RST SYN
		-j "$target" --set-mss "$mss")
	ipsec_gw_ipt "$fam" -t mangle -I "${rule[@]}" || return 2
	out=$("$fn" "$IPSEC_PROBE_BYTES" "$fam")
	ipsec_gw_ipt "$fam" -t mangle -D "${rule[@]}"
	echo "$out"
	ipsec_verdict_rc "$mss" "$out"
}

# ipsec_verdict_rc MSS LINE: for a download_verdict LINE of a connection
# whose SYN the oracle lowered to MSS: 0 complete, 1 stall, 2 the oracle
# failed (the server saw another MSS, no connection).
ipsec_verdict_rc() {
	local verdict seen _
	read -r verdict _ _ seen _ <<<"$2"
	[ "$seen" = "$1" ] || return 2
	case "$verdict" in
	complete) return 0 ;;
	stall) return 1 ;;
	*) return 2 ;;
	esac
}

# check_max_mss MSS [FAMILY]: MSS completes and MSS+1 stalls.  Prints
# "MSS:<download line> MSS+1:<download line>"; returns 0 if the edge is
# exactly there, 1 if not, 2 if the oracle failed.
check_max_mss() {
	local mss=$1 fam=${2:-$IPSEC_INNER} a b ra rb
	a=$(probe_mss "$mss" "$fam"); ra=$?
	b=$(probe_mss $((mss + 1)) "$fam"); rb=$?
	echo "$mss:[$a] $((mss + 1)):[$b]"
	[ $ra = 2 ] || [ $rb = 2 ] && return 2
	[ $ra = 0 ] && [ $rb = 1 ]
}

# probe_max_mss LO HI [FAMILY]: the largest MSS in LO..HI whose download
# completes (assuming every smaller one does too).  Prints it; returns 1 if
# even LO stalls, 2 if the oracle failed.
probe_max_mss() {
	local lo=$1 hi=$2 fam=${3:-$IPSEC_INNER} mid r
	probe_mss "$lo" "$fam" >/dev/null; r=$?
	[ $r = 0 ] || return $r
	while [ "$lo" -lt "$hi" ]; do
		mid=$(((lo + hi + 1) / 2))
		probe_mss "$mid" "$fam" >/dev/null; r=$?
		case $r in
		0) lo=$mid ;;
		1) hi=$((mid - 1)) ;;
		*) return 2 ;;
		esac
	done
	echo "$lo"
}

# --- the gateway's counters --------------------------------------------------
# stat_read STAT_BEFORE before a transfer, stat_read STAT_AFTER after; then
# delta NAME is the growth of the gateway's counter NAME (empty if the
# module has no such counter) and deltas lists it for each of $COUNTERS.
declare -gA STAT_BEFORE=() STAT_AFTER=()
stat_read() {
	local -n into=$1
	local k v
	into=()
	while read -r k v; do
		into[$k]=$v
	done < <(ip netns exec "$IPSEC_NS_GW" cat /proc/net/stat/ipsecmss)
}
delta() {
	local b=${STAT_BEFORE[$1]:-} a=${STAT_AFTER[$1]:-}
	[ -n "$a" ] && [ -n "$b" ] || return 0
	echo $((a - b))
}
deltas() {
	local c s=
	for c in $COUNTERS; do
		s+=" $c+$(delta "$c")"
	done
	echo "${s# }"
}

# --- PMTU exceptions ---------------------------------------------------------
# icmp_too_big TO QSRC QDST QPROTO QHEAD MTU: from the client's namespace,
# an ICMP frag-needed (ICMPv6 packet-too-big when the addresses are IPv6)
# to the gateway's address TO, quoting an IP header QSRC -> QDST of
# protocol QPROTO followed by the 8 bytes QHEAD (hex).
icmp_too_big() {
	ip netns exec "$IPSEC_NS_CL" /usr/bin/python3 -S -c '
import socket, struct, sys
to, qs, qd, proto, head, mtu = sys.argv[1:]
proto, head, mtu = int(proto), bytes.fromhex(head), int(mtu)
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
if ":" in to:
    quoted = struct.pack("!IHBB16s16s", 0x60000000, 1400, proto, 64,
                         socket.inet_pton(socket.AF_INET6, qs),
                         socket.inet_pton(socket.AF_INET6, qd)) + head
    msg = struct.pack("!BBHI", 2, 0, 0, mtu) + quoted   # checksum: the kernel
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
else:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 1, 0x4000, 64, proto, 0,
                     socket.inet_aton(qs), socket.inet_aton(qd))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    msg = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + ip + head
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(msg, (to, 0))
print("sent %d bytes to %s quoting %s -> %s proto %d" % (len(msg), to, qs, qd, proto))
' "$@"
}
