#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Split VM test scripts over several VMs that run at once.
#
#   tests/vm/balance.sh JOBS SCRIPT...
#
# Prints min(JOBS, number of scripts) lines, one per VM, each the
# space-separated scripts that VM runs.  Longest first, each to the least
# loaded VM, weighed by the script's measured time for BALANCE_KIND
# ("stock", the default, or "sanitized") in tests/vm/times.txt, else by its
# "# vm-timeout:" (60 s when it declares none), which roughly follows the
# stalls and timeouts a script waits out.  Used by tests/check.sh and
# tests/sanitized/check.sh.

set -eu
jobs=${1:?usage: balance.sh JOBS SCRIPT...}
shift
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
[ "$jobs" -le $# ] || jobs=$#
[ "$jobs" -ge 1 ] || exit 0

declare -a load group
for ((i = 0; i < jobs; i++)); do load[i]=0; group[i]=; done
while read -r w s; do
	best=0
	for ((i = 1; i < jobs; i++)); do
		[ "${load[i]}" -lt "${load[best]}" ] && best=$i
	done
	load[best]=$((load[best] + w))
	group[best]="${group[best]:+${group[best]} }$s"
done < <(kind=${BALANCE_KIND:-stock}
	times=$(dirname "$0")/times.txt
	declare -A measured=()
	if [ -r "$times" ]; then
		while read -r k n t; do
			[ "$k" = "$kind" ] && [[ "$t" =~ ^[0-9]+$ ]] && measured[$n]=$t
		done <"$times"
	fi
	for s in "$@"; do
		n=${s##*/}
		n=${n%.sh}
		w=${measured[$n]:-}
		[ -n "$w" ] || w=$(head -n 20 "$s" | sed -n 's/^#[[:space:]]*vm-timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
		echo "${w:-60} $s"
	done | sort -rn)
for ((i = 0; i < jobs; i++)); do
	echo "${group[i]}"
done
