#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 150
#
# The guest half of `make demo` (run by tests/demo/demo.sh through
# tests/vm/run.sh, with xt_ipsecmss loaded): the seed's scene with real ESP
# (tests/net/lib-ipsec.sh, IPv4, AES-GCM-16 tunnel over a 1500 underlay, a
# VPN client announcing MSS 1460, a web server that drops ICMP
# "fragmentation needed"), one 300 KB download per rule on the gateway, and
# a table of what happened.
#
# The table goes to the third serial port (/dev/ttyS2), which demo.sh maps
# to a file on the host; "progress: " lines there are for the waiting user.
# Without that port (run by hand through run.sh) the table goes to stdout
# only.  Every line of the table is also printed to stdout with "# ", so it
# lands in the console log and, on a FAIL, in run.sh's report.
#
# PASS:/FAIL: lines (for the harness and demo.sh's exit status): the scene
# was built, every rule was accepted, and the rows came out as the demo
# claims (no rule and --clamp-mss-to-pmtu stall; --set-mss 1360 and --auto
# complete).

set -u
# shellcheck source=tests/net/lib-ipsec.sh
. "$(dirname "$0")/../net/lib-ipsec.sh"

IPSEC_OUTER=4 IPSEC_INNER=4 IPSEC_SUITE=aes-gcm-16 IPSEC_MODE=tunnel
IPSEC_NATT=0 IPSEC_UNDERLAY_MTU=1500 IPSEC_CLIENT_MTU=1500
# A black hole delivers no byte at all, a working path 300 KB in well under
# a second (tests/net/lib-ipsec.sh): a short stall timeout is plenty.
IPSEC_STALL_TIMEOUT=${DEMO_STALL_TIMEOUT:-3}
IPSEC_SLOW_TIMEOUT=20
IPSEC_PREFIX=demo-
bytes=307200

if { exec 4>/dev/ttyS2; } 2>/dev/null && stty -F /dev/ttyS2 raw -echo 2>/dev/null; then
	chan=1
else
	exec 4>/dev/null
	chan=0
fi
# out LINE: a line of the table; progress LINE: a note while it runs.
out() {
	printf '%s\n' "$*" >&4
	if [ $chan = 1 ]; then printf '# %s\n' "$*"; else printf '%s\n' "$*"; fi
}
progress() { printf 'progress: %s\n' "$*" >&4; printf '# %s\n' "$*"; }

kb() { echo "$(($1 / 1024)) KB"; }
pass() { echo "PASS: demo/$1"; }
fail() { echo "FAIL: demo/$1: $2"; }

trap ipsec_scene_down EXIT

# ICMP "destination unreachable" (here: fragmentation needed) the gateway
# has sent so far.
# shellcheck disable=SC2016 # awk program
gw_unreach_sent() {
	ip netns exec "$IPSEC_NS_GW" awk '$1 == "Icmp:" {
		if (!c) { for (i = 2; i <= NF; i++) if ($i == "OutDestUnreachs") c = i }
		else print $c }' /proc/net/snmp
}

progress "building the scene in the VM: client, gateway and web server namespaces, ESP SAs ..."
if ! ipsec_scene_up; then
	fail scene "could not build the scene (see above)"
	exit 1
fi
pass scene
srv=$IPSEC_GW_SRV_IF
# shellcheck disable=SC2054 # SYN,RST is one iptables word
syn=(-p tcp -m tcp --tcp-flags SYN,RST SYN)

# The rows: label (shown: the rule less the words all rules share), then
# the rule's words after "-A FORWARD".
labels=(
	"(no rule)"
	"-o $srv -j TCPMSS --clamp-mss-to-pmtu"
	"-o $srv -m tcpmss --mss 1361:1536 -j IPSECMSS --set-mss 1360"
	"-j IPSECMSS --auto"
)
rules=(
	""
	"-o $srv ${syn[*]} -j TCPMSS --clamp-mss-to-pmtu"
	"-o $srv ${syn[*]} -m tcpmss --mss 1361:1536 -j IPSECMSS --set-mss 1360"
	"${syn[*]} -j IPSECMSS --auto"
)
# What the demo shows; anything else fails it.
want=(stall stall complete complete)
names=(no-rule tcpmss-clamp-to-pmtu ipsecmss-set-mss-1360 ipsecmss-auto)

declare -a r_verdict r_got r_secs r_mss r_status r_icmp
for i in 0 1 2 3; do
	progress "row $((i + 1))/4: ${labels[i]}: $(kb $bytes) download ..."
	ipsec_gw_flush
	if [ -n "${rules[i]}" ]; then
		# shellcheck disable=SC2086 # the rule's words
		if ! err=$(ipsec_gw_ipt 4 -t mangle -A FORWARD ${rules[i]} 2>&1); then
			fail "${names[i]}" "rule refused: $(echo "$err" | tr '\n' ' ')"
			r_verdict[i]=refused r_got[i]=0 r_secs[i]=0 r_mss[i]=- r_status[i]=refused r_icmp[i]=0
			continue
		fi
	fi
	before=$(gw_unreach_sent)
	line=$(download_verdict $bytes)
	read -r 'r_verdict[i]' 'r_got[i]' 'r_secs[i]' 'r_mss[i]' 'r_status[i]' <<<"$line"
	[[ "${r_got[i]}" =~ ^[0-9]+$ ]] || r_got[i]=0
	[[ "${r_secs[i]}" =~ ^[0-9.]+$ ]] || r_secs[i]=0
	[[ "${r_mss[i]}" =~ ^[0-9]+$ ]] || r_mss[i]=-
	: "${r_status[i]:=?}"
	after=$(gw_unreach_sent)
	r_icmp[i]=$(( ${after:-0} - ${before:-0} ))
	if [ "${r_verdict[i]}" = "${want[i]}" ]; then
		pass "${names[i]}-${want[i]}s"
	else
		fail "${names[i]}-${want[i]}s" "got: $line"
	fi
done
ipsec_gw_flush

# The largest MSS that completed (the --auto row's, if all is well); the
# kernel's own TCPMSS --set-mss one byte above it tells whether it is the
# largest this tunnel carries.
best=0 besti=-1
for i in 0 1 2 3; do
	if [ "${r_verdict[i]}" = complete ] && [ "${r_mss[i]}" != - ] && [ "${r_mss[i]}" -gt "$best" ]; then
		best=${r_mss[i]} besti=$i
	fi
done
edge=unknown
if [ "$best" -gt 0 ]; then
	progress "checking that MSS $((best + 1)) does not fit (TCPMSS --set-mss $((best + 1)), 64 KB) ..."
	probe_mss $((best + 1)) >/dev/null
	case $? in
	0) edge=fits ;;
	1) edge=stalls ;;
	esac
fi

# --- the table ---
w=0
for i in 0 1 2 3; do
	[ ${#labels[i]} -le $w ] || w=${#labels[i]}
done
# shellcheck disable=SC2059 # the format is built here
fmt="%-${w}s  %10s  %9s  %5s  %s"
out "demo: VPN client (MTU 1500, MSS 1460) =ESP, AES-GCM-16 tunnel, 1500-byte link=> gateway --$srv--> web server that drops ICMP \"frag needed\""
out "demo: rules: iptables -t mangle -A FORWARD ${syn[*]} <rule> on the gateway, alone; a $(kb $bytes) download each"
# shellcheck disable=SC2059
out "$(printf "$fmt" "<rule>" "server saw" "delivered" "time" "verdict")"
for i in 0 1 2 3; do
	case "${r_verdict[i]}" in
	complete)
		v=ok
		if [ "$i" = "$besti" ] && [ "$edge" = stalls ]; then
			v="ok, the largest that fits"
		elif [ "${r_mss[i]}" != - ] && [ "${r_mss[i]}" -lt "$best" ]; then
			v="ok, $((best - r_mss[i])) B/segment wasted"
		fi ;;
	stall)
		if [ "${r_icmp[i]}" -gt 0 ]; then
			v="stalled: black hole"
		else
			v="stalled"
		fi ;;
	refused) v="rule refused" ;;
	*) v="failed: ${r_status[i]}" ;;
	esac
	# shellcheck disable=SC2059
	out "$(printf "$fmt" "${labels[i]}" "MSS ${r_mss[i]}" "$(kb "${r_got[i]}")" "$(printf '%.1f s' "${r_secs[i]}")" "$v")"
done

# The summary, from the measurements above.
if [ "${r_verdict[3]}" = complete ]; then
	s="demo: IPSECMSS --auto: MSS ${r_mss[3]}"
	case $edge in
	stalls) s="$s, the largest this tunnel carries (TCPMSS --set-mss $((best + 1)) stalls)" ;;
	fits) s="$s, but MSS $((best + 1)) fits too" ;;
	esac
	if [ "${r_verdict[2]}" = complete ] && [ "${r_mss[2]}" != - ] && [ "${r_mss[2]}" -lt "${r_mss[3]}" ]; then
		s="$s; the fixed ${r_mss[2]} wastes $((r_mss[3] - r_mss[2])) B per segment"
	fi
	[ "${r_verdict[1]}" != stall ] || s="$s; --clamp-mss-to-pmtu leaves ${r_mss[1]} and stalls"
	out "$s"
else
	out "demo: IPSECMSS --auto did not complete the download (${r_verdict[3]}: ${r_status[3]})"
fi
