# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Real IKE daemons in the seed's scene (source this file; it sources
# ../lib-ipsec.sh for the traffic agents, download/push_to_client and the
# TCPMSS --set-mss oracle probe_mss/check_max_mss):
#
#   road warrior  cu ---- nl  NAT  nw ---- gu  gateway  gs ---- sv0  server
#   192.168.1.2    192.168.1.1   192.0.2.2    192.0.2.1  198.51.100.1  198.51.100.2
#   virtual IPs from the gateway's pools    (IKE responder;  2001:db8:2::1  2001:db8:2::2
#   (10.99.0.0/24, fd99::/112), tunnel       the rules under  drops ICMP frag-needed and
#   MTU 1500: MSS 1460 / 1440                test go here)    ICMPv6 packet-too-big
#
# The NAT namespace masquerades the client: IKE floats to UDP 4500 and ESP
# is carried in UDP (NAT-T).  The underlay is IPv4; inside, IPv4 and IPv6.
#
# Each daemon runs in its namespace in a mount namespace of its own with a
# tmpfs on /run (pid file, control sockets) and its configuration files
# bind-mounted at their usual paths; its control tools run in the same
# mount namespace (nsenter), so two daemons never see each other's sockets.
#
#   ike_scene_up [CMD...] / ike_scene_down
#                                       namespaces, agents, server, NAT; CMD
#                                       runs once the addresses are there
#   ike_daemon_start NAME NS KIND [SRC:DST | '!'COMMAND]...
#                                       KIND charon | pluto: start the daemon,
#                                       wait for its control socket (bounded);
#                                       SRC:DST bind-mounts a file or folder,
#                                       '!'COMMAND runs before the daemon
#   ike_daemon_spawn ... / ike_daemon_wait NAME
#                                       the same in two steps (start several
#                                       daemons at once)
#   ike_daemon_stop NAME                stop it (SIGTERM, then SIGKILL), bounded
#   ike_in NAME CMD...                  run CMD in the daemon's namespaces,
#                                       bounded by IKE_CMD_TIMEOUT
#   ike_log_tail NAME [N]               last lines of its log, on one line
#   ike_vip NS FAMILY                   the virtual IP the daemon installed
#   ike_spis NS                         the SPIs of the namespace's SAs, sorted
#   ike_use_vips NS                     IPSEC_CLIENT4/6 := the client's VIPs
#   ike_sa_bytes NS SRC DST SPI         bytes an ESP SA carried
#   ike_crypto_warm / ike_crypto_wait   the kernel's one-time ESP set-up, early
#   ike_rule_on FAMILY                  the man page's rule (IKE_RULE) on the gateway
#   ike_exact NAME FAMILY               the rule before the first connection:
#                                       download + push complete, the MSS exact
#                                       by the TCPMSS oracle (IKE_EDGE[FAMILY]),
#                                       no rule: stall
#   ike_again NAME FAMILY               a download with the rules: at IKE_EDGE

IKE_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib-ipsec.sh
. "$IKE_LIB_DIR/../lib-ipsec.sh"

: "${IKE_START_TIMEOUT:=40}" "${IKE_CMD_TIMEOUT:=60}" "${IKE_BYTES:=307200}"

IPSEC_NS_NAT=${IPSEC_PREFIX}nat
IKE_CLU4=192.168.1.2 IKE_NATIN4=192.168.1.1
IKE_NATOUT4=192.0.2.2 IKE_GWU4=192.0.2.1
IKE_POOL4=10.99.0.0/24 IKE_POOL6=fd99::/112
declare -A IKE_PID=() IKE_KIND=()

ike_scene_up() {
	local a
	IKE_PID=() IKE_KIND=()
	IPSEC_DIR=$(mktemp -d /tmp/lib-ike.XXXXXX) || return 1
	ipsec_batch "" <<-EOF || return 1
		netns add $IPSEC_NS_CL
		netns add $IPSEC_NS_NAT
		netns add $IPSEC_NS_GW
		netns add $IPSEC_NS_SV
		link add $IPSEC_CL_IF netns $IPSEC_NS_CL type veth peer name nl netns $IPSEC_NS_NAT
		link add nw netns $IPSEC_NS_NAT type veth peer name $IPSEC_GW_VPN_IF netns $IPSEC_NS_GW
		link add $IPSEC_GW_SRV_IF netns $IPSEC_NS_GW type veth peer name $IPSEC_SV_IF netns $IPSEC_NS_SV
	EOF
	ipsec_agent_start cl "$IPSEC_NS_CL" &&
		ipsec_agent_start gw "$IPSEC_NS_GW" &&
		ipsec_agent_start sv "$IPSEC_NS_SV" || return 1
	ipsec_batch "$IPSEC_NS_CL" <<-EOF || return 1
		link set lo up
		link set $IPSEC_CL_IF up
		addr add $IKE_CLU4/24 dev $IPSEC_CL_IF
		route add default via $IKE_NATIN4
	EOF
	ipsec_batch "$IPSEC_NS_NAT" <<-EOF || return 1
		link set lo up
		link set nl up
		link set nw up
		addr add $IKE_NATIN4/24 dev nl
		addr add $IKE_NATOUT4/24 dev nw
	EOF
	# The gateway's uplink is its default route; IPv6 to the pool is on
	# the same link (the IPsec policies take it before it leaves).
	ipsec_batch "$IPSEC_NS_GW" <<-EOF || return 1
		link set lo up
		link set $IPSEC_GW_VPN_IF up
		link set $IPSEC_GW_SRV_IF up
		addr add $IKE_GWU4/24 dev $IPSEC_GW_VPN_IF
		addr add $IPSEC_GWSRV4/24 dev $IPSEC_GW_SRV_IF
		addr add $IPSEC_GWSRV6/64 dev $IPSEC_GW_SRV_IF nodad
		route add default via $IKE_NATOUT4
		route add $IKE_POOL6 dev $IPSEC_GW_VPN_IF
	EOF
	ipsec_batch "$IPSEC_NS_SV" <<-EOF || return 1
		link set lo up
		link set $IPSEC_SV_IF up
		addr add $IPSEC_SERVER4/24 dev $IPSEC_SV_IF
		addr add $IPSEC_SERVER6/64 dev $IPSEC_SV_IF nodad
		route add 0.0.0.0/0 via $IPSEC_GWSRV4
		route add ::/0 via $IPSEC_GWSRV6
	EOF
	ip netns exec "$IPSEC_NS_NAT" sh -c '
		echo 1 >/proc/sys/net/ipv4/ip_forward &&
		iptables -t nat -A POSTROUTING -o nw -j MASQUERADE' || return 1
	# The black hole: the server never hears that its segments are too big.
	ip netns exec "$IPSEC_NS_SV" "$IPSEC_IPT" -A INPUT -p icmp \
		--icmp-type fragmentation-needed -j DROP || return 1
	ip netns exec "$IPSEC_NS_SV" "$(ipsec_ip6t)" -A INPUT -p ipv6-icmp \
		--icmpv6-type packet-too-big -j DROP || return 1
	# The caller's work (starting daemons) while the agents start.
	[ $# = 0 ] || "$@" || return 1
	for a in cl gw sv; do
		ipsec_agent_ready $a || return 1
	done
	ipsec_agent gw sysctl net.ipv4.ip_forward 1 >/dev/null &&
		ipsec_agent gw sysctl net.ipv6.conf.all.forwarding 1 >/dev/null || return 1
	: >"$IPSEC_DIR/sv.syn"
	ipsec_agent sv serve "$IPSEC_PORT" "$IPSEC_SV_IF" "$IPSEC_DIR/sv.syn" >/dev/null
}

ike_scene_down() {
	local n
	for n in "${!IKE_PID[@]}"; do
		ike_daemon_stop "$n"
	done
	ike_crypto_wait
	ip netns del "$IPSEC_NS_NAT" 2>/dev/null
	ipsec_scene_down
}

# ike_daemon_spawn NAME NS KIND [SRC:DST | '!'COMMAND]...: start, do not
# wait; after the tmpfs on /run, in order: bind-mount SRC on DST, or run
# the shell COMMAND (in the daemon's mount namespace).
ike_daemon_spawn() {
	local name=$1 ns=$2 kind=$3 exe m i
	shift 3
	case "$kind" in
	charon) exe=/usr/lib/ipsec/charon ;;
	pluto) exe="/usr/libexec/ipsec/pluto --nofork --stderrlog" ;;
	*) ipsec_err "unknown daemon $kind"; return 1 ;;
	esac
	m="mount -t tmpfs -o mode=755 ike-run /run"
	for i in "$@"; do
		case "$i" in
		'!'*) m+=" && ${i#!}" ;;
		*) m+=" && mount --bind '${i%%:*}' '${i#*:}'" ;;
		esac
	done
	# ip netns exec and unshare exec: $! is the daemon itself.
	ip netns exec "$ns" unshare -m --propagation private \
		sh -c "$m && exec $exe" >>"$IPSEC_DIR/$name.log" 2>&1 </dev/null &
	IKE_PID[$name]=$!
	IKE_KIND[$name]=$kind
}

# ike_daemon_wait NAME: its control socket is there (IKE_START_TIMEOUT).
ike_daemon_wait() {
	local name=$1 pid kind sock i
	pid=${IKE_PID[$name]:-} kind=${IKE_KIND[$name]:-}
	case "$kind" in
	charon) sock=/run/charon.vici ;;
	pluto) sock=/run/pluto/pluto.ctl ;;
	*) ipsec_err "no daemon $name"; return 1 ;;
	esac
	for ((i = 0; i < IKE_START_TIMEOUT * 4; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			ipsec_err "$kind ($name) exited: $(ike_log_tail "$name")"
			unset "IKE_PID[$name]"
			return 1
		fi
		nsenter -t "$pid" -m test -S "$sock" 2>/dev/null && return 0
		sleep 0.25
	done
	ipsec_err "$kind ($name): no $sock after ${IKE_START_TIMEOUT}s: $(ike_log_tail "$name")"
	return 1
}

ike_daemon_start() {
	ike_daemon_spawn "$@" && ike_daemon_wait "$1"
}

ike_daemon_stop() {
	local name=$1 pid i
	pid=${IKE_PID[$name]:-}
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	for ((i = 0; i < 40; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.25
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "IKE_PID[$name]"
	return 0
}

ike_in() {
	local name=$1 pid
	shift
	pid=${IKE_PID[$name]:-}
	[ -n "$pid" ] || { ipsec_err "daemon $name is not running"; return 1; }
	timeout "$IKE_CMD_TIMEOUT" nsenter -t "$pid" -m -n "$@"
}

ike_log_tail() {
	tail -n "${2:-8}" "$IPSEC_DIR/$1.log" 2>/dev/null | tr '\n' '|'
}

ike_vip() {
	local ns=$1 fam=$2 pat
	if [ "$fam" = 6 ]; then pat='^fd99:'; else pat='^10\.99\.'; fi
	ip -n "$ns" -o -"$fam" addr show | awk -v p="$pat" '{ split($4, a, "/"); if (a[1] ~ p) { print a[1]; exit } }'
}

ike_spis() {
	ip -n "$1" xfrm state | awk '$1 == "proto" && $2 == "esp" && $3 == "spi" { print $4 }' | sort | tr '\n' ' '
}

# ike_sa_bytes NS SRC DST SPI: bytes an ESP SA carried (empty if none).
ike_sa_bytes() {
	ip -s -n "$1" xfrm state get src "$2" dst "$3" proto esp spi "$4" 2>/dev/null |
		awk '/lifetime current:/ { getline; sub(/\(bytes\),?/, "", $1); print $1 + 0 }'
}

# The kernel's first ESP SA instantiates the AEAD and seeds the DRBG: about
# 25 s under TCG, once per boot.  ike_crypto_warm starts that in a
# throwaway namespace in the background; ike_crypto_wait waits for it.
ike_crypto_warm() {
	(ip netns add "${IPSEC_PREFIX}warm" &&
		ip -n "${IPSEC_PREFIX}warm" xfrm state add src 192.0.2.1 dst 192.0.2.2 \
			proto esp spi 1 mode tunnel aead 'rfc4106(gcm(aes))' \
			0x1111111111111111111111111111111111111111 128 \
			encap espinudp 4500 4500 0.0.0.0
	 ip netns del "${IPSEC_PREFIX}warm") >/dev/null 2>&1 &
	IKE_WARM_PID=$!
}

ike_crypto_wait() {
	[ -z "${IKE_WARM_PID:-}" ] || wait "$IKE_WARM_PID"
	IKE_WARM_PID=
}

ike_use_vips() {
	IPSEC_CLIENT4=$(ike_vip "$1" 4) IPSEC_CLIENT6=$(ike_vip "$1" 6)
	[ -n "$IPSEC_CLIENT4" ] && [ -n "$IPSEC_CLIENT6" ]
}

# --- checks (the caller defines pass NAME, fail NAME WHY, note TEXT and
# logs, which prints the daemons' log tails) ------------------------------

# The man page's rule, on the gateway.
# shellcheck disable=SC2054 # SYN,RST is one iptables word
IKE_RULE=(FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto)
declare -A IKE_EDGE=()
ike_rule_on() { ipsec_gw_ipt "$1" -t mangle -A "${IKE_RULE[@]}"; }

# ike_exact NAME FAMILY: the rule in place before the connection, download and
# push; the oracle without it; then no rule.  IKE_IKE_EDGE[FAMILY] := the MSS.
ike_exact() {
	local n=$1 fam=$2 out v got secs mss st m='' r
	ike_rule_on "$fam" || { fail "$n-rule" "rule refused"; return; }
	out=$(download_verdict "$IKE_BYTES" "$fam")
	read -r v got secs mss st <<<"$out"
	note "$n: rule: download $got/$IKE_BYTES bytes in ${secs}s, server saw MSS $mss ($st)"
	if [ "$v" = complete ] && [[ "$mss" =~ ^[0-9]+$ ]]; then
		pass "$n-rule-download-completes"
		m=$mss
	else
		fail "$n-rule-download-completes" "wanted complete, got: $out; counters: $(ike_counters) $(logs)"
	fi
	out=$(push_to_client "$IKE_BYTES" 30 "$fam")
	read -r got secs mss st <<<"$out"
	note "$n: rule: push $got/$IKE_BYTES bytes in ${secs}s, server saw MSS $mss in the client's SYN-ACK ($st)"
	if [ "$st" = ok ] && [ "$got" = "$IKE_BYTES" ] && [ -n "$m" ] && [ "$mss" = "$m" ]; then
		pass "$n-rule-push-completes"
	else
		fail "$n-rule-push-completes" "wanted ok at MSS ${m:-?}, got: $out"
	fi
	ipsec_gw_flush
	if [ -n "$m" ]; then
		out=$(check_max_mss "$m" "$fam"); r=$?
		note "$n: oracle (TCPMSS --set-mss, rule removed): $out"
		case $r in
		0) pass "$n-rule-mss-$m-exact" ;;
		1) fail "$n-rule-mss-$m-exact" "TCPMSS --set-mss $m must complete and $((m + 1)) stall: $out" ;;
		*) fail "$n-rule-mss-$m-exact" "the oracle failed: $out" ;;
		esac
	fi
	out=$(download_verdict "$IKE_BYTES" "$fam")
	read -r v got secs mss st <<<"$out"
	note "$n: no rule: download $got/$IKE_BYTES bytes in ${secs}s, server saw MSS $mss ($st)"
	# The client's own MSS: 1460 for IPv4; for IPv6 inside IPv4 also 1460,
	# not 1440: the kernel takes a bundle's advmss from its outer route.
	if [ "$v" = stall ] && [[ "$mss" =~ ^[0-9]+$ ]] && [ "$mss" -gt "${m:-65535}" ]; then
		pass "$n-no-rule-stalls"
	else
		fail "$n-no-rule-stalls" "wanted a stall at the client's MSS (above ${m:-?}), got: $out"
	fi
	IKE_EDGE[$fam]=$m
}

# ike_again NAME FAMILY: a new connection with the rules in place: complete at
# the edge the oracle confirmed for this tunnel.
ike_again() {
	local n=$1 fam=$2 out v got secs mss st
	out=$(download_verdict "$IKE_BYTES" "$fam")
	read -r v got secs mss st <<<"$out"
	note "$n: rule: download $got/$IKE_BYTES bytes in ${secs}s, server saw MSS $mss ($st)"
	if [ "$v" = complete ] && [ -n "${IKE_EDGE[$fam]:-}" ] && [ "$mss" = "${IKE_EDGE[$fam]}" ]; then
		pass "$n-exact"
	else
		fail "$n-exact" "wanted complete at MSS ${IKE_EDGE[$fam]:-?} (the oracle's edge), got: $out $(logs)"
	fi
}

# shellcheck disable=SC2016 # awk program
ike_counters() {
	ip netns exec "$IPSEC_NS_GW" awk '$2 != 0 { printf "%s=%s ", $1, $2 }' /proc/net/stat/ipsecmss 2>/dev/null
}
