#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 1500
#
# The in-VM half of `make bench` (tests/bench/run.sh boots the VM with
# tests/vm/run.sh and this as its only script).  Three measurements:
#
#   syn   SYN forwarding rate through a gateway namespace.  tests/bench/
#         synflood.c sends from the client's veth, the count is the
#         gateway's egress veth's tx_packets.  Everything runs on vCPU 0: a
#         veth runs the receive path on the sending CPU, and one emulated
#         CPU cannot generate faster than another forwards (with RPS to
#         vCPU 1 nothing was ever dropped), so a rate is that of generator
#         + gateway together; "sink" (frames addressed to a MAC nobody has,
#         dropped on arrival) is the generator's share.  All rules are in
#         place at once, told apart by source address; the generator
#         alternates the variants in 0.1 s slices (see synflood.c).  Plain
#         SYNs: no rule, TCPMSS/IPSECMSS --set-mss, TCPMSS
#         --clamp-mss-to-pmtu, IPSECMSS --auto (route only).  SYNs in
#         tunnel-mode ESP (NULL cipher: xfrm decapsulates and the SYN
#         carries a secpath at next to no crypto cost): no rule, TCPMSS
#         --clamp-mss-to-pmtu, IPSECMSS --auto (the SA lookup works).
#         In other gateway namespaces, reached by other veths of the
#         client and alternated in the same cycles (synflood --path):
#         "nat", NAT before IPsec (the gateway source-NATs the SYNs, and
#         the translated addresses select a NULL-cipher tunnel policy, so
#         --auto's own hook after source NAT rewrites them; conntrack and
#         NAT there only, they would tax every other row): no rule,
#         TCPMSS --clamp-mss-to-pmtu, IPSECMSS --auto; "bare", a gateway
#         with no xfrm state or policy at all: TCPMSS --clamp-mss-to-pmtu
#         in a netns without --auto rules (no after-NAT hook), the same
#         in a twin netns with an --auto rule (hook registered), and
#         IPSECMSS --auto there.
#   bulk  iperf3 client -> gateway -> server, all on vCPU 0, while the
#         rule `-p tcp -j IPSECMSS --set-mss 1360` (no --syn match) is
#         switched on and off in slices (none, rule, rule, none) by nft;
#         both ends announce MSS 1360 so the segment size is the same
#         either way.  With the veth's offloads (TSO/GSO on), then per
#         packet (TSO/GSO off on the client's veth).
#   eff   the MSS --auto yields over real SAs (tests/net/lib-ipsec.sh) for
#         a set of suites / NAT-T / outer family / underlay MTU, the
#         largest MSS that gets through (check_max_mss around it: MSS
#         completes, MSS+1 stalls), and the folklore 1360.
#
# Results go as data lines to /dev/ttyS2 (run.sh maps it to a file) and
# to stdout: "syncycle K NAME=RATE ...", "syntotal NAME ...",
# "bulk CYCLE OFFLOAD CONFIG BYTES0 BYTES1 T0 T1 ID",
# "eff SUITE NATT OUTER INNER MTU IV ICV BLK CALC AUTO AUTO-VERDICT MAX HOW
# V1360", "check ...", "info ..."; lines starting with "#" are progress.
# Each measured window is also bracketed by "mark ID start|end" lines, from
# which the host (tests/bench/cpuwatch.py) records how long the vCPU
# threads really ran.
#
# Knobs (kernel command line words bench_NAME=VALUE, or the environment
# BENCH_NAME=VALUE when run by hand): SYN_SECS, BULK_CYCLES,
# BULK_CYCLES_OFF, BULK_SLICE, PARTS (default "syn,bulk,eff"), ROWS (eff
# rows by number, default all).

set -u
here=$(cd "$(dirname "$0")" && pwd)
REPO=${REPO:-$(cd "$here/../.." && pwd)}

for w in $(</proc/cmdline); do
	case "$w" in
	bench_*=*) k=${w%%=*}; k=${k#bench_}; export "BENCH_${k^^}=${w#*=}" ;;
	esac
done
SYN_SECS=${BENCH_SYN_SECS:-100}
BULK_CYCLES=${BENCH_BULK_CYCLES:-40}
BULK_CYCLES_OFF=${BENCH_BULK_CYCLES_OFF:-16}
BULK_SLICE=${BENCH_BULK_SLICE:-0.3}
PARTS=${BENCH_PARTS:-syn,bulk,eff}
PARTS=${PARTS//,/ }
IPT=${BENCH_IPT:-iptables}

# The module, plugin and generator: a snapshot next to the module
# run.sh handed over, so a rebuild in the checkout meanwhile changes nothing.
snap=$(dirname "${IPSECMSS_KO:-$REPO/tests/build/bench/xt_ipsecmss.ko}")
SYNFLOOD=$snap/synflood
export XTABLES_LIBDIR="$snap:${XTABLES_LIBDIR:-/usr/lib/x86_64-linux-gnu/xtables}"

MARK=()
if [ -w /dev/ttyS2 ] && [ "${BENCH_NO_TTY:-0}" != 1 ]; then
	stty -F /dev/ttyS2 raw -echo 2>/dev/null
	exec 4>/dev/ttyS2
	MARK=(--mark /dev/ttyS2)
else
	exec 4>/dev/null
fi
data() { printf '%s\n' "$*" >&4; printf '%s\n' "$*"; }
progress() { data "# $*"; }
pass() { echo "PASS: bench/$1"; }
fail() { echo "FAIL: bench/$1: $2"; }

NC=bench-c NG=bench-g NS=bench-s
NN=bench-n NH0=bench-h0 NH1=bench-h1   # nat; bare without and with a hook
MAC_N0=02:00:00:00:b3:01 MAC_H0=02:00:00:00:b4:01 MAC_H1=02:00:00:00:b5:01
MAC_C=02:00:00:00:b1:02 MAC_G0=02:00:00:00:b1:01
MAC_GS=02:00:00:00:b2:01 MAC_S=02:00:00:00:b2:02
MAC_SINK=02:00:00:00:b2:99   # nobody's: the server drops it at once
MAC_NOBODY=02:00:00:00:b1:99 # nobody's either: the gateway drops it at once
CL=192.0.2.2 GWC=192.0.2.1 GWS=198.51.100.1 SV=198.51.100.2
NAT_TO=172.16.0.1 PEER_N=198.51.100.3   # the nat scene's SNAT and tunnel peer
IPERF_PID=

cleanup() {
	[ -z "$IPERF_PID" ] || kill "$IPERF_PID" 2>/dev/null
	ip netns del $NC 2>/dev/null
	ip netns del $NG 2>/dev/null
	ip netns del $NS 2>/dev/null
	ip netns del $NN 2>/dev/null
	ip netns del $NH0 2>/dev/null
	ip netns del $NH1 2>/dev/null
}
trap cleanup EXIT

info() {
	data "info kernel $(</proc/sys/kernel/osrelease)"
	data "info vcpus $(nproc)"
	data "info iptables $($IPT -V 2>/dev/null)"
	data "info cmdline $(</proc/cmdline)"
	data "info syn_secs $SYN_SECS"
	data "info bulk_cycles $BULK_CYCLES"
	data "info bulk_cycles_off $BULK_CYCLES_OFF"
	data "info bulk_slice $BULK_SLICE"
}

# --- the plain scene of syn and bulk ------------------------------------

scene_up() {
	cleanup
	ip netns add $NC && ip netns add $NG && ip netns add $NS || return 1
	ip link add c0 netns $NC address $MAC_C type veth \
		peer name g0 netns $NG address $MAC_G0 || return 1
	ip link add s0 netns $NS address $MAC_S type veth \
		peer name gs netns $NG address $MAC_GS || return 1
	ip -n $NC -batch - <<-EOF || return 1
		link set lo up
		link set c0 up
		addr add $CL/24 dev c0
		route add default via $GWC advmss 1360
		neigh replace $GWC lladdr $MAC_G0 dev c0 nud permanent
	EOF
	ip -n $NS -batch - <<-EOF || return 1
		link set lo up
		link set s0 up
		addr add $SV/24 dev s0
		route add default via $GWS advmss 1360
		neigh replace $GWS lladdr $MAC_GS dev s0 nud permanent
	EOF
	# The gateway: forwards, holds the client's null-cipher ESP SAs
	# (replay-window 0: the generator's sequence numbers repeat) and
	# routes the client's inner pool address back toward it.
	ip -n $NG -batch - <<-EOF || return 1
		link set lo up
		link set g0 up
		link set gs up
		addr add $GWC/24 dev g0
		addr add $GWS/24 dev gs
		neigh replace $CL lladdr $MAC_C dev g0 nud permanent
		neigh replace $SV lladdr $MAC_SINK dev gs nud permanent
		route add 10.99.0.0/24 dev g0
		xfrm state add src $CL dst $GWC proto esp spi 0x4001 reqid 4 mode tunnel replay-window 0 enc ecb(cipher_null) "" sel src 10.99.0.0/24 dst 198.51.100.0/24
		xfrm state add src $GWC dst $CL proto esp spi 0x4002 reqid 4 mode tunnel enc ecb(cipher_null) "" sel src 198.51.100.0/24 dst 10.99.0.0/24
		xfrm policy add src 10.99.0.0/24 dst 198.51.100.0/24 dir fwd tmpl src $CL dst $GWC proto esp reqid 4 mode tunnel
		xfrm policy add src 10.99.0.0/24 dst 198.51.100.0/24 dir in tmpl src $CL dst $GWC proto esp reqid 4 mode tunnel
		xfrm policy add src 198.51.100.0/24 dst 10.99.0.0/24 dir out tmpl src $GWC dst $CL proto esp reqid 4 mode tunnel
	EOF
	ip netns exec $NG sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
	side_up $NN c1 $MAC_N0 s1 || return 1
	side_up $NH0 c2 $MAC_H0 s2 || return 1
	side_up $NH1 c3 $MAC_H1 s3 || return 1
	# NAT before IPsec: the policy selects the translated source; its
	# tunnel leads to a peer behind the egress veth whose MAC nobody has.
	ip -n $NN -batch - <<-EOF || return 1
		neigh replace $PEER_N lladdr $MAC_SINK dev gs nud permanent
		xfrm state add src $GWS dst $PEER_N proto esp spi 0x5001 reqid 5 mode tunnel enc ecb(cipher_null) ""
		xfrm policy add src $NAT_TO/24 dst 198.51.100.0/24 dir out tmpl src $GWS dst $PEER_N proto esp reqid 5 mode tunnel
	EOF
}

# side_up NETNS CLIENT-DEV GW-MAC SERVER-DEV: another plain gateway like
# the main one (same addresses, no xfrm), on its own pair of veths from
# the client namespace and to the server namespace (both without
# addresses: the generator writes whole frames, and the server side only
# has to exist)
side_up() {
	local ns=$1 cdev=$2 gmac=$3 sdev=$4
	ip netns add "$ns" || return 1
	ip link add "$cdev" netns $NC type veth peer name g0 netns "$ns" address "$gmac" || return 1
	ip link add "$sdev" netns $NS type veth peer name gs netns "$ns" || return 1
	ip -n $NC link set "$cdev" up && ip -n $NS link set "$sdev" up || return 1
	ip -n "$ns" -batch - <<-EOF || return 1
		link set lo up
		link set g0 up
		link set gs up
		addr add $GWC/24 dev g0
		addr add $GWS/24 dev gs
		neigh replace $SV lladdr $MAC_SINK dev gs nud permanent
	EOF
	ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
}

# rules RULE...: the gateway's mangle table holds exactly these FORWARD
# rules (NETNS: another gateway's)
rules() {
	local text="*mangle"$'\n' r
	for r in "$@"; do
		[ -z "$r" ] || text+="-A FORWARD $r"$'\n'
	done
	text+="COMMIT"
	ip netns exec "${NETNS:-$NG}" "$IPT-restore" <<<"$text"
}

# --- syn ------------------------------------------------------------------
#
# Every rule under test is in the gateway's mangle FORWARD chain at once,
# each behind its own source address and the same SYN match; the generator
# switches between the source addresses (variants) in 0.1 s slices.  Every
# SYN passes every rule's address test, so those cost all variants alike.
SYN='-p tcp -m tcp --tcp-flags SYN,RST SYN'
SYN_RULES=(
	"-s 192.0.2.21/32 $SYN -j TCPMSS --set-mss 1360"
	"-s 192.0.2.22/32 $SYN -j IPSECMSS --set-mss 1360"
	"-s 192.0.2.23/32 $SYN -j TCPMSS --clamp-mss-to-pmtu"
	"-s 192.0.2.24/32 $SYN -j IPSECMSS --auto"
	"-s 10.99.0.21/32 $SYN -j TCPMSS --clamp-mss-to-pmtu"
	"-s 10.99.0.22/32 $SYN -j IPSECMSS --auto"
)
NAT_RULES=(
	"-s 192.0.2.31/32 $SYN -j TCPMSS --clamp-mss-to-pmtu"
	"-s 192.0.2.32/32 $SYN -j IPSECMSS --auto"
)
# the twins: the same rules, the second one's target never reached by
# the TCPMSS variant; only NH1 has an --auto rule (and so the hook)
BARE0_RULES=(
	"-s 192.0.2.41/32 $SYN -j TCPMSS --clamp-mss-to-pmtu"
	"-s 192.0.2.42/32 $SYN -j IPSECMSS --set-mss 1360"
)
BARE1_RULES=(
	"-s 192.0.2.41/32 $SYN -j TCPMSS --clamp-mss-to-pmtu"
	"-s 192.0.2.42/32 $SYN -j IPSECMSS --auto"
)
# shellcheck disable=SC2054 # commas inside words
# name=source[,esp][,sink][,swap], in cycle order: compared pairs side by
# side, trading places every other cycle
SYN_VARIANTS=(
	plain-sink=192.0.2.20,sink
	plain-none=192.0.2.20
	plain-tcpmss-set=192.0.2.21,swap
	plain-ipsecmss-set=192.0.2.22
	plain-tcpmss-clamp=192.0.2.23,swap
	plain-ipsecmss-auto=192.0.2.24
	esp-none=10.99.0.20,esp
	esp-tcpmss-clamp=10.99.0.21,esp,swap
	esp-ipsecmss-auto=10.99.0.22,esp
	nat-none=192.0.2.30,path=1
	nat-tcpmss-clamp=192.0.2.31,path=1,swap
	nat-ipsecmss-auto=192.0.2.32,path=1
	bare-tcpmss-clamp=192.0.2.41,path=2,swap
	bare-hooked-tcpmss-clamp=192.0.2.41,path=3
	bare-ipsecmss-auto=192.0.2.42,path=3
)

# the gateway namespace of a variant
variant_ns() {
	case $1 in
	nat-*) echo $NN ;;
	bare-hooked-*|bare-ipsecmss-*) echo $NH1 ;;
	bare-*) echo $NH0 ;;
	*) echo $NG ;;
	esac
}

# flood SECONDS SLICE WARMUP VARIANT...: one run of the generator
flood() {
	local secs=$1 slice=$2 warm=$3 v a=() m=("${MARK[@]}")
	shift 3
	[ -z "${NOMARK:-}" ] || m=()
	for v in "$@"; do a+=(--variant "$v"); done
	"$SYNFLOOD" --netns $NC --dev c0 --src-mac $MAC_C --dst-mac $MAC_G0 \
		--sink-mac $MAC_NOBODY --dst $SV "${a[@]}" \
		--spi 0x4001 --outer-src $CL --outer-dst $GWC \
		--count-netns $NG --count-dev gs \
		--path c1,$MAC_N0,$NN,gs --path c2,$MAC_H0,$NH0,gs \
		--path c3,$MAC_H1,$NH1,gs \
		--layout linux --mss 1460 --seconds "$secs" --slice "$slice" \
		--warmup "$warm" --cpu 0 --batch 128 "${m[@]}" --mark-id syn
}

# sniff_mss DEV [esp]: the MSS the server side sees in one SYN, while the
# generator runs; esp: in the NULL-cipher tunnel packet (outer IPv4 20 +
# ESP 8 + inner IPv4 20 + TCP 20 bytes, then the Linux layout's MSS first)
sniff_mss() {
	if [ "${2:-}" = esp ]; then
		local h
		h=$(ip netns exec $NS timeout 8 tcpdump -i "$1" -c 1 -nn -x esp 2>/dev/null |
			awk '/^[[:space:]]*0x/ { for (i = 2; i <= NF; i++) h = h $i } END { print h }')
		[ "${h:136:4}" != 0204 ] || echo $((16#${h:140:4}))
		return
	fi
	ip netns exec $NS timeout 8 tcpdump -i "$1" -c 1 -nn -v \
		'tcp[tcpflags] & tcp-syn != 0' 2>/dev/null |
		grep -o 'mss [0-9]*' | head -1 | cut -d' ' -f2
}

stat_snap() {
	ip netns exec "${NETNS:-$NG}" cat /proc/net/stat/ipsecmss 2>/dev/null
}

# stat_delta BEFORE AFTER: the counters that moved, "name=delta ..."
stat_delta() {
	awk 'NR == FNR { b[$1] = $2; next } $2 != b[$1] { printf "%s=%d ", $1, $2 - b[$1] }' \
		<(echo "$1") <(echo "$2")
}

rule_counts() {
	ip netns exec "${NETNS:-$NG}" "$IPT" -t mangle -L FORWARD -v -x -n | awk 'NR > 2 { print NR - 2, $1 }'
}

# A check round (each variant alone for 1 s: the MSS the server sees, the
# rule that counted it, the module's counters), then the measured run.
part_syn() {
	local v name line before rb mss pid NETNS sdev
	if ! { rules "${SYN_RULES[@]}" &&
		NETNS=$NH0 rules "${BARE0_RULES[@]}" &&
		NETNS=$NH1 rules "${BARE1_RULES[@]}" &&
		NETNS=$NN rules "${NAT_RULES[@]}" &&
		ip netns exec $NN "$IPT" -t nat -A POSTROUTING -s 192.0.2.0/24 \
			-d 198.51.100.0/24 -j SNAT --to-source $NAT_TO; }; then
		fail syn-rules "rules refused"
		return 1
	fi
	progress "syn: check round, then ${SYN_SECS}s of cycles over ${#SYN_VARIANTS[@]} variants"
	for v in "${SYN_VARIANTS[@]}"; do
		name=${v%%=*}
		NETNS=$(variant_ns "$name")
		before=$(stat_snap) rb=$(rule_counts)
		: >"/tmp/bench-mss.$$"
		pid=
		if [[ $v != *sink* ]]; then
			case $NETNS in
			"$NN") sdev="s1 esp" ;; "$NH0") sdev=s2 ;; "$NH1") sdev=s3 ;; *) sdev=s0 ;;
			esac
			# shellcheck disable=SC2086 # device and mode
			sniff_mss $sdev >"/tmp/bench-mss.$$" &
			pid=$!
			sleep 1.5
		fi
		if ! line=$(NOMARK=1 flood 1 0.5 0.2 "$v" | grep '^total'); then
			fail "syn-$name" "synflood failed"
			return 1
		fi
		[ -z "$pid" ] || wait "$pid"
		mss=$(<"/tmp/bench-mss.$$")
		data "check syn $name ${line#total * } server-saw-mss=${mss:--} rules-counted=$(stat_delta "$rb" "$(rule_counts)" | tr ' ' ',') $(stat_delta "$before" "$(stat_snap)")"
		if [[ "$line" =~ counted=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -gt 0 ]; then
			pass "syn-$name-forwards"
		else
			fail "syn-$name-forwards" "nothing forwarded: $line"
		fi
	done
	progress "syn: check round done"
	while read -r line; do
		data "syn$line"
	done < <(flood "$SYN_SECS" 0.1 1 "${SYN_VARIANTS[@]}")
	rules ""
	# the side gateways are not needed any more: bulk runs without them
	ip netns del $NN; ip netns del $NH0; ip netns del $NH1
}

# --- bulk -----------------------------------------------------------------
#
# iperf3 runs on without a break while the rule is switched on and off in
# slices of BULK_SLICE seconds, none / rule / rule / none per cycle, and
# the throughput of a slice is the bytes the gateway sent toward the server
# in it (0.25 s after a switch not counted).  With the offloads on, a third
# state, "ref-checksum" (-j CHECKSUM --checksum-fill, an xtables target that
# does nothing to GSO packets), shows what any target costs through
# nft_compat: none, rule, ref, ref, rule, none.  The rule sits in a chain of
# its own, created once with iptables-nft:
#     -A ipsm -p tcp -j IPSECMSS --set-mss 1360
# and a long-running `nft -i` fed through a FIFO switches it, with no
# process start: "on" adds `jump ipsm` to the mangle FORWARD chain (one
# native nft jump more than the rule alone would cost), "off" leaves
# FORWARD empty (no rule at all); every switch is the same transaction.  iperf3, its server and the gateway's softirq
# work are on vCPU 0; this shell and nft on vCPU 1.

offload() {  # on|off: TSO and GSO of the client's veth (ethtool ioctl)
	ip netns exec $NC python3 - "$1" c0 <<-'EOF'
		import ctypes, fcntl, socket, struct, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		for dev in sys.argv[2:]:
		    for cmd in (0x1f, 0x24):          # ETHTOOL_STSO, ETHTOOL_SGSO
		        ev = ctypes.create_string_buffer(struct.pack("II", cmd, sys.argv[1] == "on"))
		        ifr = struct.pack("16sP", dev.encode(), ctypes.addressof(ev)).ljust(40, b"\0")
		        fcntl.ioctl(s.fileno(), 0x8946, ifr)   # SIOCETHTOOL
	EOF
}

# gs_tx_bytes PID: the gateway's egress byte counter, read with builtins
# from /proc/PID/net/dev of a process in the gateway's namespace
gs_tx_bytes() {
	local name rest
	while read -r name rest; do
		if [ "$name" = gs: ]; then
			# shellcheck disable=SC2086
			set -- $rest
			echo "$9"
			return
		fi
	done <"/proc/$1/net/dev"
}

# wait SECONDS without starting a process
pause() {
	read -r -t "$1" _ <>"$BULK_DIR/pause" || :
}

part_bulk() {
	local off cycles cyc cfg k=0 holder client nftpid c0 c1 t0 t1 secs nft ipsm order switch
	BULK_DIR=$(mktemp -d /tmp/bench-bulk.XXXXXX)
	mkfifo "$BULK_DIR/pause" "$BULK_DIR/nft"
	taskset -p 2 $$ >/dev/null 2>&1
	ip netns exec $NG ip neigh replace $SV lladdr $MAC_S dev gs nud permanent
	if ! ip netns exec $NG iptables-nft-restore <<-EOF
		*mangle
		:FORWARD ACCEPT [0:0]
		:ipsm - [0:0]
		:ref - [0:0]
		:idle - [0:0]
		-A ipsm -p tcp -j IPSECMSS --set-mss 1360
		-A ref -p tcp -j CHECKSUM --checksum-fill
		COMMIT
	EOF
	then
		fail bulk-rule "iptables-nft refused the rule"
		return 1
	fi
	ip netns exec $NG nft -i <"$BULK_DIR/nft" >"$BULK_DIR/nft.out" 2>&1 &
	nftpid=$!
	exec {nft}>"$BULK_DIR/nft"
	ip netns exec $NS iperf3 -s -A 0 >/dev/null 2>&1 &
	IPERF_PID=$!
	ip netns exec $NG sleep 100000 &
	holder=$!
	sleep 2
	for off in on off; do
		cycles=$BULK_CYCLES
		[ $off = on ] || cycles=$BULK_CYCLES_OFF
		offload $off || { fail bulk-offload "cannot switch offloads $off"; return 1; }
		order="none ipsecmss-nosyn ipsecmss-nosyn none"
		[ $off = off ] || order="none ipsecmss-nosyn ref-checksum ref-checksum ipsecmss-nosyn none"
		progress "bulk: offloads $off, $cycles cycles of $order, ${BULK_SLICE}s each"
		secs=$(awk -v c="$cycles" -v s="$BULK_SLICE" 'BEGIN { printf "%d", c * 6 * (s + 0.5) + 20 }')
		ip netns exec $NC iperf3 -c $SV -t "$secs" -A 0 >/dev/null 2>&1 &
		client=$!
		sleep 3
		for cyc in $(seq 1 "$cycles"); do
			for cfg in $order; do
				k=$((k + 1))
				# The same transaction for every state: two flushes
				# and one jump added, to FORWARD or to the unhooked
				# chain "idle".
				case $cfg in
				none) switch="idle jump ipsm" ;;
				ipsecmss-nosyn) switch="FORWARD jump ipsm" ;;
				ref-checksum) switch="FORWARD jump ref" ;;
				esac
				echo "flush chain ip mangle FORWARD; flush chain ip mangle idle; add rule ip mangle $switch" >&$nft
				pause 0.25
				data "mark bulk-$k start"
				c0=$(gs_tx_bytes $holder) t0=$EPOCHREALTIME
				pause "$BULK_SLICE"
				c1=$(gs_tx_bytes $holder) t1=$EPOCHREALTIME
				data "mark bulk-$k end"
				data "bulk $cyc $off $cfg $c0 $c1 $t0 $t1 bulk-$k"
			done
		done
		# What the rule saw: its counter and the module's, over one slice.
		echo "flush chain ip mangle FORWARD; add rule ip mangle FORWARD jump ipsm" >&$nft
		pause 0.15
		ip netns exec $NG iptables-nft -t mangle -Z ipsm
		ipsm=$(stat_snap)
		pause "$BULK_SLICE"
		data "check bulk $off rule-pkts=$(ip netns exec $NG iptables-nft -t mangle -L ipsm -v -x -n | awk 'NR == 3 { print $1 }') $(stat_delta "$ipsm" "$(stat_snap)")"
		echo "flush chain ip mangle FORWARD" >&$nft
		kill "$client" 2>/dev/null
		wait "$client" 2>/dev/null
		if [ "${c1:-0}" -gt "${c0:-0}" ]; then
			pass "bulk-$off-runs"
		else
			fail "bulk-$off-runs" "no bytes through the gateway"
		fi
	done
	offload on
	exec {nft}>&-
	# nft -i does not end at the end of its input
	kill "$nftpid" 2>/dev/null
	wait "$nftpid" 2>/dev/null
	if [ -s "$BULK_DIR/nft.out" ]; then
		fail bulk-nft "nft said: $(head -c 300 "$BULK_DIR/nft.out" | tr '\n' ' ')"
	fi
	rules ""
	kill "$IPERF_PID" "$holder" 2>/dev/null
	wait "$IPERF_PID" "$holder" 2>/dev/null
	IPERF_PID=
	rm -rf "$BULK_DIR"
	taskset -p 3 $$ >/dev/null 2>&1
}

# --- efficiency over real SAs --------------------------------------------

# suite natt outer inner underlay-mtu
EFF_ROWS=(
	"aes-gcm-16 0 4 4 1500"
	"aes-gcm-8 0 4 4 1500"
	"chacha20-poly1305 0 4 4 1500"
	"aes-cbc-sha1 0 4 4 1500"
	"aes-cbc-sha256 0 4 4 1500"
	"aes-gcm-16 1 4 4 1500"
	"aes-gcm-16 0 6 6 1500"
	"aes-gcm-16 0 4 4 1400"
	"aes-cbc-sha256 1 6 4 1400"
	"chacha20-poly1305 1 6 6 1400"
)

eff_row() {
	local suite=$1 natt=$2 outer=$3 inner=$4 mtu=$5 rule out verdict
	local auto calc max how v1360 r lo hi
	IPSEC_SUITE=$suite IPSEC_NATT=$natt IPSEC_OUTER=$outer IPSEC_INNER=$inner
	IPSEC_UNDERLAY_MTU=$mtu
	ipsec_sa_down
	ip -n "$IPSEC_NS_CL" link set "$IPSEC_CL_IF" mtu "$mtu" &&
		ip -n "$IPSEC_NS_GW" link set "$IPSEC_GW_VPN_IF" mtu "$mtu" || return 1
	ipsec_sa_up || return 1
	calc=$(ipsec_expected_mss "$inner")
	ipsec_gw_flush
	# shellcheck disable=SC2054 # SYN,RST is one iptables word
	rule=(FORWARD -o "$IPSEC_GW_SRV_IF" -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto)
	ipsec_gw_ipt "$inner" -t mangle -A "${rule[@]}" || return 1
	# lib-ipsec.sh finds the MSS the server saw by port alone, in a log of
	# every SYN so far: start it afresh, or a port used before (by another
	# row, another family) answers with that connection's MSS.
	: >"$IPSEC_DIR/sv.syn"
	out=$(download_verdict "$IPSEC_PROBE_BYTES" "$inner")
	ipsec_gw_flush
	read -r verdict _ _ auto _ <<<"$out"
	[[ "$auto" =~ ^[0-9]+$ ]] || { echo "no MSS seen with --auto: $out" >&2; return 1; }
	# The edge: auto completes and auto+1 stalls proves zero slack.
	: >"$IPSEC_DIR/sv.syn"
	out=$(check_max_mss "$auto" "$inner"); r=$?
	echo "# check_max_mss $auto: $out"
	if [ $r = 0 ]; then
		max=$auto how=edge
	else
		# Not at the edge: find it (slow, only when something is off).
		if [ "$verdict" = complete ]; then lo=$auto hi=$((auto + 64)); else lo=$((auto - 64)) hi=$((auto - 1)); fi
		: >"$IPSEC_DIR/sv.syn"
		max=$(probe_max_mss $lo $hi "$inner") || max='?'
		how=bisect
	fi
	: >"$IPSEC_DIR/sv.syn"
	out=$(probe_mss 1360 "$inner"); r=$?
	case $r in 0) v1360=complete ;; 1) v1360=stall ;; *) v1360=failed ;; esac
	data "eff $suite $natt $outer $inner $mtu $IPSEC_IV $IPSEC_ICV $IPSEC_BLK $calc $auto $verdict $max $how $v1360"
	if [ "$max" = "$auto" ] && [ "$verdict" = complete ]; then
		pass "eff-$suite-natt$natt-o$outer-i$inner-$mtu-auto-at-edge"
	else
		fail "eff-$suite-natt$natt-o$outer-i$inner-$mtu-auto-at-edge" "auto $auto ($verdict), largest that gets through $max"
	fi
}

part_eff() {
	local row n=0 total
	# shellcheck source=../net/lib-ipsec.sh
	. "$REPO/tests/net/lib-ipsec.sh"
	IPSEC_PREFIX=bench-e-
	# shellcheck disable=SC2034 # read by lib-ipsec.sh
	IPSEC_NS_CL=${IPSEC_PREFIX}cl IPSEC_NS_GW=${IPSEC_PREFIX}gw IPSEC_NS_SV=${IPSEC_PREFIX}sv
	# shellcheck disable=SC2034
	IPSEC_SUITE=aes-gcm-16 IPSEC_NATT=0 IPSEC_OUTER=4 IPSEC_INNER=4 IPSEC_UNDERLAY_MTU=1500
	local rows=("${EFF_ROWS[@]}")
	if [ -n "${BENCH_ROWS:-}" ]; then
		rows=()
		for n in ${BENCH_ROWS//,/ }; do rows+=("${EFF_ROWS[$((n - 1))]}"); done
	fi
	total=${#rows[@]} n=0
	progress "eff: $total rows"
	if ! ipsec_scene_up; then
		fail eff-scene "could not build the IPsec scene"
		ipsec_scene_down
		return 1
	fi
	for row in "${rows[@]}"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		eff_row $row || fail "eff-row-${row// /-}" "the row could not be measured"
		progress "eff: row $n/$total done ($row)"
	done
	ipsec_scene_down
}

[ "${BENCH_SOURCE_ONLY:-0}" = 1 ] && return 0
info
rc=0
if [[ " $PARTS " == *" syn "* || " $PARTS " == *" bulk "* ]]; then
	scene_up || { fail scene "could not build the bench scene"; exit 1; }
fi
for p in $PARTS; do
	t0=$SECONDS
	"part_$p" || rc=1
	data "info time-$p $((SECONDS - t0))"
done
cleanup
data "info done"
exit $rc
