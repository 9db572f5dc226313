#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 1200
#
# --auto through IP-TFS SAs (mode iptfs, RFC 9347, Linux 6.14+; issue 13
# item 3).  The seed's scene (tests/net/lib-ipsec.sh: client =ESP, AES-GCM-16,
# 1500 underlay=> gateway -> server that drops ICMP frag-needed and ICMPv6
# packet-too-big), its SAs and policies replaced by IP-TFS ones
# (tests/net/xfrm_iptfs.py: Debian 12's iproute2 cannot add them), with
#   -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN -j IPSECMSS --auto
# on the gateway and a 300 KB transfer per case:
#   default   the SA fragments inner packets across ESP packets
#             (iptfs_copy_create_frags()); xfrm_state_mtu() gives
#             IP_MAX_MTU (iptfs_get_inner_mtu()), the bundle its inner
#             route's MTU: the client's full MSS (1500 - 40 - 20 / - 20)
#             must stay, although it is larger than plain ESP carries, and
#             the transfer must complete (from_route: the route decided)
#   dont-frag XFRMA_IPTFS_DONT_FRAG: the inner MTU is the ESP arithmetic
#             less the 4-byte AGGFRAG header (__iptfs_get_inner_mtu()); the
#             transfer completes at --auto's MSS, the kernel's TCPMSS
#             --set-mss one byte higher stalls (the oracle of 55/58), and
#             --auto's value is this script's own arithmetic
#             (from_secpath: the gateway's outbound SA decided)
# IPv4 and IPv6 inside, IPv4 and (dont-frag) IPv6 outside; downloads (the
# client's SYN leaves the tunnel) and pushes (the client's SYN-ACK does).
# On a kernel without IP-TFS (Debian's 6.1 and 6.12): one SKIP line.
# IPTFS_CASES (default: all) picks groups: frag dontfrag outer6.

set -u
. "$(dirname "$0")/lib-ipsec.sh"

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

TFS="$IPSEC_LIB_DIR/xfrm_iptfs.py"
bytes=307200
IPSEC_STALL_TIMEOUT=4

# --- does this kernel have IP-TFS? ------------------------------------------
# An IP-TFS SA added (and deleted) in a namespace of its own: the kernel
# refuses mode 5 without IP-TFS (6.1, 6.12: "Unsupported mode"), and a
# 6.14+ kernel without CONFIG_XFRM_IPTFS accepts it without IP-TFS state.
probe_ns=ipsecmss-iptfs-probe-$$
have=$(ip netns add "$probe_ns" && echo probe | ip netns exec "$probe_ns" \
	/usr/bin/python3 "$TFS" 2>&1)
ip netns del "$probe_ns" 2>/dev/null
if [ "$have" != iptfs ]; then
	echo "SKIP: net/64-iptfs: kernel $(uname -r) has no IP-TFS: ${have#none: }"
	exit 0
fi

trap ipsec_scene_down EXIT
want() { [[ " ${IPTFS_CASES:-frag dontfrag outer6} " == *" $1 "* ]]; }

# --- IP-TFS SAs and policies --------------------------------------------------
# iptfs_side cl|gw DONT-FRAG: the xfrm_iptfs.py lines that give one side
# the SA pairs and policies lib-ipsec.sh's tunnel mode gives it, in mode
# iptfs (one pair per inner family, reqid = family, the same selectors);
# DONT-FRAG 1 puts dont-frag on this side's outbound SAs.
iptfs_side() {
	local side=$1 df='' me peer f ci sn c2g g2c alg kc kg icv
	[ "$2" = 1 ] && df=dont-frag
	if [ "$IPSEC_OUTER" = 6 ]; then
		if [ "$side" = cl ]; then me=$IPSEC_CLU6 peer=$IPSEC_GWU6; else me=$IPSEC_GWU6 peer=$IPSEC_CLU6; fi
	else
		if [ "$side" = cl ]; then me=$IPSEC_CLU4 peer=$IPSEC_GWU4; else me=$IPSEC_GWU4 peer=$IPSEC_CLU4; fi
	fi
	# "aead NAME KEY ICV-BITS", one key per direction
	read -r _ alg kc icv <<<"$IPSEC_ALG_C2G"
	read -r _ _ kg _ <<<"$IPSEC_ALG_G2C"
	for f in 4 6; do
		if [ "$f" = 6 ]; then ci=$IPSEC_CLIENT6/128 sn=$IPSEC_SRVNET6; else ci=$IPSEC_CLIENT4/32 sn=$IPSEC_SRVNET4; fi
		c2g=0x${f}501 g2c=0x${f}502
		if [ "$side" = cl ]; then
			echo "sa $me $peer $c2g $f out $ci $sn $alg $kc $icv $df"
			echo "sa $peer $me $g2c $f in $sn $ci $alg $kg $icv"
			echo "policy out $ci $sn $me $peer $f"
			echo "policy in $sn $ci $peer $me $f"
		else
			echo "sa $me $peer $g2c $f out $sn $ci $alg $kg $icv $df"
			echo "sa $peer $me $c2g $f in $ci $sn $alg $kc $icv"
			echo "policy out $sn $ci $me $peer $f"
			echo "policy fwd $ci $sn $peer $me $f"
			echo "policy in $ci $sn $peer $me $f"
		fi
	done
}

# iptfs_up NAME DONT-FRAG: replace both sides' SAs and policies (the inner
# routes stay) and check what the kernel holds.
iptfs_up() {
	local n=$1 df=$2 side ns out modes
	for side in cl gw; do
		if [ $side = cl ]; then ns=$IPSEC_NS_CL; else ns=$IPSEC_NS_GW; fi
		ip -n "$ns" xfrm policy flush && ip -n "$ns" xfrm state flush || return 1
		if ! out=$(iptfs_side $side "$df" | ip netns exec "$ns" /usr/bin/python3 "$TFS" 2>&1); then
			fail "$n-sa" "$side: $(echo "$out" | grep -v '^ok$' | tr '\n' ' ')"
			return 1
		fi
	done
	# iproute2 6.1 names no mode 5 and shows no direction: the mode from
	# "ip xfrm state", the rest from the dump (XFRMA_SA_DIR, XFRMA_IPTFS_*)
	modes=$(ip -n "$IPSEC_NS_GW" xfrm state | sed -n 's/.* mode \([^ ]*\).*/\1/p' | sort | uniq -c | tr -s ' \n' ' ')
	out=$(echo show | ip netns exec "$IPSEC_NS_GW" /usr/bin/python3 "$TFS" 2>&1)
	echo "# $n: gateway: ip xfrm state modes:$modes"
	echo "$out" | sed "s/^/# $n: gateway SA: /"
	if [ "$(grep -c 'mode=5 .*iptfs=yes' <<<"$out")" = 4 ] &&
		[ "$(grep -c "dir=out iptfs=yes dont_frag=$df" <<<"$out")" = 2 ]; then
		pass "$n-sa"
	else
		fail "$n-sa" "the gateway holds: $(tr '\n' ';' <<<"$out")"
		return 1
	fi
}

# iptfs_expected_mss FAMILY DONT-FRAG: the largest MSS by this script's own
# arithmetic.  Fragmenting: the client's own (its 1500 MTU; nothing on the
# path is smaller).  dont-frag: RFC 4303 ESP in tunnel mode as in
# lib-ipsec.sh (outer IP, SPI+sequence, IV, ICV, the payload plus the
# 2-byte trailer padded to the block size rounded up to 4), the payload
# starting with the 4-byte AGGFRAG header (RFC 9347 2.2).
iptfs_expected_mss() {
	local fam=$1 oip=20 iip=20 blk mtu
	[ "$IPSEC_OUTER" = 6 ] && oip=40
	[ "$fam" = 6 ] && iip=40
	ipsec_suite "$IPSEC_SUITE" || return 1
	mtu=$IPSEC_CLIENT_MTU
	if [ "$2" = 1 ]; then
		blk=$(((IPSEC_BLK + 3) / 4 * 4))
		mtu=$((((IPSEC_UNDERLAY_MTU - oip - 8 - IPSEC_IV - 4 - IPSEC_ICV) / blk * blk) - 2))
		[ "$mtu" -gt "$IPSEC_CLIENT_MTU" ] && mtu=$IPSEC_CLIENT_MTU
	fi
	echo $((mtu - iip - 20))
}

# --- counters (lib-ipsec.sh: stat_read, delta, deltas) ---------------------
# shellcheck disable=SC2034 # read by deltas (lib-ipsec.sh)
COUNTERS="from_bundle from_secpath from_device from_route from_cap auto_ipsec auto_route"

# --- transfers (lib-ipsec.sh: probe_push, push_verdict) ---------------------

# case_auto NAME FAMILY DIRECTION DONT-FRAG "COUNTER...": the --auto
# transfer completes, the server saw the expected MSS, each COUNTER and
# auto_ipsec grew; with dont-frag one byte more stalls.  The rule sees
# both the SYN and the SYN-ACK: one leaves the tunnel (its reverse path is
# the SA it was decrypted with: from_secpath, or from_route where the
# route is smaller), the other enters it (the bundle: from_bundle).
case_auto() {
	local n=$1 fam=$2 dir=$3 df=$4 ctr=$5 out err verdict got secs mss status want plain r c d
	ipsec_gw_flush
	if ! err=$(ipsec_gw_ipt "$fam" -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN \
		-j IPSECMSS --auto 2>&1); then
		fail "$n-auto-completes" "--auto rule refused: $(echo "$err" | tr '\n' ' ')"
		return
	fi
	stat_read STAT_BEFORE
	if [ "$dir" = push ]; then
		out=$(push_verdict $bytes "$fam")
	else
		out=$(download_verdict $bytes "$fam")
	fi
	stat_read STAT_AFTER
	ipsec_gw_flush
	read -r verdict got secs mss status <<<"$out"
	want=$(iptfs_expected_mss "$fam" "$df")
	plain=$(ipsec_expected_mss "$fam")
	echo "# $n: --auto: $got/$bytes bytes in ${secs}s, server saw MSS $mss, $status; counters: $(deltas)"
	echo "# RESULT $n: mss=$mss verdict=$verdict expected=$want plain-esp=$plain"
	if [ "$verdict" = complete ]; then
		pass "$n-auto-completes"
	else
		fail "$n-auto-completes" "$verdict: $got/$bytes bytes, server saw MSS $mss, $status"
	fi
	if [ "$mss" = "$want" ]; then
		pass "$n-auto-mss-$want"
	else
		fail "$n-auto-mss-$want" "server saw MSS $mss, this script computes $want (plain ESP: $plain)"
	fi
	for c in $ctr auto_ipsec; do
		d=$(delta "$c")
		if [ -n "$d" ] && [ "$d" -ge 1 ]; then
			pass "$n-counts-$c"
		else
			fail "$n-counts-$c" "$c did not grow: $(deltas)"
		fi
	done
	[ "$verdict" = complete ] || return 0
	case "$mss" in ''|*[!0-9]*) return 0 ;; esac
	if [ "$df" != 1 ]; then
		# Fragmenting: more than plain ESP carries got through.
		if [ "$mss" -gt "$plain" ]; then
			pass "$n-carries-more-than-plain-esp"
		else
			fail "$n-carries-more-than-plain-esp" "MSS $mss, plain ESP's limit is $plain"
		fi
		return 0
	fi
	if [ "$dir" = push ]; then
		out=$(probe_push $((mss + 1)) "$fam"); r=$?
	else
		out=$(probe_mss $((mss + 1)) "$fam"); r=$?
	fi
	echo "# $n: TCPMSS --set-mss $((mss + 1)): $out"
	case $r in
	1) pass "$n-auto-$mss-is-the-largest" ;;
	0) fail "$n-auto-$mss-is-the-largest" "MSS $((mss + 1)) gets through too: $mss wastes bytes" ;;
	*) fail "$n-auto-$mss-is-the-largest" "the oracle failed: $out" ;;
	esac
}

IPSEC_MODE=tunnel IPSEC_SUITE=aes-gcm-16 IPSEC_OUTER=4 IPSEC_NATT=0 IPSEC_UNDERLAY_MTU=1500
if ! ipsec_scene_up; then
	fail iptfs-scene "could not build the scene (see above)"
	exit 1
fi

# The SA fragments: nothing below the routes' MTU.
if want frag && iptfs_up frag 0; then
	case_auto frag-v4-down 4 down 0 "from_route from_bundle"
	case_auto frag-v6-down 6 down 0 "from_route from_bundle"
	case_auto frag-v4-push 4 push 0 "from_route from_bundle"
fi

# dont-frag: the kernel's own arithmetic, exact.
if want dontfrag && iptfs_up dontfrag 1; then
	case_auto dontfrag-v4-down 4 down 1 "from_secpath from_bundle"
	case_auto dontfrag-v6-down 6 down 1 "from_secpath from_bundle"
	case_auto dontfrag-v4-push 4 push 1 "from_secpath from_bundle"
fi

# dont-frag with an IPv6 outer header (the SAs' family, not the rule's).
if want outer6; then
	ipsec_sa_down
	IPSEC_OUTER=6
	ipsec_sa_up || fail outer6-scene "could not set up the SAs (see above)"
fi
if want outer6 && iptfs_up outer6-dontfrag 1; then
	case_auto outer6-dontfrag-v4-down 4 down 1 "from_secpath from_bundle"
	case_auto outer6-dontfrag-v6-down 6 down 1 "from_secpath from_bundle"
fi
