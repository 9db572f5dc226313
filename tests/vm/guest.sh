#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM as PID 1's child after switch_root (see
# tests/vm/init).  Reads the job written by tests/vm/run.sh, then for each
# script: insmod the module, run the script with a timeout, rmmod.  Every
# result goes to /dev/ttyS1, which the host maps to a file:
#
#   IPSECMSS-VM-START
#   IPSECMSS-VM-BEGIN <name>      then the script's output, streamed
#   IPSECMSS-VM-END <name> <rc>
#   PASS:/FAIL: lines of the harness itself
#   IPSECMSS-VM-DONE
#
# The host turns a missing DONE into "FAIL: vm/boot" (panic, hang).

set -u
job=$1
# shellcheck source=/dev/null
. "$job"  # REPO IPSECMSS_KO SCRIPTS SCRIPT_TIMEOUT XTLIBDIR

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8

# tests/vm/init has mounted proc, sys, dev (with the /dev/fd links),
# devpts, /dev/shm, a tmpfs on /run and debugfs; only fill in what is
# missing (e.g. a custom init), with bash builtins where possible since
# every exec costs tens of milliseconds under emulation.
mounts=$(</proc/self/mounts) || mounts=
ismnt() { [[ "$mounts" == *" $1 "* ]]; }
ismnt /proc || mount -t proc proc /proc
ismnt /sys || mount -t sysfs sysfs /sys
ismnt /dev || mount -t devtmpfs devtmpfs /dev
ismnt /run || { mount -t tmpfs tmpfs /run; mkdir -p /run/netns; }
[ -e /dev/fd ] || ln -sfn /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -sfn /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -sfn /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -sfn /proc/self/fd/2 /dev/stderr
# /tmp stays the host's (through the overlay): modules and scripts may live there.

exec 3>/dev/ttyS1
say() { printf '%s\n' "$*" >&3; printf '%s\n' "$*"; }

say "IPSECMSS-VM-START $(</proc/sys/kernel/osrelease)"

export REPO IPSECMSS_KO
# IPSECMSS_VM_ENV on the host: NAME=VALUE words for the scripts
for kv in ${GUEST_ENV:-}; do
	case "$kv" in [A-Za-z_]*=*) export "${kv?}" ;; esac
done
export XTABLES_LIBDIR="$REPO:$XTLIBDIR"
modname=xt_ipsecmss
loaded() { [ -d "/sys/module/$modname" ]; }

# insmod does not resolve dependencies (x_tables, ...): modprobe those from
# the kernel's own tree first.
moddeps=$(modinfo -F depends "$IPSECMSS_KO" 2>/dev/null)
load_module() {
	[ -z "$moddeps" ] || modprobe -a ${moddeps//,/ } || return 1
	insmod "$IPSECMSS_KO"
}

# Leave the next script a clean machine: scripts that die half-way leave
# namespaces (and rules in them that pin the module) behind.
cleanup_after() {
	local ns=(/run/netns/*)
	[ ! -e "${ns[0]}" ] || ip -all netns delete 2>/dev/null
}

# Namespace teardown is asynchronous (cleanup_net), so the module may stay
# pinned for a moment after the last netns is gone.
try_rmmod() {
	local i
	for i in $(seq 1 50); do
		rmmod "$modname" 2>"$work/rmmod.err" && return 0
		sleep 0.2
	done
	return 1
}

work=$(mktemp -d /tmp/ipsecmss-vm.XXXXXX)
# A script may need longer than the default: "# vm-timeout: SECONDS" in its
# first 20 lines (read with builtins: no exec per script).
script_timeout() {
	local line n=0 t=$SCRIPT_TIMEOUT
	while [ $n -lt 20 ] && IFS= read -r line; do
		n=$((n + 1))
		if [[ "$line" =~ ^#[[:space:]]*vm-timeout:[[:space:]]*([0-9]+) ]]; then
			[ "${BASH_REMATCH[1]}" -le "$t" ] || t=${BASH_REMATCH[1]}
			break
		fi
	done <"$1"
	echo "$t"
}

for s in $SCRIPTS; do
	t0=$EPOCHREALTIME
	name=${s##*/}
	name=${name%.sh}
	out="$work/$name.out"
	say "IPSECMSS-VM-BEGIN $name"

	if loaded; then
		say "FAIL: vm/insmod-$name: $modname still loaded from before; running against that instance"
	elif ! load_module 2>"$work/insmod.err"; then
		dmesg | grep "$modname" | tail -3 >>"$work/insmod.err"
		say "FAIL: vm/insmod-$name: $(tr '\n' ' ' <"$work/insmod.err")"
		say "IPSECMSS-VM-END $name skipped"
		continue
	fi

	tmo=$(script_timeout "$s")
	scratch=$(mktemp -d /tmp/net-"$name".XXXXXX)
	: >"$out"
	# timeout puts the script in its own process group (its pid), so
	# whatever the script left running can be killed afterwards.  Output
	# goes to a file, streamed by tail, so a leftover background process
	# holding stdout open cannot stall the harness.
	(cd "$scratch" && exec timeout -k 10 "$tmo" bash "$s" </dev/null >"$out" 2>&1) &
	tpid=$!
	tail -s 0.2 -n +1 -f --pid="$tpid" "$out" | tee /dev/fd/3
	wait "$tpid"
	rc=$?
	kill -KILL -- "-$tpid" 2>/dev/null
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		say "FAIL: net/$name: timed out after ${tmo}s"
	elif [ "$rc" != 0 ] && ! grep -q '^FAIL: ' "$out"; then
		say "FAIL: net/$name: exited $rc"
	elif ! grep -qE '^(PASS|FAIL|SKIP): ' "$out"; then
		say "FAIL: net/$name: printed no PASS:/FAIL:/SKIP: line"
	fi
	cleanup_after

	if loaded && ! try_rmmod; then
		why=$(tr '\n' ' ' <"$work/rmmod.err")
		# Clear leftover rules in the initial namespace so one leak does
		# not spoil every later script; still a failure of this one.
		iptables-legacy -t mangle -F 2>/dev/null; ip6tables-legacy -t mangle -F 2>/dev/null
		iptables-legacy -F 2>/dev/null; ip6tables-legacy -F 2>/dev/null
		nft flush ruleset 2>/dev/null
		if try_rmmod; then
			why="$why(unloaded only after flushing the initial namespace's rules)"
		fi
		say "FAIL: vm/rmmod-$name: $why"
	fi
	t1=$EPOCHREALTIME
	say "IPSECMSS-VM-END $name $rc $(( (${t1/./} - ${t0/./}) / 100000 ))"
	rm -rf "$scratch"
done

# kmemleak (sanitizer kernels only): it reports only objects it has seen
# unreferenced in two scans a few seconds apart.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak; sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >"$work/kmemleak"
	if [ -s "$work/kmemleak" ]; then
		say "FAIL: vm/kmemleak: $(grep -c '^unreferenced object' "$work/kmemleak") suspected leak(s)"
		head -200 "$work/kmemleak" | sed 's/^/    kmemleak| /' >&3
	else
		say "PASS: vm/kmemleak"
	fi
fi

# A kernel that survived (no panic_on_warn panic) can still have logged a
# problem, e.g. a KASAN report or a hung task.  kmemleak only counts with
# "suspected": its boot banner mentions it on every kmemleak kernel.
pat='WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|kmemleak: .*suspected|Call Trace|refcount_t'
dmesg >"$work/dmesg"
if grep -E "$pat" "$work/dmesg" >"$work/bad"; then
	say "FAIL: vm/kernel-log: $(wc -l <"$work/bad") suspicious line(s), first: $(head -1 "$work/bad")"
	head -100 "$work/bad" | sed 's/^/    kernel| /' >&3
else
	say "PASS: vm/kernel-log"
fi

say "IPSECMSS-VM-DONE"
exec 3>&-
sync
echo o >/proc/sysrq-trigger
sleep 30
