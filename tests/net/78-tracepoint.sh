#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 240
#
# Seeing why: the tracepoint ipsecmss:mss and the log_rewrites line, read
# the way an operator would (tracefs, dmesg), against the wire.  In the
# seed's scene (AES-GCM-16 tunnel, 1500 underlay; lib-ipsec.sh) with
# "-j IPSECMSS --auto" on the gateway, a client's download over IPv4 and
# IPv6: the event for the client's SYN carries the flow (addresses,
# ports), the MSS before (the client's 1460 / 1440) and after (what the
# server saw on the wire), action rewritten, mode auto, the reverse MTU
# from the secpath (= the wire MSS + the inner headers) with the SPI of
# the SA the reply leaves by, the mirror of the one the gateway decrypted
# it with (same CHILD_SA: read from `ip xfrm state`); the
# server's SYN-ACK's event says its MTU came from the bundle.  The
# log_rewrites line says the same.

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }
ok() { local n=$1 why=$2; shift 2; if "$@"; then pass "$n"; else fail "$n" "$why"; fi; }

trap ipsec_scene_down EXIT
T=/sys/kernel/tracing
[ -d "$T/events" ] || mount -t tracefs nodev "$T" 2>/dev/null
if [ ! -d "$T/events/ipsecmss/mss" ]; then
	fail trace-event-exists "no $T/events/ipsecmss/mss"
	exit 0
fi
pass trace-event-exists

if ! ipsec_scene_up; then
	fail trace-scene "could not build the scene (see above)"
	exit 0
fi

# field NAME LINE: the value of NAME=... in a trace line
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

for fam in 4 6; do
	read -r ci sv <<<"$(ipsec_addrs "$fam")"
	if [ "$fam" = 4 ]; then
		ci_t="::ffff:$ci" sv_t="::ffff:$sv" hdrs=40 cl_mss=1460
	else
		ci_t=$ci sv_t=$sv hdrs=60 cl_mss=1440
	fi
	# The SA the reply leaves by (sized the reverse path), from the kernel:
	# gateway to client, its selector's destination the client.
	spi=$(ip -n "$IPSEC_NS_GW" xfrm state list src "$IPSEC_GWU4" dst "$IPSEC_CLU4" |
		awk -v sel="dst $ci/" '/proto esp spi/ { s = $4 } index($0, "sel src") && index($0, sel) { print s }' | head -1)
	ipsec_gw_flush
	ipsec_gw_ipt "$fam" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
	echo Y >/sys/module/xt_ipsecmss/parameters/log_rewrites
	: >"$T/trace"
	echo 1 >"$T/events/ipsecmss/mss/enable"
	mark="ipsecmss-trace-$fam-$$"
	echo "$mark" >/dev/kmsg
	read -r got _ wire status <<<"$(download 65536 "$IPSEC_STALL_TIMEOUT" "$fam")"
	echo 0 >"$T/events/ipsecmss/mss/enable"
	echo N >/sys/module/xt_ipsecmss/parameters/log_rewrites
	ipsec_gw_flush
	echo "# v$fam: download $got bytes, $status, server saw MSS $wire; SPI $spi"
	syn=$(grep " mss: " "$T/trace" | grep "saddr=$ci_t sport=[0-9]* daddr=$sv_t dport=$IPSEC_PORT " | head -1)
	synack=$(grep " mss: " "$T/trace" | grep "saddr=$sv_t sport=$IPSEC_PORT daddr=$ci_t " | head -1)
	echo "# v$fam: SYN event: $syn"
	echo "# v$fam: SYN-ACK event: $synack"
	ok "trace-v$fam-syn-event" "no event for $ci_t -> $sv_t:$IPSEC_PORT in the trace" [ -n "$syn" ]
	[ -n "$syn" ] || continue
	ok "trace-v$fam-family" "family=$(field family "$syn")" [ "$(field family "$syn")" = "$fam" ]
	ok "trace-v$fam-old-mss-is-the-clients" "old_mss=$(field old_mss "$syn"), the client announces $cl_mss" \
		[ "$(field old_mss "$syn")" = "$cl_mss" ]
	ok "trace-v$fam-new-mss-is-the-wire" "new_mss=$(field new_mss "$syn"), the server saw $wire" \
		[ "$(field new_mss "$syn")" = "$wire" ]
	ok "trace-v$fam-action-mode" "action=$(field action "$syn") mode=$(field mode "$syn")" \
		[ "$(field action "$syn")" = rewritten ] && [ "$(field mode "$syn")" = auto ]
	ok "trace-v$fam-from-secpath" "src=$(field src "$syn") rev_src=$(field rev_src "$syn")" \
		[ "$(field src "$syn")" = secpath ] && [ "$(field rev_src "$syn")" = secpath ]
	ok "trace-v$fam-rev-mtu-is-wire-plus-headers" "rev_mtu=$(field rev_mtu "$syn"), wire $wire + $hdrs" \
		[ "$(field rev_mtu "$syn")" = $((wire + hdrs)) ]
	ok "trace-v$fam-spi-is-the-sa" "spi=$(field spi "$syn"), ip xfrm state says $spi" \
		[ -n "$spi" ] && [ "$(printf '0x%08x' "$spi")" = "$(field spi "$syn")" ]
	ok "trace-v$fam-synack-from-bundle" "SYN-ACK event: ${synack:-none}" \
		[ "$(field src "$synack")" = bundle ]
	# The same story in one kernel log line.
	logged=$(dmesg | sed -n "/$mark/,\$p" | grep "MSS $cl_mss -> $wire (auto: mtu $((wire + hdrs)) from secpath" | head -1)
	echo "# v$fam: log line: $logged"
	ok "trace-v$fam-log-line-names-secpath" "no log_rewrites line with MSS $cl_mss -> $wire from secpath" [ -n "$logged" ]
done
exit 0
