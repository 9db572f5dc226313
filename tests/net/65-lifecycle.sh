#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lifecycle under load: SYNs flow through the gateway from two generators
# pinned to CPU 0 and CPU 1 while, cycle after cycle, rules are added,
# replaced with iptables-restore and removed (iptables-legacy and
# iptables-nft in turn), namespaces with counters and rules of their own
# come and go, and the module is unloaded and loaded again.  Each cycle:
# the module's refcount follows the rules and is back to 0 once they are
# gone, rmmod succeeds, the counters file goes and comes back fresh, a new
# namespace has its own fresh counters and is deleted with rules in it; at
# the end nothing has warned.
#
# LIFECYCLE_CYCLES overrides the number of cycles (default 12).
#
# Process starts are slow under emulation: the cycles run in one shell
# inside the gateway's namespace, reading counters and the refcount with
# shell builtins.

set -u
mod=xt_ipsecmss
REF=/sys/module/$mod/refcnt

if [ "${LC65_INNER:-}" != 1 ]; then
	. "$(dirname "$0")/lib.sh"
	CYCLES=${LIFECYCLE_CYCLES:-12}
	t_start=$(date +%s)
	kmsg_mark="65-lifecycle: start $$"
	echo "$kmsg_mark" >/dev/kmsg 2>/dev/null
	F0='' F1=''
	# Base chains at every IPv4 and IPv6 hook in the root namespace for
	# the whole run, as a gateway's own firewall has: they keep the
	# kernel's nf_hooks_needed static keys on.  Without them every cycle
	# turns those keys off and on, and the kernel live-patches the
	# NF_HOOK() jump labels in its own forwarding code (int3 text poking)
	# while the generators' SYNs run through it; on the 7.3 sanitizer
	# kernel under TCG that once ended in "Oops: int3" in ip6_forward(),
	# outside this module.  This test is about the module's lifecycle, not
	# the kernel's text patching.
	KEEP65=ipsecmss_keep65
	keep_hooks() {
		local h chains=''
		for h in prerouting input forward output postrouting; do
			chains+="chain $h { type filter hook $h priority 0; policy accept; }"$'\n'
		done
		nft -f - <<-EOF
			table inet $KEEP65 {
			$chains}
		EOF
	}
	cleanup65() {
		touch "$NET_TMP/stop" 2>/dev/null
		[ -n "$F0" ] && wait "$F0" 2>/dev/null
		[ -n "$F1" ] && wait "$F1" 2>/dev/null
		nft delete table inet "$KEEP65" 2>/dev/null
		net_cleanup
		# the harness unloads the module after us: leave it one
		[ -d /sys/module/$mod ] || insmod "$IPSECMSS_KO" 2>/dev/null
	}
	if ! net_setup; then
		fail lifecycle/setup "could not build the namespaces"
		exit 1
	fi
	trap cleanup65 EXIT
	mkfifo "$NET_TMP/fifo"
	keep_hooks || fail lifecycle/keep-hooks "nft refused the root namespace's base chains"

	# two SYN generators, one per vCPU
	ncpu=$(nproc)
	for cpu in 0 1; do
		pin=$cpu
		[ "$ncpu" -gt 1 ] || pin=0
		taskset -c $pin "$PY" -S "$LIB_DIR/hostile.py" flood --netns "$NS_C" \
			--ifname c0 --src-mac "$MAC_C" --dst-mac "$MAC_G0" \
			--src4 "$P4" --dst4 "$S4" --src6 "$P6" --dst6 "$S6" \
			--stop "$NET_TMP/stop" --pps 150 --seed $((cpu + 1)) \
			>"$NET_TMP/flood$cpu" 2>&1 &
		eval "F$cpu=$!"
	done
	[ "$ncpu" -gt 1 ] || echo "lifecycle: only $ncpu CPU: both generators on CPU 0"

	LC65_INNER=1 LC65_TMP=$NET_TMP LC65_CYCLES=$CYCLES \
		ip netns exec "$NS_G" bash "$0"

	touch "$NET_TMP/stop"
	wait "$F0" 2>/dev/null
	wait "$F1" 2>/dev/null
	F0='' F1=''
	s0=$(sed -n 's/^flood sent=//p' "$NET_TMP/flood0")
	s1=$(sed -n 's/^flood sent=//p' "$NET_TMP/flood1")
	if [ -n "$s0" ] && [ -n "$s1" ] && [ "$s0" -gt 0 ] && [ "$s1" -gt 0 ]; then
		pass lifecycle/load-on-two-cpus
	else
		fail lifecycle/load-on-two-cpus "generators: cpu0 '$(tail -1 "$NET_TMP/flood0")' cpu1 '$(tail -1 "$NET_TMP/flood1")'"
	fi
	if [ -d /sys/module/$mod ] && [ "$(cat $REF)" = 0 ]; then
		pass lifecycle/loaded-at-end
	else
		fail lifecycle/loaded-at-end "module $([ -d /sys/module/$mod ] && echo "refcnt $(cat $REF)" || echo "not loaded")"
	fi
	pat='WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|Call Trace|refcount_t|leak'
	new=$(dmesg | sed -n "/$kmsg_mark/,\$p" | grep -E "$pat")
	if [ -z "$new" ]; then
		pass lifecycle/kernel-log-clean
	else
		fail lifecycle/kernel-log-clean "$(echo "$new" | head -1) ($(echo "$new" | wc -l) lines)"
	fi
	echo "lifecycle: $CYCLES cycles, SYNs sent ${s0:-?} + ${s1:-?}, in $(($(date +%s) - t_start))s"
	exit 0
fi

# --- inside the gateway's namespace -------------------------------------------
pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }
exec {SLEEPFD}<>"$LC65_TMP/fifo"
snooze() { read -r -t "$1" -u "$SLEEPFD" _ || :; }

refcnt() {
	local v=absent
	[ -r $REF ] && read -r v <$REF
	echo "$v"
}
# counter NAME of this namespace, empty when there is no counters file
counter() {
	local k v
	[ -r /proc/net/stat/ipsecmss ] || return 0
	while read -r k v; do
		[ "$k" = "$1" ] && echo "$v" && return 0
	done </proc/net/stat/ipsecmss
}
# wait_refcnt N: up to 5 s (namespace and nf_tables teardown is deferred)
wait_refcnt() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(refcnt)" = "$1" ] && return 0
		snooze 0.1
	done
	return 1
}
# wait_rewritten OLD: the "rewritten" counter moves past OLD within 4 s
wait_rewritten() {
	local i v
	for ((i = 0; i < 40; i++)); do
		v=$(counter rewritten)
		[ -n "$v" ] && [ "$v" -gt "$1" ] && return 0
		snooze 0.1
	done
	return 1
}

restore_set() { # FW FAM: the mangle table in one step
	local c=iptables
	[ "$2" = 6 ] && c=ip6tables
	"$c-$1-restore" <<-EOF
		*mangle
		:PREROUTING ACCEPT [0:0]
		:INPUT ACCEPT [0:0]
		:FORWARD ACCEPT [0:0]
		:OUTPUT ACCEPT [0:0]
		:POSTROUTING ACCEPT [0:0]
		-A FORWARD -i g0 -p tcp -j IPSECMSS --esp aes-gcm-16 --mtu 1500
		-A FORWARD -i g0 -p tcp -j IPSECMSS --overhead 80 --mtu 1500
		-A POSTROUTING -o g1 -p tcp -j IPSECMSS --auto
		COMMIT
	EOF
}

# What runs in a namespace of its own (unshare -n): fresh counters, two
# rules, the refcount with them; the namespace dies with its last process.
# shellcheck disable=SC2016
newns='
	fw=$1
	while read -r k v; do
		[ "$k" = rewritten ] && echo "counters rewritten=$v"
	done </proc/net/stat/ipsecmss || echo "counters none"
	iptables-$fw -t mangle -A FORWARD -p tcp -j IPSECMSS --set-mss 1300 &&
	ip6tables-$fw -t mangle -A OUTPUT -p tcp -j IPSECMSS --auto &&
	read -r r </sys/module/xt_ipsecmss/refcnt && echo "refcnt $r"
'

for k in $(seq 1 "$LC65_CYCLES"); do
	if [ $((k % 2)) = 1 ]; then fw=legacy; else fw=nft; fi
	c="lifecycle/cycle$k-$fw"
	bad=
	[ "$(refcnt)" = 0 ] || bad="$bad refcnt $(refcnt) at the start;"

	# add
	r0=$(counter rewritten)
	iptables-$fw -t mangle -A FORWARD -i g0 -p tcp -j IPSECMSS --set-mss 1360 &&
	ip6tables-$fw -t mangle -A FORWARD -i g0 -p tcp -j IPSECMSS --set-mss 1360 &&
	iptables-$fw -t mangle -A FORWARD -o g1 -p tcp -j IPSECMSS --auto ||
		bad="$bad adding rules failed;"
	rc1=$(refcnt)
	[ "$rc1" != absent ] && [ "$rc1" -ge 3 ] || bad="$bad refcnt $rc1 with 3 rules;"
	wait_rewritten "${r0:-0}" || bad="$bad no SYN rewritten by --set-mss 1360 (rewritten ${r0:-?} -> $(counter rewritten));"

	# replace, one step per family
	r1=$(counter rewritten)
	if restore_set $fw 4 2>"$LC65_TMP/restore.err" && restore_set $fw 6 2>>"$LC65_TMP/restore.err"; then
		l4=$(iptables-$fw -t mangle -S)
		n=0
		while read -r line; do [[ $line == *IPSECMSS* ]] && n=$((n + 1)); done <<<"$l4"
		[ "$n" = 3 ] || bad="$bad after restore $n IPv4 IPSECMSS rules, want 3;"
		[[ $l4 == *"--set-mss 1360"* ]] && bad="$bad the old rule survived the restore;"
		rc2=$(refcnt)
		[ "$rc2" != absent ] && [ "$rc2" -ge 6 ] || bad="$bad refcnt $rc2 with 6 rules;"
		wait_rewritten "${r1:-0}" || bad="$bad no SYN rewritten after the restore;"
	else
		bad="$bad iptables-$fw-restore failed: $(head -2 "$LC65_TMP/restore.err" | tr '\n' ' ');"
	fi

	# a namespace of its own while loaded, deleted with its rules in it
	before=$(refcnt)
	out=$(unshare -n bash -c "$newns" newns $fw 2>&1)
	[[ $out == *"counters rewritten=0"* ]] || bad="$bad new namespace without fresh counters: ${out//$'\n'/ };"
	[[ $out == *"refcnt $((before + 2))"* ]] || bad="$bad in a new namespace with 2 rules: ${out//$'\n'/ } (refcnt was $before);"

	# remove
	if [ $fw = legacy ]; then
		iptables-legacy -t mangle -F && ip6tables-legacy -t mangle -F
	else
		nft flush ruleset
	fi || bad="$bad flushing failed;"
	wait_refcnt 0 || bad="$bad refcnt $(refcnt) 5 s after every rule was removed;"

	# unload while SYNs keep coming
	if err=$(rmmod $mod 2>&1); then
		[ -d /sys/module/$mod ] && bad="$bad rmmod succeeded but /sys/module/$mod is still there;"
		[ -e /proc/net/stat/ipsecmss ] && bad="$bad /proc/net/stat/ipsecmss still there after rmmod;"
	else
		bad="$bad rmmod failed: $err (refcnt $(refcnt));"
		snooze 2
		rmmod $mod 2>/dev/null
	fi
	# load again
	if err=$(insmod "$IPSECMSS_KO" 2>&1); then
		r=$(counter rewritten)
		[ "$r" = 0 ] || bad="$bad after insmod the counters are not fresh (rewritten '$r');"
	elif [ -d /sys/module/$mod ]; then
		bad="$bad insmod: $err (an old instance still loaded);"
	else
		fail "$c" "${bad# } insmod failed: $err"
		break
	fi

	if [ -z "$bad" ]; then
		pass "$c"
	else
		fail "$c" "${bad# }"
	fi
done
