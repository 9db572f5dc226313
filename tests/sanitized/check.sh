#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The packet path under sanitizers (`make check-sanitized`):
#
#   tests/sanitized/check.sh [script ...]
#
# 1. builds the sanitizer kernel if its cached build is stale
#    (tests/sanitized/build.sh: Debian's linux-source-7.3 from
#    trixie-backports with KASAN, UBSAN, kmemleak, lockdep,
#    DEBUG_ATOMIC_SLEEP, everything the VM needs built in);
# 2. builds the module against that tree, from a copy of the sources in
#    tests/build/sanitized-mod/ (the stock ./xt_ipsecmss.ko is untouched),
#    with W=1, and shows its "IPSECMSS probes (...)" line;
# 3. boots that kernel with tests/vm/run.sh and runs the scripts: by default
#    every tests/net/[0-9]*.sh but those left out below (each printed as a
#    SKIP: line with its reason; SANITIZED_SKIP, a regex, replaces that
#    list, SANITIZED_SKIP= runs them all) or run in part through a
#    wrapper (one case per code path), then tests/sanitized/net/*.sh (the
#    TCP header in page fragments, so the target's stack copy of it is
#    exercised; those wrappers);
# 4. reads the console: any KASAN, UBSAN, sleeping-in-atomic or lockdep
#    report fails the run and is shown in full, and so is every kmemleak
#    report that names xt_ipsecmss or has a frame no symbol resolves (in
#    this kernel everything else is built in, so such a frame belongs to
#    the module, unloaded by the time kmemleak prints); kmemleak reports
#    about the kernel's own objects are shown, not failed on.
#
# Prints PASS:/FAIL:/SKIP: lines and ends with "N passed, N failed" (and
# ", N skipped"); exit 1 on any FAIL.  SANITIZED_TIMEOUT: per script
# (default 900 s, the sanitizer kernel is slower); SANITIZED_SKIP: regex
# of script names (without .sh) to leave out instead of the list below;
# SANITIZED_FULL=1: the scripts run in part run whole (longer);
# SANITIZED_CMDLINE: kernel command line additions (default acpi=noirq);
# other tests/vm/run.sh knobs (IPSECMSS_VM_VERBOSE, ...) work as usual.

set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/tests/build"
mkdir -p "$build"
log="$build/sanitized.log"
: >"$log"

t_all=$(date +%s)
krel='' scripts=() group=()
say() { printf '%s\n' "$*" | tee -a "$log"; }
note() { echo "sanitized: $*" >&2; }
finish() {
	local p f k
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	k=$(grep -c '^SKIP: ' "$log")
	note "total $(( $(date +%s) - t_all ))s"
	# the same form as make check's line per kernel
	echo "vm suite on ${krel:-?} (sanitizers): $p passed, $f failed$([ "$k" = 0 ] || echo ", $k skipped") (${#scripts[@]} scripts in ${#group[@]} VM(s), $(( $(date +%s) - t_all ))s)"
	[ "$f" = 0 ] && [ "$p" -gt 0 ]
	exit
}

# --- 1. the kernel -----------------------------------------------------------
t0=$(date +%s)
if ! out=$("$here/build.sh"); then
	say "FAIL: sanitized/kernel-build: tests/sanitized/build.sh failed (see above)"
	finish
fi
bzimage=${out##*sanitized kernel: }
tree=$("$here/build.sh" --print-tree)
krel=$(cat "$tree/include/config/kernel.release")
say "PASS: sanitized/kernel-build"
note "kernel $krel: $(( $(date +%s) - t0 ))s"

# --- 2. the module, built against that tree ---------------------------------
t0=$(date +%s)
moddir="$build/sanitized-mod"
rm -rf "$moddir"
mkdir -p "$moddir/include" "$moddir/scripts"
cp "$repo/Kbuild" "$repo"/*.c "$moddir/"
cp "$repo"/include/*.h "$moddir/include/"
cp "$repo/scripts/ipsecmss-probe.sh" "$moddir/scripts/"
if ! nice -n 19 make -C "$tree" M="$moddir" W=1 modules >"$build/sanitized-mod.log" 2>&1; then
	say "FAIL: sanitized/module-build: make -C $tree M=$moddir failed (log: $build/sanitized-mod.log)"
	tail -n 30 "$build/sanitized-mod.log" | sed 's/^/    | /'
	finish
fi
ko="$moddir/xt_ipsecmss.ko"
vm=$(modinfo -F vermagic "$ko" 2>/dev/null | awk '{print $1}')
if [ "$vm" != "$krel" ]; then
	say "FAIL: sanitized/module-build: $ko is for '$vm', the kernel is $krel"
	finish
fi
say "PASS: sanitized/module-build"
# What the tree offered the module (scripts/ipsecmss-probe.sh, via Kbuild).
probes=$(grep -m1 '^IPSECMSS probes (' "$build/sanitized-mod.log")
say "${probes:-IPSECMSS probes ($krel): (no probe line in $build/sanitized-mod.log)}"
note "module: $(( $(date +%s) - t0 ))s"

# The plugin the scripts' iptables load comes from the checkout.
if [ ! -f "$repo/libxt_IPSECMSS.so" ]; then
	make -C "$repo" --no-print-directory plugin >"$build/sanitized-plugin.log" 2>&1 || {
		say "FAIL: sanitized/plugin: make plugin failed (log: $build/sanitized-plugin.log)"
		finish
	}
fi

# --- 3. the run --------------------------------------------------------------
# Left out by default, each printed as "SKIP: net/<script>: <why>" (a
# sanitizer run is several times slower than the stock kernel's, which
# runs all of them): what does not reach the packet path, the IKE daemons
# (values, not memory safety; the module sees the same SAs as with static
# keys), and the value matrices whose code the scripts that stay reach
# (measured on this kernel in 2 VMs: the scripts that stay take about
# 2500 VM-seconds, 55 and 57 alone took 680).  The packaging tests live
# elsewhere.
declare -A left_out=(
	[00-vm-smoke]="no packet path (every script here boots the VM)"
	[40-params]="module parameters, no packet path"
	[45-rules]="rule save/restore in userspace, no packet path"
	[70-bad-args]="the plugin's argument checks, no packet path"
	[72-raw-blob]="the module's checks of crafted rule blobs, no packet path: left to the stock kernel's run for time"
	[75-params]="module parameters, no packet path"
	[55-auto-exact]="exact values per suite, NAT-T and device: its seed scene's code runs in net/50-seed-scene and its device scenes in sanitized/net/56-auto-devices; left to the stock kernels for time"
	[57-auto-modes]="the value each mode gives: the code of --esp, --overhead and --auto runs in net/50-seed-scene and net/60-hostile; left to the stock kernels for time"
	[76-plugin-floor]="the plugin's floor option: a value, no new packet path; left to the stock kernels for time"
	[78-tracepoint]="the tracepoint's fields: left to the stock kernels for time"
	[64-iptfs]="7.3's own IP-TFS output path warns under lockdep on every packet it queues (include/net/dst.h:326: skb_dst_force() outside rcu_read_lock(), from iptfs_delay_timer -> iptfs_output_queued -> xfrm_output_resume; also without this module), and a warning panics this kernel; Debian's 6.1 and 6.12 have no IP-TFS, so it runs by hand only (booted with panic_on_warn=0, see the README)"
)
ike="an IKE daemon's SAs: values, not memory safety (the stock kernel runs it)"
# Run in part, through a wrapper of tests/sanitized/net/ that picks one
# case per code path (the stock kernel runs every case); SANITIZED_FULL=1
# runs the whole scripts instead.  tests/net/55-auto-exact, when named on
# the command line, runs its seed scene alone here (AUTO_EXACT_SCENES).
declare -A in_part=(
	[58-auto-paths]=58-auto-path-kinds
	[63-tunnels-over-esp]=63-tunnel-kinds
	[66-route-cache]=66-route-cache-part
)
env_default="LIFECYCLE_CYCLES=4 AUTO_EXACT_SCENES=seed"
full=${SANITIZED_FULL:-0}
[ "$full" = 1 ] && env_default="LIFECYCLE_CYCLES=4"
skip=${SANITIZED_SKIP-}
scripts=("$@")
if [ ${#scripts[@]} -eq 0 ]; then
	for s in "$repo"/tests/net/[0-9]*.sh "$here"/net/*.sh; do
		[ -e "$s" ] || continue
		n=${s##*/}
		n=${n%.sh}
		mine=0
		[ "$s" = "$here/net/$n.sh" ] && mine=1
		if [ -n "${SANITIZED_SKIP+set}" ]; then
			if [ -n "$skip" ] && [[ "$n" =~ $skip ]]; then
				say "SKIP: net/$n: matches SANITIZED_SKIP=$skip"
				continue
			fi
		elif [ "$mine" = 0 ]; then
			case "$n" in 8[0-9]-*) left_out[$n]=$ike ;; esac
			if [ -n "${left_out[$n]:-}" ]; then
				say "SKIP: net/$n: ${left_out[$n]}"
				continue
			fi
		fi
		if [ "$mine" = 0 ] && [ "$full" != 1 ] && [ -n "${in_part[$n]:-}" ] &&
		   [ -f "$here/net/${in_part[$n]}.sh" ]; then
			note "net/$n: run in part, as sanitized/net/${in_part[$n]} (SANITIZED_FULL=1: all of it)"
			continue
		fi
		if [ "$mine" = 1 ] && [ "$full" = 1 ] && [[ " ${in_part[*]} " == *" $n "* ]]; then
			note "sanitized/net/$n: not run (SANITIZED_FULL=1 runs the whole script instead)"
			continue
		fi
		scripts+=("$s")
	done
fi

t0=$(date +%s)
# acpi=noirq: evaluating the PCI routing table (_PRT) in the ACPI
# interpreter takes ~30 s under emulation on this kernel and ends in an
# AML loop timeout; virtio uses MSI-X, the legacy routing is not needed.
# Rule churn and unload/reload: 4 cycles here (12 on the stock kernel).
# The scripts run in SANITIZED_VM_JOBS VMs at once (default 2, split by
# tests/vm/balance.sh), each with a console file of its own (a stock run
# beside this one keeps tests/build/vm-console.log); their outputs are
# shown in order when all are done.
jobs=${SANITIZED_VM_JOBS:-2}
mapfile -t group < <(BALANCE_KIND=sanitized "$repo/tests/vm/balance.sh" "$jobs" "${scripts[@]}")
rm -f "$build"/sanitized-console*.log "$build"/sanitized-job-*.log
pids=()
for ((i = 0; i < ${#group[@]}; i++)); do
	# shellcheck disable=SC2086 # word-split on purpose: one script per word
	IPSECMSS_VM_ENV="${IPSECMSS_VM_ENV:-$env_default}" \
	IPSECMSS_VM_CONSOLE="$build/sanitized-console-$i.log" \
	"$repo/tests/vm/run.sh" --kernel "$bzimage" --module "$ko" \
		--timeout "${SANITIZED_TIMEOUT:-900}" \
		--cmdline-extra "${SANITIZED_CMDLINE-acpi=noirq}" \
		${group[i]} >"$build/sanitized-job-$i.log" 2>&1 &
	pids[i]=$!
done
for ((i = 0; i < ${#group[@]}; i++)); do
	wait "${pids[i]}" || true
	echo "== sanitized vm $i: ${group[i]}" | tee -a "$log"
	tee -a "$log" <"$build/sanitized-job-$i.log"
done
note "VM: $(( $(date +%s) - t0 ))s (${#group[@]} VM(s))"
# The kernel's lines only (they start with the printk time stamp): the
# console also carries the scripts' output, which may quote kernel lines.
console="$build/sanitized-kernel.log"
for ((i = 0; i < ${#group[@]}; i++)); do
	tr -d '\r' <"$build/sanitized-console-$i.log" 2>/dev/null | grep -E '^\[ *[0-9]+\.[0-9]+\] '
done >"$console"

# --- 4. sanitizer reports in the console -------------------------------------
# One FAIL line per kind, with every report of that kind shown in full.
# A report is the matching line and what follows, up to the closing "===="
# line (KASAN, UBSAN: up to 200 lines) or 80 lines (the stack dumps of the
# others).
report() {
	local kind=$1 pat=$2 lim=${3:-80} n
	n=$(grep -cE "$pat" "$console")
	[ "$n" -gt 0 ] || { say "PASS: sanitized/$kind"; return; }
	say "FAIL: sanitized/$kind: $n report(s), first: $(grep -m1 -E "$pat" "$console" | sed 's/^\[[ 0-9.]*\] //')"
	awk -v pat="$pat" '
	$0 ~ pat { on = 1; n = 0; print "    ---- report ----" }
	on {
		print "    | " $0
		n++
		if ((n > 2 && $0 ~ /=====/) || n >= lim) { on = 0 }
	}' lim="$lim" "$console" | head -n 600
}
report kasan 'BUG: KASAN:' 200
report ubsan 'UBSAN:' 200
report atomic-sleep 'BUG: (sleeping function called from invalid context|scheduling while atomic)'
report lockdep 'WARNING: (possible (circular|recursive|irq lock)|inconsistent lock state)|BUG: (Invalid wait context|bad unlock balance|held lock freed)|suspicious RCU usage'

# kmemleak: guest.sh scans twice after the last script and prints
# /sys/kernel/debug/kmemleak on the result channel as "    kmemleak| ..."
# lines (older versions of it wrote them to the kernel log as "kmemleak: ...";
# both are read).  Split that into objects; fail on those that name the
# module or have a frame no symbol resolves.
{
	sed -n 's/^ *kmemleak| //p' "$log"
	sed -n 's/^\[[ 0-9.]*\] kmemleak: //p' "$console" | grep -v 'new suspected memory leaks\|Kernel memory leak detector'
} | awk '
function flush() {
	if (obj == "") return
	if (obj ~ /xt_ipsecmss|ipsecmss_/ || obj ~ /\] 0x[0-9a-f]+\n/) mine = mine obj
	else other = other obj
	obj = ""
}
/^unreferenced object/ { flush() }
{ if ($0 ~ /^unreferenced object/ || obj != "") obj = obj "    | " $0 "\n" }
END {
	flush()
	printf "%s", mine > "/dev/stdout"
	printf "%s", other > "/dev/stderr"
}' >"$build/kmemleak-module.txt" 2>"$build/kmemleak-other.txt"
if [ -s "$build/kmemleak-module.txt" ]; then
	say "FAIL: sanitized/kmemleak: $(grep -c 'unreferenced object' "$build/kmemleak-module.txt") object(s) leaked by xt_ipsecmss"
	head -n 300 "$build/kmemleak-module.txt"
else
	say "PASS: sanitized/kmemleak"
fi
if [ -s "$build/kmemleak-other.txt" ]; then
	note "kmemleak also lists $(grep -c 'unreferenced object' "$build/kmemleak-other.txt") object(s) of the kernel's own (not failed on; $build/kmemleak-other.txt)"
fi

finish
