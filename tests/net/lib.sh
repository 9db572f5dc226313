# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared helpers of the tests/net scripts (sourced, runs inside the test VM
# as root; see tests/README.md for the environment).
#
#   client c0 ------------- g0  gw  g1 ------------- s0 server
#   192.0.2.2       192.0.2.1        198.51.100.1      198.51.100.2
#   2001:db8:1::2   2001:db8:1::1    2001:db8:2::1     2001:db8:2::2
#
# The gateway forwards; the rules under test go on its mangle FORWARD
# chain.  Crafted segments come from a "phantom" client address
# (192.0.2.99, 2001:db8:1::99) that the gateway sends to the client's MAC
# but that no stack owns: whatever the server answers is dropped quietly at
# the client, so nothing but the crafted segment itself crosses the rule.
#
# Results: pass NAME / fail NAME WHY print "PASS: net/NAME" and
# "FAIL: net/NAME: WHY"; expect NAME "$line" WORD... checks key=value words
# of a pkt.py answer (key=v, key!=v, key>=n, key<=n); ok_if NAME WHY CMD...
#
# Also: net_setup / net_cleanup (the topology, removed on exit),
# gw_rules / gw_rule / gw_flush / gw_ipt (rules on the gateway),
# pkt_start / pkt (pkt.py as a coprocess, see its header), counter NAME.

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

NS_C=ipsecmss-c-$$
NS_G=ipsecmss-g-$$
NS_S=ipsecmss-s-$$

MAC_C=02:00:00:00:01:02
MAC_G0=02:00:00:00:01:01
MAC_G1=02:00:00:00:02:01
MAC_S=02:00:00:00:02:02

C4=192.0.2.2 G4C=192.0.2.1 G4S=198.51.100.1 S4=198.51.100.2 P4=192.0.2.99
C6=2001:db8:1::2 G6C=2001:db8:1::1 G6S=2001:db8:2::1 S6=2001:db8:2::2 P6=2001:db8:1::99

NET_TMP=$(mktemp -d /tmp/ipsecmss-net.XXXXXX)
NET_FAILS=0

pass() { echo "PASS: net/$1"; }
fail() {
	NET_FAILS=$((NET_FAILS + 1))
	echo "FAIL: net/$1: $2"
}

# check NAME CONDITION-WORDS...: pass if the command succeeds, else fail
# with the given reason (last argument).
ok_if() {
	local name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# expect NAME LINE WORD...: each WORD is key=value, key!=value, key>=N or
# key<=N against the key=value words of LINE.
expect() {
	local name=$1 line=$2 w key want got op bad=
	shift 2
	declare -A have=()
	for w in $line; do
		[ "${w#*=}" != "$w" ] && have[${w%%=*}]=${w#*=}
	done
	if [ -n "${have[error]:-}" ]; then
		fail "$name" "pkt.py: ${have[error]}"
		return
	fi
	for w in "$@"; do
		case "$w" in
		*'>='*) key=${w%%>=*} want=${w#*>=} op='>=' ;;
		*'<='*) key=${w%%<=*} want=${w#*<=} op='<=' ;;
		*'!='*) key=${w%%!=*} want=${w#*!=} op='!=' ;;
		*) key=${w%%=*} want=${w#*=} op='=' ;;
		esac
		got=${have[$key]-<absent>}
		case "$op" in
		'=') [ "$got" = "$want" ] ;;
		'!=') [ "$got" != "$want" ] ;;
		'>=') [[ "$got" =~ ^[0-9]+$ ]] && [ "$got" -ge "$want" ] ;;
		'<=') [[ "$got" =~ ^[0-9]+$ ]] && [ "$got" -le "$want" ] ;;
		esac || bad="$bad $key=$got (want $op$want);"
	done
	if [ -z "$bad" ]; then
		pass "$name"
	else
		fail "$name" "${bad# } got: $line"
	fi
}

# --- topology ---------------------------------------------------------------

net_cleanup() {
	[ -n "${PKT_PID:-}" ] && kill "$PKT_PID" 2>/dev/null
	ip netns del "$NS_C" 2>/dev/null
	ip netns del "$NS_G" 2>/dev/null
	ip netns del "$NS_S" 2>/dev/null
	rm -rf "$NET_TMP"
}

# net_setup: the three namespaces, addresses, routes, permanent neighbours
# (nothing waits for ARP/ND), forwarding on the gateway.
net_setup() {
	trap net_cleanup EXIT
	ip netns add "$NS_C" && ip netns add "$NS_G" && ip netns add "$NS_S" &&
	ip link add c0 netns "$NS_C" address $MAC_C type veth \
		peer name g0 netns "$NS_G" address $MAC_G0 &&
	ip link add s0 netns "$NS_S" address $MAC_S type veth \
		peer name g1 netns "$NS_G" address $MAC_G1 &&
	ip -n "$NS_C" -batch - <<-EOF &&
		link set lo up
		link set c0 up
		addr add $C4/24 dev c0
		addr add $C6/64 dev c0 nodad
		route add default via $G4C
		route add ::/0 via $G6C
		neigh replace $G4C lladdr $MAC_G0 dev c0 nud permanent
		neigh replace $G6C lladdr $MAC_G0 dev c0 nud permanent
	EOF
	ip -n "$NS_S" -batch - <<-EOF &&
		link set lo up
		link set s0 up
		addr add $S4/24 dev s0
		addr add $S6/64 dev s0 nodad
		route add default via $G4S
		route add ::/0 via $G6S
		neigh replace $G4S lladdr $MAC_G1 dev s0 nud permanent
		neigh replace $G6S lladdr $MAC_G1 dev s0 nud permanent
	EOF
	ip -n "$NS_G" -batch - <<-EOF &&
		link set lo up
		link set g0 up
		link set g1 up
		addr add $G4C/24 dev g0
		addr add $G6C/64 dev g0 nodad
		addr add $G4S/24 dev g1
		addr add $G6S/64 dev g1 nodad
		neigh replace $C4 lladdr $MAC_C dev g0 nud permanent
		neigh replace $C6 lladdr $MAC_C dev g0 nud permanent
		neigh replace $P4 lladdr $MAC_C dev g0 nud permanent
		neigh replace $P6 lladdr $MAC_C dev g0 nud permanent
		neigh replace $S4 lladdr $MAC_S dev g1 nud permanent
		neigh replace $S6 lladdr $MAC_S dev g1 nud permanent
	EOF
	ip netns exec "$NS_G" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward &&
		echo 1 >/proc/sys/net/ipv6/conf/all/forwarding'
}

# --- rules on the gateway ----------------------------------------------------

# ipt_cmd FW FAM: the iptables binary (FW legacy|nft, FAM 4|6).
ipt_cmd() {
	local p=iptables
	[ "$2" = 6 ] && p=ip6tables
	echo "$p-$1"
}

# gw_ipt FW FAM ARGS...: run iptables in the gateway namespace.
gw_ipt() {
	local c
	c=$(ipt_cmd "$1" "$2")
	shift 2
	ip netns exec "$NS_G" "$c" "$@"
}

# gw_flush: no rule left in the gateway's mangle tables, either frontend.
gw_flush() {
	ip netns exec "$NS_G" sh -c '
		iptables-legacy -t mangle -F; ip6tables-legacy -t mangle -F
		nft flush ruleset' 2>/dev/null
}

# gw_rule NAME FW FAM RULE...: append a mangle FORWARD rule or fail NAME.
gw_rule() {
	local name=$1 fw=$2 fam=$3 err
	shift 3
	if ! err=$(gw_ipt "$fw" "$fam" -t mangle -A FORWARD "$@" 2>&1); then
		fail "$name" "$(ipt_cmd "$fw" "$fam") -t mangle -A FORWARD $*: $err"
		return 1
	fi
}

# gw_rules NAME FW FAM [RULE]...: the gateway's mangle table holds exactly
# these FORWARD rules (each RULE without "-A FORWARD"), set with one
# iptables-restore (few commands: each costs under emulation); no RULE
# empties the table.  Fails NAME if refused.
gw_rules() {
	local name=$1 fw=$2 fam=$3 r text err
	shift 3
	text="*mangle"$'\n'
	for r in "$@"; do
		text+="-A FORWARD $r"$'\n'
	done
	text+="COMMIT"
	if ! err=$(ip netns exec "$NS_G" "$(ipt_cmd "$fw" "$fam")-restore" <<<"$text" 2>&1); then
		fail "$name" "$(ipt_cmd "$fw" "$fam")-restore refused: $(tr '\n' '|' <<<"$text"): $err"
		return 1
	fi
}

# --- pkt.py, one process per script ------------------------------------------

pkt_start() {
	coproc PKT { exec "$PY" -S "$LIB_DIR/pkt.py" serve \
		--client "$NS_C" --gw "$NS_G" --server "$NS_S" \
		--client-if c0 --server-if s0 --client-mac $MAC_C --gw-mac $MAC_G0 \
		--c4 $C4 --s4 $S4 --p4 $P4 --c6 $C6 --s6 $S6 --p6 $P6 \
		2>"$NET_TMP/pkt.err"; }
}

# pkt COMMAND...: one command to pkt.py; its answer in PKT_OUT.
pkt() {
	PKT_OUT=
	# bash unsets PKT when the coprocess is gone
	if [ -z "${PKT[1]:-}" ] || ! printf '%s\n' "$*" 1>&"${PKT[1]}" 2>/dev/null ||
		! IFS= read -r -t 60 PKT_OUT <&"${PKT[0]}"; then
		PKT_OUT="error=pkt.py-gone:$(tr '\n ' '|_' <"$NET_TMP/pkt.err" 2>/dev/null | tail -c 300)"
	fi
}

# counter NAME: one counter of the gateway namespace (empty if unreadable).
counter() {
	ip netns exec "$NS_G" awk -v n="$1" '$1 == n { print $2 }' /proc/net/stat/ipsecmss 2>/dev/null
}
