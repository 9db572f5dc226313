#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Rules as an operator handles them, iptables and ip6tables, legacy and nft:
#   - the seed's rule ending in `-j IPSECMSS --set-mss 1360` goes in, shows
#     in iptables-save as written and in `-L` as `set-mss 1360`;
#   - iptables-restore of that save gives the same save again;
#   - a rule without `-p tcp` (or with `-p udp`) is refused with a message
#     and leaves no rule behind.

set -u
. "$(dirname "$0")/lib.sh"
trap 'rm -rf "$NET_TMP"' EXIT

# Each frontend in a namespace of its own, entered once (unshare) rather
# than once per command (ip netns exec): commands are slow under emulation.
if [ "${1:-}" != --inner ]; then
	rc=0
	for fw in legacy nft; do
		unshare --net "$BASH" "$0" --inner $fw || rc=1
	done
	exit $rc
fi

SEED='-A FORWARD -o eth0 -p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss 1361:1536 -j IPSECMSS --set-mss 1360'
PLAIN='-A FORWARD -i eth1 -p tcp -j IPSECMSS --set-mss 1000'

# Builtins only in here: every process costs under emulation.
# norm TEXT: in $n, TEXT without comments (they hold dates) and chain
# counters, lines joined by '|'.
norm() {
	local line
	n=
	while IFS= read -r line; do
		[[ $line == '#'* ]] && continue
		[[ $line == :* ]] && line=${line% \[*\]}
		n+="$line|"
	done <<<"$1"
}
# has TEXT LINE: TEXT holds LINE as a whole line.
has() { [[ $'\n'"$1"$'\n' == *$'\n'"$2"$'\n'* ]]; }

# names_protocol TEXT: TEXT says the rule needs TCP.
names_protocol() { [[ ${1,,} == *tcp* || ${1,,} == *protocol* ]]; }
# after_mark MARK: the kernel log lines after our MARK, joined by '|'.
after_mark() {
	local line='' seen='' out=''
	while IFS= read -r line; do
		if [ -n "$seen" ]; then
			out+="$line|"
		elif [[ $line == *"$1" ]]; then
			seen=1
		fi
	done < <(dmesg)
	echo "$out"
}

fw=$2
for fam in 4 6; do
	t=v$fam-$fw
	ipt=$(ipt_cmd $fw $fam)
	save="$ipt-save" restore="$ipt-restore"

	# shellcheck disable=SC2086 # the rules are word lists
	if ! err=$($ipt -t mangle $SEED 2>&1) || ! err=$($ipt -t mangle $PLAIN 2>&1); then
		fail "rules-$t-add" "$ipt -t mangle: $err"
		continue
	fi
	pass "rules-$t-add"

	s1=$("$save" -t mangle 2>&1)
	if has "$s1" "$SEED" && has "$s1" "$PLAIN"; then
		pass "rules-$t-save"
	else
		fail "rules-$t-save" "$save -t mangle lacks the rules as written: ${s1//$'\n'/|}"
	fi

	list=$($ipt -t mangle -L FORWARD -n 2>&1)
	if [[ $'\n'$list == *$'\n'IPSECMSS\ *set-mss\ 1360* &&
		$'\n'$list == *$'\n'IPSECMSS\ *set-mss\ 1000* ]]; then
		pass "rules-$t-list"
	else
		fail "rules-$t-list" "$ipt -L shows no 'IPSECMSS ... set-mss N': ${list//$'\n'/|}"
	fi

	# iptables-restore replaces the table's rules with the saved ones.
	s2=
	if ! err=$("$restore" <<<"$s1" 2>&1); then
		fail "rules-$t-restore" "$restore of the saved rules: $err"
	else
		pass "rules-$t-restore"
		s2=$("$save" -t mangle 2>&1)
		norm "$s1"
		n1=$n
		norm "$s2"
		if [ "$n1" = "$n" ]; then
			pass "rules-$t-round-trip"
		else
			fail "rules-$t-round-trip" "save after restore differs: before $n1 after $n"
		fi
	fi

	# Refused: no protocol, or not TCP; with a message that says why (on
	# the terminal, or in the kernel log the terminal points to).
	for proto in "" "-p udp"; do
		if [ -z "$proto" ]; then
			name=rules-$t-refused-without-p-tcp
		else
			name=rules-$t-refused-p-udp
		fi
		mark="ipsecmss-net-test: $name"
		echo "$mark" >/dev/kmsg
		# shellcheck disable=SC2086
		err=$($ipt -t mangle -A FORWARD $proto -j IPSECMSS --set-mss 1360 2>&1)
		rc=$?
		if [ $rc = 0 ]; then
			fail "$name" "accepted"
		elif [ -z "$err" ]; then
			fail "$name" "refused without a message"
		elif ! names_protocol "$err" && ! names_protocol "$(after_mark "$mark")"; then
			fail "$name" "the message does not name the protocol: $err | kernel: $(after_mark "$mark")"
		else
			pass "$name"
		fi
	done
	after=$("$save" -t mangle 2>&1)
	norm "${s2:-$s1}"
	n1=$n
	norm "$after"
	if [ "$n1" = "$n" ]; then
		pass "rules-$t-refused-leave-no-rule"
	else
		fail "rules-$t-refused-leave-no-rule" "the rules changed: before $n1 after $n"
	fi
done
exit $((NET_FAILS > 0))
