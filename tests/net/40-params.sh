#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Module parameters of xt_ipsecmss:
#   - each has a description in modinfo; defaults min_mss_ipv4=536,
#     min_mss_ipv6=1220, insert_missing=Y, log_rewrites=N;
#   - out-of-range or non-numeric writes under /sys/module/.../parameters
#     fail and leave the old value; in-range writes stick;
#   - insmod with an out-of-range value fails; with valid values it loads
#     with them;
#   - insert_missing=N: a SYN without MSS passes as it is (no_mss);
#   - log_rewrites=Y: a rewrite leaves a kernel log line with the old and
#     the new MSS; with N it leaves none.

set -u
. "$(dirname "$0")/lib.sh"

M=xt_ipsecmss
P=/sys/module/$M/parameters

# Builtins only where a loop runs: every process costs under emulation.
# rd PARAM: the parameter's value in $v.
rd() { v=; read -r v <"$P/$1"; }
# wr PARAM VALUE: write like a user would; status of the write.
wr() { { printf '%s\n' "$2" >"$P/$1"; } 2>/dev/null; }

# --- descriptions and defaults ------------------------------------------------
parm=$(modinfo -F parm "$IPSECMSS_KO" 2>&1)
declare -A DEFAULT=([min_mss_ipv4]=536 [min_mss_ipv6]=1220 [insert_missing]=Y [log_rewrites]=N)
for p in min_mss_ipv4 min_mss_ipv6 insert_missing log_rewrites; do
	desc=
	while IFS= read -r line; do
		# "name:description (type)"
		[ "${line%%:*}" = "$p" ] || continue
		desc=${line#*:}
		desc=${desc% (*)}
		desc=${desc//[[:space:]]/}
	done <<<"$parm"
	if [ -n "$desc" ]; then
		pass "params-$p-described"
	else
		fail "params-$p-described" "modinfo -F parm has no description for $p: ${parm//$'\n'/|}"
	fi
	rd "$p"
	if [ "$v" = "${DEFAULT[$p]}" ]; then
		pass "params-$p-default"
	else
		fail "params-$p-default" "$P/$p reads '$v', want ${DEFAULT[$p]}"
	fi
done

# --- writes at run time -------------------------------------------------------
# refused NAME PARAM VALUE...: every write fails and the value stays.
refused() {
	local name=$1 p=$2 x old bad=
	shift 2
	rd "$p"
	old=$v
	for x in "$@"; do
		if wr "$p" "$x"; then
			rd "$p"
			bad="$bad '$x' accepted (now $v);"
			wr "$p" "$old"
		elif rd "$p" && [ "$v" != "$old" ]; then
			bad="$bad '$x' refused but the value changed to $v;"
			wr "$p" "$old"
		fi
	done
	if [ -z "$bad" ]; then pass "$name"; else fail "$name" "${bad# }"; fi
}

# accepted NAME PARAM VALUE: the write works and reads back.
accepted() {
	if ! wr "$2" "$3"; then
		fail "$1" "writing '$3' to $2 failed"
	elif rd "$2" && [ "$v" != "$3" ]; then
		fail "$1" "wrote '$3' to $2, reads back '$v'"
	else
		pass "$1"
	fi
}

refused params-min_mss_ipv4-runtime-out-of-range min_mss_ipv4 0 10 70000 -1 abc ''
refused params-min_mss_ipv6-runtime-out-of-range min_mss_ipv6 0 10 70000 -1 abc ''
refused params-insert_missing-runtime-not-bool insert_missing maybe 2
refused params-log_rewrites-runtime-not-bool log_rewrites maybe 2
accepted params-min_mss_ipv4-runtime-in-range min_mss_ipv4 1000
accepted params-min_mss_ipv6-runtime-in-range min_mss_ipv6 1300
accepted params-insert_missing-runtime-N insert_missing N
wr min_mss_ipv4 536; wr min_mss_ipv6 1220; wr insert_missing Y

# Where the ranges end (the contract leaves the exact bounds to the
# module): reported, not judged.
for p in min_mss_ipv4 min_mss_ipv6; do
	acc='' ref=''
	for x in 87 88 1219 1220 65475 65476 65495 65496; do
		if wr "$p" "$x"; then acc="$acc $x"; else ref="$ref $x"; fi
	done
	echo "INFO: $p accepts:${acc:- none}; refuses:${ref:- none}"
	wr "$p" "${DEFAULT[$p]}"
done

# --- values at load time ------------------------------------------------------
if ! rmmod $M 2>"$NET_TMP/rmmod.err"; then
	fail params-load "rmmod $M: $(cat "$NET_TMP/rmmod.err")"
else
	for arg in min_mss_ipv4=10 min_mss_ipv6=10 min_mss_ipv6=70000 insert_missing=maybe; do
		if insmod "$IPSECMSS_KO" "$arg" 2>/dev/null; then
			fail "params-load-refuses-$arg" "insmod $M $arg loaded"
			rmmod $M
		elif [ -d /sys/module/$M ]; then
			fail "params-load-refuses-$arg" "insmod failed but $M is loaded"
		else
			pass "params-load-refuses-$arg"
		fi
	done
	if insmod "$IPSECMSS_KO" min_mss_ipv4=1000 min_mss_ipv6=1300 insert_missing=N log_rewrites=Y 2>"$NET_TMP/insmod.err"; then
		got=
		for p in min_mss_ipv4 min_mss_ipv6 insert_missing log_rewrites; do
			rd $p
			got+=" $v"
		done
		got=${got# }
		ok_if params-load-takes-values "loaded with 1000 1300 N Y, reads $got" [ "$got" = "1000 1300 N Y" ]
		rmmod $M
	else
		fail params-load-takes-values "insmod with valid values failed: $(cat "$NET_TMP/insmod.err")"
	fi
	# The harness expects the module loaded (with defaults) when we end.
	insmod "$IPSECMSS_KO" || fail params-reload "insmod $IPSECMSS_KO failed"
fi

# --- what they do -------------------------------------------------------------
if ! net_setup; then
	fail params-setup "could not build the client/gw/server namespaces"
	exit 1
fi
pkt_start
gw_rules params-rule-v4 nft 4 "-i g0 -p tcp -j IPSECMSS --set-mss 1360"
gw_rules params-rule-v6 nft 6 "-i g0 -p tcp -j IPSECMSS --set-mss 1360"

declare -A INS=([4]=536 [6]=1220)
wr insert_missing N
for fam in 4 6; do
	pkt send fam=$fam
	expect params-v$fam-insert_missing-N "$PKT_OUT" arrived=1 same=1 mss=none csum=ok \
		delta=no_mss:1
done
wr insert_missing Y
for fam in 4 6; do
	pkt send fam=$fam
	expect params-v$fam-insert_missing-Y "$PKT_OUT" arrived=1 mss=${INS[$fam]} csum=ok \
		delta=inserted:1
done

# log_rewrites: the kernel log after a marker of our own.
mark() { echo "ipsecmss-net-test: $1" >/dev/kmsg; }
# logged MARK: in $logged, the lines after MARK naming both 1460 and 1360.
logged() {
	local line seen=
	logged=
	while IFS= read -r line; do
		if [ -z "$seen" ]; then
			[[ $line == *"ipsecmss-net-test: $1" ]] && seen=1
		elif [[ $line == *1460* && $line == *1360* ]]; then
			logged+="$line|"
		fi
	done < <(dmesg)
}

mark log-off
pkt send fam=4 opts=mss:1460
expect params-log_rewrites-N-rewrites "$PKT_OUT" mss=1360 delta=rewritten:1
logged log-off
ok_if params-log_rewrites-N-silent "logged: $logged" [ -z "$logged" ]

wr log_rewrites Y
for fam in 4 6; do
	mark log-on-$fam
	pkt send fam=$fam opts=mss:1460
	expect params-v$fam-log_rewrites-Y-rewrites "$PKT_OUT" mss=1360 delta=rewritten:1
	# Printed from the packet path, maybe on the other CPU: give it a moment.
	for _ in 1 2 3 4 5; do
		logged log-on-$fam
		[ -n "$logged" ] && break
		sleep 0.2
	done
	ok_if params-v$fam-log_rewrites-Y-logs "no kernel log line with 1460 and 1360 after the rewrite" \
		[ -n "$logged" ]
	echo "INFO: log line: $logged"
done
wr log_rewrites N
exit $((NET_FAILS > 0))
