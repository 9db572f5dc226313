#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module parameters, the exact limits (40-params.sh has the defaults, the
# descriptions, a first bad value of each kind and what the parameters do;
# it only reports where the ranges end).  Limits: min_mss_ipv4 88..65495,
# min_mss_ipv6 88..65475 (88 = the stack's TCP_MIN_MSS; 65535 minus the IP
# and TCP headers, the ABI's XT_IPSECMSS_MSS_MAX4/6); insert_missing and
# log_rewrites are booleans.  Each bound and the value past it, overflowing
# numbers, and malformed values: refused at a runtime write under /sys (the
# write fails, a value of our own set before stays) and at load (insmod
# fails, the module is not loaded, the kernel log names the parameter, even
# when the other parameters are good).  Leaves the module loaded with its
# defaults.

set -u
. "$(dirname "$0")/lib.sh"

mod=xt_ipsecmss
P=/sys/module/$mod/parameters
t_start=$(date +%s)
loaded() { [ -d "/sys/module/$mod" ]; }
# val NAME: a parameter's value, read without starting a process
val() {
	local v=
	read -r v <"$P/$1" 2>/dev/null
	echo "$v"
}

# --- runtime writes --------------------------------------------------------

# set_ok NAME VALUE READBACK: the write succeeds and reads back
set_ok() {
	local t="params/write-ok/$1=$2" got
	if ! printf '%s' "$2" >"$P/$1" 2>"$NET_TMP/err"; then
		fail "$t" "refused: $(cat "$NET_TMP/err")"
		return 1
	fi
	got=$(val "$1")
	if [ "$got" = "$3" ]; then
		pass "$t"
	else
		fail "$t" "reads back $got, want $3"
		return 1
	fi
}

# set_bad NAME VALUE: the write fails and the value before it stays
set_bad() {
	local t="params/write-refused/$1=$2" old got
	old=$(val "$1")
	if printf '%s' "$2" >"$P/$1" 2>/dev/null; then
		fail "$t" "accepted (now $(val "$1"), was $old)"
		printf '%s' "$old" >"$P/$1"
		return
	fi
	got=$(val "$1")
	if [ "$got" = "$old" ]; then
		pass "$t"
	else
		fail "$t" "refused, but the value changed from $old to $got"
	fi
}

if ! loaded; then
	fail params/loaded "the harness did not load $mod"
	exit 1
fi
# a value of our own first, so "kept" is not just "still the default"
set_ok min_mss_ipv4 1000 1000
for v in 87 0 10 65496 65535 65536 4294967295 4294967833 99999999999 -1 -536 abc 1000x ' ' 5.5; do
	set_bad min_mss_ipv4 "$v"
done
set_ok min_mss_ipv4 88 88
set_ok min_mss_ipv4 65495 65495
set_ok min_mss_ipv4 536 536

set_ok min_mss_ipv6 1300 1300
for v in 87 0 65476 65495 65535 4294967296 -1 -1220 abc 1220x ' ' 1e3; do
	set_bad min_mss_ipv6 "$v"
done
set_ok min_mss_ipv6 88 88
set_ok min_mss_ipv6 65475 65475
set_ok min_mss_ipv6 1220 1220

for p in insert_missing log_rewrites; do
	set_ok $p N N
	for v in maybe 2 -1 x ' ' Z; do
		set_bad $p "$v"
	done
	set_ok $p Y Y
	for v in maybe 2 -1 x; do
		set_bad $p "$v"
	done
	set_ok $p 0 N
	set_ok $p 1 Y
done
printf N >"$P/log_rewrites"
printf Y >"$P/insert_missing"

# --- load time ------------------------------------------------------------

# unload: no rule refers to the module here
unload() {
	for _ in $(seq 1 25); do
		rmmod $mod 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

if unload; then
	pass params/rmmod
else
	fail params/rmmod "$(rmmod $mod 2>&1), refcnt $(cat /sys/module/$mod/refcnt 2>/dev/null)"
	exit 1
fi

# load_bad ARGS...: insmod fails, nothing loaded, the log names the parameter
# (@NAME first: the parameter to look for, when it is not the first one)
load_bad() {
	local pname=${1%%=*}
	case "$1" in @*) pname=${1#@}; shift ;; esac
	local t="params/load-refused/$*" out klog mark="75-params: load $*"
	echo "$mark" >/dev/kmsg
	if out=$(insmod "$IPSECMSS_KO" "$@" 2>&1); then
		fail "$t" "loaded with $*: $(for p in min_mss_ipv4 min_mss_ipv6 insert_missing log_rewrites; do printf '%s=%s ' $p "$(val $p)"; done)"
		unload
		return
	fi
	klog=$(dmesg)
	klog=${klog##*"$mark"}
	if loaded; then
		fail "$t" "insmod failed ($out) but the module is loaded"
		unload
	elif [[ $klog != *"$pname"* ]]; then
		fail "$t" "refused ($out), but the kernel log does not name $pname: ${klog//$'\n'/;}"
	else
		pass "$t"
		klog=${klog#*$'\n'}
		echo "    $t: ${klog%%$'\n'*}"
	fi
}

for v in 87 0 65496 -1 1e3 4294967296 4294967833; do
	load_bad min_mss_ipv4=$v
done
for v in 87 65476 65495 -5 x 4294967296; do
	load_bad min_mss_ipv6=$v
done
for v in 2 -1 x; do
	load_bad insert_missing=$v
	load_bad log_rewrites=$v
done
# one bad among good ones is enough to refuse the load
load_bad @min_mss_ipv6 min_mss_ipv4=600 insert_missing=1 min_mss_ipv6=10

# the limits themselves load
t=params/load-ok/limits
if out=$(insmod "$IPSECMSS_KO" min_mss_ipv4=88 min_mss_ipv6=65475 insert_missing=0 log_rewrites=1 2>&1); then
	got="$(val min_mss_ipv4) $(val min_mss_ipv6) $(val insert_missing) $(val log_rewrites)"
	if [ "$got" = "88 65475 N Y" ]; then
		pass $t
	else
		fail $t "loaded, but the values read back as $got (want 88 65475 N Y)"
	fi
	unload
else
	fail $t "refused: $out"
fi
t=params/load-ok/max4-min6
if out=$(insmod "$IPSECMSS_KO" min_mss_ipv4=65495 min_mss_ipv6=88 2>&1); then
	got="$(val min_mss_ipv4) $(val min_mss_ipv6)"
	[ "$got" = "65495 88" ] && pass $t || fail $t "values read back as $got"
	unload
else
	fail $t "refused: $out"
fi

# back to the defaults for the harness
if insmod "$IPSECMSS_KO" 2>"$NET_TMP/err" && loaded &&
	[ "$(val min_mss_ipv4) $(val min_mss_ipv6)" = "536 1220" ]; then
	pass params/reload-defaults
else
	fail params/reload-defaults "$(cat "$NET_TMP/err")"
fi
echo "params: done in $(($(date +%s) - t_start))s"
