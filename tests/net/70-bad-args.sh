#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Argument validation: bad IPSECMSS invocations under iptables-legacy and
# iptables-nft, IPv4 and IPv6.  Each must be refused (exit status != 0)
# with a message naming the problem (what iptables prints or, for what only
# the kernel can judge, the kernel's xt_ipsecmss:/x_tables: line), and must
# leave no rule behind (`-S` the same as before: a witness rule sits in
# FORWARD throughout).  A few good invocations are accepted, so the
# refusals are not an artefact.
#
# Process starts are slow under emulation: the checks run in one shell
# inside the test namespace, read the kernel log from a file that a
# `cat /dev/kmsg` fills, and list the table once per frontend and family
# after all its bad invocations (a rule left behind shows its options).

set -u
shopt -s nocasematch

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

if [ "${BAD70_INNER:-}" != 1 ]; then
	tmp=$(mktemp -d /tmp/bad70.XXXXXX)
	NS=bad70-$$
	kpid=
	trap '[ -n "$kpid" ] && kill $kpid 2>/dev/null; ip netns del "$NS" 2>/dev/null; rm -rf "$tmp"' EXIT
	t_start=$(date +%s)
	ip netns add "$NS" || { fail bad-args/setup "cannot create a namespace"; exit 1; }
	mkfifo "$tmp/fifo"
	cat /dev/kmsg >"$tmp/kmsg" &
	kpid=$!
	BAD70_INNER=1 BAD70_TMP=$tmp ip netns exec "$NS" bash "$0"
	rc=$?
	echo "bad-args: done in $(($(date +%s) - t_start))s"
	exit $rc
fi

tmp=$BAD70_TMP
KM=$tmp/kmsg
exec {SLEEPFD}<>"$tmp/fifo"
snooze() { read -r -t "$1" -u "$SLEEPFD" _ || :; }
now_us() { echo "${EPOCHREALTIME/./}"; }

# Table: name | chain | match | target options | regex the message must match
# | where: plugin (iptables' own message) or kernel (dmesg, xt_ipsecmss: or
# x_tables line; iptables' message also counts).  MAX is the family's
# largest MSS (65495 / 65475), MAX1 one more.  The options are split like a
# shell would split them, so "" is an empty argument.
cases=(
	'no-mode|FORWARD|-p tcp||mode|plugin'
	'two-modes-set-auto|FORWARD|-p tcp|--set-mss 1360 --auto|set-mss.*auto|auto.*set-mss|plugin'
	'two-modes-esp-overhead|FORWARD|-p tcp|--esp aes-gcm-16 --overhead 80 --mtu 1500|esp.*overhead|overhead.*esp|plugin'
	'set-mss-twice|FORWARD|-p tcp|--set-mss 1360 --set-mss 1300|set-mss|plugin'
	'set-mss-0|FORWARD|-p tcp|--set-mss 0|set-mss|plugin'
	'set-mss-too-large|FORWARD|-p tcp|--set-mss MAX1|set-mss|plugin'
	'set-mss-huge|FORWARD|-p tcp|--set-mss 99999999999999999999|set-mss|plugin'
	'set-mss-non-numeric|FORWARD|-p tcp|--set-mss abc|set-mss|plugin'
	'set-mss-empty|FORWARD|-p tcp|--set-mss ""|set-mss|plugin'
	'set-mss-negative|FORWARD|-p tcp|--set-mss -1|set-mss|plugin'
	'set-mss-missing-value|FORWARD|-p tcp|--set-mss|set-mss|plugin'
	'esp-unknown-suite|FORWARD|-p tcp|--esp aes-gcm-17 --mtu 1500|suite|aes-gcm-17|plugin'
	'natt-without-esp-set|FORWARD|-p tcp|--set-mss 1360 --natt|natt|plugin'
	'natt-without-esp-overhead|FORWARD|-p tcp|--overhead 80 --mtu 1500 --natt|natt|plugin'
	'outer-without-esp|FORWARD|-p tcp|--auto --outer ipv4|outer|plugin'
	'transport-without-esp|FORWARD|-p tcp|--overhead 80 --mtu 1500 --transport|transport|plugin'
	'outer-unknown|FORWARD|-p tcp|--esp aes-gcm-16 --mtu 1500 --outer ipv5|outer|plugin'
	'mtu-below-overhead|FORWARD|-p tcp|--overhead 1500 --mtu 1500|mtu|overhead|plugin'
	'mtu-too-small-esp|FORWARD|-p tcp|--esp aes-cbc-sha512 --natt --outer ipv6 --mtu 576|mtu|plugin'
	'mtu-below-576|FORWARD|-p tcp|--overhead 80 --mtu 575|mtu|plugin'
	'mtu-with-set-mss|FORWARD|-p tcp|--set-mss 1360 --mtu 1500|mtu|plugin'
	'mtu-negative|FORWARD|-p tcp|--esp aes-gcm-16 --mtu -1500|mtu|plugin'
	'overhead-negative|FORWARD|-p tcp|--overhead -80 --mtu 1500|overhead|plugin'
	'overhead-0|FORWARD|-p tcp|--overhead 0 --mtu 1500|overhead|plugin'
	'min-mss-negative|FORWARD|-p tcp|--auto --min-mss -1|min-mss|plugin'
	'min-mss-10|FORWARD|-p tcp|--auto --min-mss 10|min-mss|plugin'
	'min-mss-too-large|FORWARD|-p tcp|--overhead 80 --min-mss MAX1|min-mss|plugin'
	'min-mss-with-set-mss|FORWARD|-p tcp|--set-mss 1360 --min-mss 500|min-mss|plugin'
	'fallback-with-esp|FORWARD|-p tcp|--esp aes-gcm-16 --fallback-mss 1200|fallback|plugin'
	'fallback-too-large|FORWARD|-p tcp|--auto --fallback-mss MAX1|fallback|plugin'
	'auto-in-prerouting|PREROUTING|-p tcp|--auto|FORWARD|OUTPUT|POSTROUTING|kernel'
	'auto-in-input|INPUT|-p tcp|--auto|FORWARD|OUTPUT|POSTROUTING|kernel'
	'esp-route-in-prerouting|PREROUTING|-p tcp|--esp aes-gcm-16|FORWARD|OUTPUT|POSTROUTING|kernel'
	'overhead-route-in-input|INPUT|-p tcp|--overhead 80|FORWARD|OUTPUT|POSTROUTING|kernel'
	'not-tcp-udp|FORWARD|-p udp|--set-mss 1360|protocol|tcp|kernel'
	'not-tcp-no-proto|FORWARD||--set-mss 1360|protocol|tcp|kernel'
	'not-tcp-inverted|FORWARD|! -p tcp|--set-mss 1360|protocol|tcp|kernel'
)

# Accepted: each is added, then deleted again.
goods=(
	'FORWARD|-p tcp|--set-mss 1360'
	'FORWARD|-p tcp|--set-mss MAX'
	'FORWARD|-p tcp|--auto'
	'POSTROUTING|-p tcp|--auto --min-mss 88 --fallback-mss 1200'
	'PREROUTING|-p tcp|--esp aes-gcm-16 --mtu 1500 --natt'
	'INPUT|-p tcp|--overhead 80 --mtu 1500 --min-mss 500'
)


fill() { # fam text: MAX / MAX1 for the family
	local max=65495 t=$2
	[ "$1" = 6 ] && max=65475
	t=${t//MAX1/$((max + 1))}
	echo "${t//MAX/$max}"
}

kpos=0 nmark=0
kmark() {
	nmark=$((nmark + 1))
	echo "bad70-mark-$$-$nmark" >/dev/kmsg
}
# kreason SECONDS: KREASON = the xt_ipsecmss:/x_tables: lines after the
# last mark, waiting up to SECONDS for one
kreason() {
	local i lines line seen at n
	KREASON=
	for ((i = 0; i <= $1 * 20; i++)); do
		mapfile -t -s "$kpos" lines <"$KM"
		seen=0 n=0
		for line in "${lines[@]}"; do
			n=$((n + 1))
			if [[ $line == *"bad70-mark-$$-$nmark" ]]; then
				seen=1 at=$n
				continue
			fi
			[ $seen = 1 ] && [[ $line == *xt_ipsecmss:* || $line == *x_tables:* ]] &&
				KREASON+="${line#*;}"$'\n'
		done
		[ $seen = 1 ] && kpos=$((kpos + at - 1))
		[ -n "$KREASON" ] && return 0
		snooze 0.05
	done
	return 1
}

# per-callsite kernel log rate limit (10 per 5 s): kernel refusals 0.55 s apart
last_k=0
pace() {
	local d=$(($(now_us) - last_k))
	[ "$d" -lt 550000 ] && snooze "0.$(printf '%06d' $((550000 - d)))"
	last_k=$(now_us)
}

for fw in legacy nft; do
	for fam in 4 6; do
		v="$fw/ipv$fam"
		ipt=iptables-$fw
		[ $fam = 6 ] && ipt=ip6tables-$fw
		# the witness: a good rule that must survive every refusal
		if ! err=$($ipt -t mangle -A FORWARD -p tcp -j IPSECMSS --set-mss 1300 2>&1); then
			fail "bad-args/$v/witness" "a good rule was refused: $err"
			continue
		fi
		base=$($ipt -t mangle -S)
		if [[ $base == *"-A FORWARD -p tcp -j IPSECMSS --set-mss 1300"* ]]; then
			pass "bad-args/$v/witness"
		else
			fail "bad-args/$v/witness" "not listed as added: ${base//$'\n'/;}"
		fi

		for c in "${cases[@]}"; do
			IFS='|' read -r name chain match opts rest <<<"$c"
			where=${rest##*|}
			re=${rest%|*}
			opts=$(fill $fam "$opts")
			eval "set -- $match -j IPSECMSS $opts"
			t="bad-args/$v/$name"
			if [ "$where" = kernel ]; then
				pace
				kmark
			fi
			err=$($ipt -t mangle -A "$chain" "$@" 2>&1)
			rc=$?
			msg=${err%%$'\n'*}
			if [ $rc = 0 ]; then
				fail "$t" "accepted: -A $chain $match -j IPSECMSS $opts"
				$ipt -t mangle -D "$chain" "$@" 2>/dev/null
				continue
			fi
			if [ "$where" = plugin ]; then
				if [ -z "$err" ]; then
					fail "$t" "refused without a message"
				elif ! [[ $err =~ $re ]]; then
					fail "$t" "the message does not name the problem /$re/: $msg"
				else
					pass "$t"
				fi
				continue
			fi
			if ! kreason 2; then
				# rate limited after all? once more, after the window
				snooze 5.5
				kmark
				err=$($ipt -t mangle -A "$chain" "$@" 2>&1)
				rc=$?
				msg=${err%%$'\n'*}
				kreason 2
			fi
			if [ $rc = 0 ]; then
				fail "$t" "accepted on a second try"
				$ipt -t mangle -D "$chain" "$@" 2>/dev/null
			elif [ -z "$KREASON" ]; then
				fail "$t" "refused (rc $rc: $msg) but no xt_ipsecmss:/x_tables: line in the kernel log"
			elif ! [[ $err$'\n'$KREASON =~ $re ]]; then
				fail "$t" "refused, but neither iptables nor the kernel names the problem /$re/: $msg / ${KREASON//$'\n'/;}"
			else
				pass "$t"
				echo "    $t: ${KREASON%%$'\n'*}"
			fi
		done

		after=$($ipt -t mangle -S)
		if [ "$after" = "$base" ]; then
			pass "bad-args/$v/nothing-left-behind"
		else
			fail "bad-args/$v/nothing-left-behind" "the table changed: before ${base//$'\n'/;} after ${after//$'\n'/;}"
		fi

		for g in "${goods[@]}"; do
			IFS='|' read -r chain match opts <<<"$g"
			opts=$(fill $fam "$opts")
			eval "set -- $match -j IPSECMSS $opts"
			if ! err=$($ipt -t mangle -A "$chain" "$@" 2>&1); then
				fail "bad-args/$v/accepted:$chain:${opts// /}" "a good rule was refused: ${err%%$'\n'*}"
			else
				pass "bad-args/$v/accepted:$chain:${opts// /}"
			fi
		done
		# deleted by the same spec
		if $ipt -t mangle -D FORWARD -p tcp -j IPSECMSS --set-mss 1300 &&
			! [[ $($ipt -t mangle -S FORWARD) == *"--set-mss 1300"* ]]; then
			pass "bad-args/$v/delete-by-spec"
		else
			fail "bad-args/$v/delete-by-spec" "the witness is still there after -D"
		fi
		$ipt -t mangle -F
	done
done
echo "bad-args: ${#cases[@]} bad and ${#goods[@]} good invocations per frontend and family"
