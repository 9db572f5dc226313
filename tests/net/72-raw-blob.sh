#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Kernel-side validation: rule blobs the real plugin would never build,
# handed to the kernel by a test-only plugin (tests/net/rawblob/, option
# --raw HEX, built here into tests/build/rawblob/), under iptables-legacy and
# iptables-nft, IPv4 and IPv6.  Each bad blob must be refused by the kernel
# (iptables exits non-zero and the kernel log has an "xt_ipsecmss:" line
# naming the reason) and leave no rule behind; good blobs, a --set-mss 1360
# one first, are accepted and listed back byte for byte, so the refusals are
# not an artefact of the test plugin.
#
# Process starts are slow under emulation: the checks run in one shell
# inside the test namespace, read the kernel log from a file that a
# `cat /dev/kmsg` fills, and list the table once per frontend and family
# (a rule left behind is named by its blob).

set -u
shopt -s nocasematch
mod_re='xt_ipsecmss:'

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

# --- outside: build the plugin, make a namespace, run the rest in it ---------
if [ "${RAW72_INNER:-}" != 1 ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	tmp=$(mktemp -d /tmp/raw72.XXXXXX)
	NS=raw72-$$
	kpid=
	trap '[ -n "$kpid" ] && kill $kpid 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$tmp"' EXIT
	t_start=$(date +%s)
	out="$REPO/tests/build/rawblob"
	if ! mkdir -p "$out" 2>/dev/null || ! [ -w "$out" ]; then
		out="$tmp/rawblob"
		mkdir -p "$out"
	fi
	xtdir=$(pkg-config --variable=xtlibdir xtables 2>/dev/null)
	[ -n "$xtdir" ] || xtdir=/usr/lib/$(gcc -dumpmachine)/xtables
	# shellcheck disable=SC2046
	if err=$(gcc -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared \
		-I"$REPO/include" $(pkg-config --cflags xtables 2>/dev/null) \
		-o "$out/libxt_IPSECMSS.so" "$here/rawblob/libxt_IPSECMSS.c" 2>&1); then
		pass raw-blob/build
	else
		fail raw-blob/build "$(echo "$err" | head -3 | tr '\n' ' ')"
		exit 1
	fi
	ip netns add "$NS" || { fail raw-blob/setup "cannot create a namespace"; exit 1; }
	mkfifo "$tmp/fifo"
	cat /dev/kmsg >"$tmp/kmsg" &
	kpid=$!
	RAW72_INNER=1 RAW72_TMP=$tmp XTABLES_LIBDIR="$out:$xtdir" \
		ip netns exec "$NS" bash "$0"
	rc=$?
	echo "raw-blob: done in $(($(date +%s) - t_start))s"
	exit $rc
fi

# --- inside the namespace ---------------------------------------------------
tmp=$RAW72_TMP
KM=$tmp/kmsg
exec {SLEEPFD}<>"$tmp/fifo"
snooze() { read -r -t "$1" -u "$SLEEPFD" _ || :; }
now_us() { echo "${EPOCHREALTIME/./}"; }

# name | blob fields | families that must refuse | regex for the reason.
# Blob fields: MODE SUITE OUTER FLAGS MSS OVERHEAD MTU MIN_MSS FALLBACK
# RESERVED0 RESERVED[0] RESERVED[1] (struct xt_ipsecmss_tginfo, in order).
bad=(
	'mode-0|0 0 0 0 0 0 0 0 0 0 0 0|46|mode'
	'mode-5|5 0 0 0 1360 0 0 0 0 0 0 0|46|mode'
	'mode-9|9 0 0 0 1360 0 0 0 0 0 0 0|46|mode'
	'reserved0|1 0 0 0 1360 0 0 0 0 1 0 0|46|reserved'
	'reserved-0|1 0 0 0 1360 0 0 0 0 0 1 0|46|reserved'
	'reserved-1|1 0 0 0 1360 0 0 0 0 0 0 0x80000000|46|reserved'
	'flag-0x08-auto|2 0 0 0x08 0 0 0 0 0 0 0 0|46|flag'
	'flag-0x80-esp|4 3 0 0x80 0 0 1500 0 0 0 0 0|46|flag'
	'flag-natt-set-mss|1 0 0 0x01 1360 0 0 0 0 0 0 0|46|set-mss|option'
	'set-mss-0|1 0 0 0 0 0 0 0 0 0 0 0|46|set-mss|range'
	'set-mss-65500|1 0 0 0 65500 0 0 0 0 0 0 0|46|set-mss|range'
	'set-mss-65496|1 0 0 0 65496 0 0 0 0 0 0 0|46|set-mss|range'
	'set-mss-65476|1 0 0 0 65476 0 0 0 0 0 0 0|6|set-mss|range'
	'set-mss-stray-suite|1 3 0 0 1360 0 0 0 0 0 0 0|46|set-mss|option'
	'set-mss-stray-mtu|1 0 0 0 1360 0 1500 0 0 0 0 0|46|set-mss|option'
	'set-mss-stray-min-mss|1 0 0 0 1360 0 0 500 0 0 0 0|46|set-mss|option'
	'set-mss-stray-fallback|1 0 0 0 1360 0 0 0 1200 0 0 0|46|set-mss|option'
	'esp-suite-99|4 99 0 0 0 0 1500 0 0 0 0 0|46|suite'
	'esp-suite-0|4 0 0 0 0 0 1500 0 0 0 0 0|46|suite'
	'esp-suite-16|4 16 0 0 0 0 1500 0 0 0 0 0|46|suite'
	'esp-mtu-575|4 3 0 0 0 0 575 0 0 0 0 0|46|mtu'
	'esp-outer-5|4 3 5 0 0 0 1500 0 0 0 0 0|46|esp|outer'
	'esp-transport-outer-other-family-v4|4 3 6 0x02 0 0 1500 0 0 0 0 0|4|esp|outer|transport'
	'esp-transport-outer-other-family-v6|4 3 4 0x02 0 0 1500 0 0 0 0 0|6|esp|outer|transport'
	'esp-stray-mss|4 3 0 0 1360 0 1500 0 0 0 0 0|46|esp'
	'esp-fallback-flag|4 3 0 0x04 0 0 1500 0 1200 0 0 0|46|esp|fallback'
	'auto-fallback-flag-no-value|2 0 0 0x04 0 0 0 0 0 0 0 0|46|fallback'
	'auto-fallback-value-no-flag|2 0 0 0 0 0 0 0 1200 0 0 0|46|fallback'
	'auto-fallback-65500|2 0 0 0x04 0 0 0 0 65500 0 0 0|46|fallback'
	'auto-mtu-575|2 0 0 0 0 0 575 0 0 0 0 0|46|mtu'
	'auto-stray-natt|2 0 0 0x01 0 0 0 0 0 0 0 0|46|auto'
	'overhead-600-mtu-576|3 0 0 0 0 600 576 0 0 0 0 0|46|overhead|mtu'
	'overhead-0|3 0 0 0 0 0 1500 0 0 0 0 0|46|overhead'
	'overhead-stray-suite|3 3 0 0 0 80 1500 0 0 0 0 0|46|overhead'
	'min-mss-10|2 0 0 0 0 0 0 10 0 0 0 0|46|min-mss'
	'min-mss-87|4 3 0 0 0 0 1500 87 0 0 0 0|46|min-mss'
	'min-mss-65476|2 0 0 0 0 0 0 65476 0 0 0 0|6|min-mss'
)

# name | blob fields | families that accept (the control comes first)
good=(
	'set-mss-1360|1 0 0 0 1360 0 0 0 0 0 0 0|46'
	'auto-mtu-cap-1500|2 0 0 0 0 0 1500 0 0 0 0 0|46'
	'set-mss-1|1 0 0 0 1 0 0 0 0 0 0 0|46'
	'set-mss-65475|1 0 0 0 65475 0 0 0 0 0 0 0|46'
	'set-mss-65495|1 0 0 0 65495 0 0 0 0 0 0 0|4'
	'auto|2 0 0 0 0 0 0 0 0 0 0 0|46'
	'auto-fallback-1200-min-mss-88|2 0 0 0x04 0 0 0 88 1200 0 0 0|46'
	'esp-aes-gcm-16-mtu-1500|4 3 0 0 0 0 1500 0 0 0 0 0|46'
	'esp-null-sha256-natt-transport|4 15 0 0x03 0 0 1500 0 0 0 0 0|46'
	'esp-aes-gcm-8-outer4-route-mtu|4 1 4 0 0 0 0 0 0 0 0 0|46'
	'overhead-80-mtu-576|3 0 0 0 0 80 576 0 0 0 0 0|46'
	'min-mss-65476|2 0 0 0 0 0 0 65476 0 0 0 0|4'
)

# every blob as hex, in one python start: struct xt_ipsecmss_tginfo packed
# in the machine's byte order
declare -A HEX NAME_OF
mapfile -t hexes < <(for c in "${bad[@]}" "${good[@]}"; do
	IFS='|' read -r _ f _ <<<"$c"
	echo "$f"
done | /usr/bin/python3 -S -c 'import struct, sys
for line in sys.stdin:
    print(struct.pack("=BBBBHHHHHHII", *[int(a, 0) for a in line.split()]).hex())')
i=0
for c in "${bad[@]}" "${good[@]}"; do
	HEX[${c%%|*}]=${hexes[$i]}
	NAME_OF[${hexes[$i]}]=${c%%|*}
	i=$((i + 1))
done
if [ ${#hexes[@]} != $i ] || [ "${HEX[set-mss-1360]:-}" = "" ]; then
	fail raw-blob/setup "could not pack the blobs (${#hexes[@]} of $i)"
	exit 1
fi

# the kernel log after our last mark
kpos=0 nmark=0
kmark() {
	nmark=$((nmark + 1))
	echo "raw72-mark-$$-$nmark" >/dev/kmsg
}
# kreason SECONDS: KREASON = the xt_ipsecmss: lines after the last mark,
# waiting up to SECONDS for one (cat has to copy it first)
kreason() {
	local i lines line seen at n
	KREASON=
	for ((i = 0; i <= $1 * 20; i++)); do
		mapfile -t -s "$kpos" lines <"$KM"
		seen=0 n=0
		for line in "${lines[@]}"; do
			n=$((n + 1))
			if [[ $line == *"raw72-mark-$$-$nmark" ]]; then
				seen=1 at=$n
				continue
			fi
			[ $seen = 1 ] && [[ $line == *"$mod_re"* ]] &&
				KREASON+="${line#*;}"$'\n'
		done
		[ $seen = 1 ] && kpos=$((kpos + at - 1))
		[ -n "$KREASON" ] && return 0
		snooze 0.05
	done
	return 1
}

# kernel log rate limits are per call site, 10 per 5 s: keep refusals
# 0.3 s apart (no more than 6 blobs in a row share a call site; a reason
# missing all the same is tried again after the window)
last_k=0
pace() {
	local d=$(($(now_us) - last_k))
	[ "$d" -lt 300000 ] && snooze "0.$(printf '%06d' $((300000 - d)))"
	last_k=$(now_us)
}

checked=0
for fw in legacy nft; do
	for fam in 4 6; do
		v="$fw/ipv$fam"
		ipt=iptables-$fw
		[ $fam = 6 ] && ipt=ip6tables-$fw

		# the control: a correct --set-mss 1360 blob is accepted
		hex=${HEX[set-mss-1360]}
		if err=$($ipt -t mangle -A FORWARD -p tcp -j IPSECMSS --raw "$hex" 2>&1); then
			pass "raw-blob/$v/control-set-mss-1360"
		else
			fail "raw-blob/$v/control-set-mss-1360" "refused: $err"
		fi

		for c in "${bad[@]}"; do
			IFS='|' read -r name _ fams re <<<"$c"
			[[ $fams == *$fam* ]] || continue
			hex=${HEX[$name]}
			t="raw-blob/$v/$name"
			checked=$((checked + 1))
			pace
			kmark
			err=$($ipt -t mangle -A FORWARD -p tcp -j IPSECMSS --raw "$hex" 2>&1)
			rc=$?
			if [ $rc = 0 ]; then
				fail "$t" "blob $hex accepted by the kernel"
				$ipt -t mangle -D FORWARD -p tcp -j IPSECMSS --raw "$hex"
				continue
			fi
			if ! kreason 2; then
				# rate limited after all? once more, after the window
				snooze 5.5
				kmark
				err=$($ipt -t mangle -A FORWARD -p tcp -j IPSECMSS --raw "$hex" 2>&1)
				rc=$?
				kreason 2
			fi
			if [ $rc = 0 ]; then
				fail "$t" "blob $hex accepted by the kernel on a second try"
				$ipt -t mangle -D FORWARD -p tcp -j IPSECMSS --raw "$hex"
			elif [ -z "$KREASON" ]; then
				fail "$t" "refused (rc $rc: ${err%%$'\n'*}) without an xt_ipsecmss: line in the kernel log"
			elif ! [[ $KREASON =~ $re ]]; then
				fail "$t" "the kernel's reason does not name the problem /$re/: ${KREASON//$'\n'/;}"
			else
				pass "$t"
				echo "    $t: ${KREASON%%$'\n'*}"
			fi
		done

		for c in "${good[@]:1}"; do
			IFS='|' read -r name _ fams <<<"$c"
			[[ $fams == *$fam* ]] || continue
			kmark
			if ! err=$($ipt -t mangle -A FORWARD -p tcp -j IPSECMSS --raw "${HEX[$name]}" 2>&1); then
				kreason 1
				fail "raw-blob/$v/accepted-$name" "refused: ${err%%$'\n'*} ${KREASON//$'\n'/;}"
			fi
		done

		# one listing: every good blob back byte for byte, nothing else
		listing=$($ipt -t mangle -S FORWARD)
		for c in "${good[@]}"; do
			IFS='|' read -r name _ fams <<<"$c"
			[[ $fams == *$fam* ]] || continue
			if [[ $listing == *"--raw ${HEX[$name]}"* ]]; then
				pass "raw-blob/$v/accepted-$name"
			else
				fail "raw-blob/$v/accepted-$name" "not listed back as ${HEX[$name]}"
			fi
		done
		left=
		while read -r line; do
			[[ $line == *"--raw "* ]] || continue
			h=${line##*--raw }
			h=${h%% *}
			n=${NAME_OF[$h]:-unknown}
			case " ${good[*]} " in *" $n|"*) ;; *) left+=" $n($h)" ;; esac
		done <<<"$listing"
		if [ -z "$left" ]; then
			pass "raw-blob/$v/nothing-left-behind"
		else
			fail "raw-blob/$v/nothing-left-behind" "rules left in FORWARD:$left"
		fi
		# a rule is deleted by the same blob
		if $ipt -t mangle -D FORWARD -p tcp -j IPSECMSS --raw "${HEX[set-mss-1360]}" &&
			$ipt -t mangle -F FORWARD; then
			pass "raw-blob/$v/delete"
		else
			fail "raw-blob/$v/delete" "cannot delete the control rule by its blob"
		fi
	done
done
echo "raw-blob: $checked refusals checked, ${#good[@]} good blobs"
