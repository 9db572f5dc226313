#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Split VM test scripts over several VMs that run at once.
#
#   tests/vm/balance.sh JOBS SCRIPT...
#
# Prints min(JOBS, number of scripts) lines, one per VM, each the
# space-separated scripts that VM runs.  Longest first, each to the least
# loaded VM, weighed by the script's "# vm-timeout:" (60 s when it declares
# none): most of a script's time is spent waiting out stalls and timeouts,
# which its timeout roughly follows.  Used by tests/check.sh and
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
done < <(for s in "$@"; do
	w=$(head -n 20 "$s" | sed -n 's/^#[[:space:]]*vm-timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
	echo "${w:-60} $s"
done | sort -rn)
for ((i = 0; i < jobs; i++)); do
	echo "${group[i]}"
done
