#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tests/sanitized/check-config.sh FRAGMENT DOTCONFIG
#
# Every option FRAGMENT asks for must be in DOTCONFIG as asked:
#   CONFIG_X=V               DOTCONFIG has exactly CONFIG_X=V
#   # CONFIG_X is not set    DOTCONFIG does not set CONFIG_X
# Kconfig silently drops an option whose dependencies are not met (or whose
# name changed); this turns that into an error.  Prints one line per
# mismatch and exits 1 if there is any.

set -eu

[ $# -eq 2 ] || { echo "usage: $0 FRAGMENT DOTCONFIG" >&2; exit 2; }
frag=$1 dotconfig=$2
[ -r "$frag" ] || { echo "check-config: cannot read $frag" >&2; exit 2; }
[ -r "$dotconfig" ] || { echo "check-config: cannot read $dotconfig" >&2; exit 2; }

awk -v frag="$frag" '
# the resulting .config: name -> value ("" when "is not set")
FNR == NR {
	if ($0 ~ /^CONFIG_[A-Za-z0-9_]+=/) {
		i = index($0, "=")
		got[substr($0, 1, i - 1)] = substr($0, i + 1)
	}
	next
}
/^CONFIG_[A-Za-z0-9_]+=/ {
	i = index($0, "=")
	name = substr($0, 1, i - 1); want = substr($0, i + 1)
	n++
	if (!(name in got)) {
		print "check-config: " frag ":" FNR ": " name "=" want " requested, not set in the result"
		bad++
	} else if (got[name] != want) {
		print "check-config: " frag ":" FNR ": " name "=" want " requested, result has " name "=" got[name]
		bad++
	}
	next
}
/^# CONFIG_[A-Za-z0-9_]+ is not set$/ {
	name = $2
	n++
	if (name in got && got[name] != "n") {
		print "check-config: " frag ":" FNR ": " name " must not be set, result has " name "=" got[name]
		bad++
	}
	next
}
/^[ \t]*(#.*)?$/ { next }
{ print "check-config: " frag ":" FNR ": cannot parse: " $0; bad++ }
END {
	if (bad) { print "check-config: " bad " of " n " requested options differ"; exit 1 }
	print "check-config: all " n " requested options are in the result"
}' "$dotconfig" "$frag"
