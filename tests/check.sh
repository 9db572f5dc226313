#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the test suites and tally their PASS:/FAIL: lines.
#
#   tests/check.sh [build|unit|fuzz|lint|vm]...
#
# No argument runs all of them in that order.  Ends with exactly one line
# "N passed, N failed"; exit 1 if anything failed or nothing passed.
# IPSECMSS_VM_ARGS adds options to tests/vm/run.sh (e.g. "--kernel X").
#
# Kernels: build and vm cover every kernel here with both an image
# (/boot/vmlinuz-V) and headers (/lib/modules/V/build), see
# ipsecmss_all_kvers in tests/vm/kver.sh; IPSECMSS_KERNELS="W..." keeps
# the ones a word names (6.12, 6.1.0-57-amd64).  ./xt_ipsecmss.ko is built
# for the default kernel (ipsecmss_pick_kver, as `make` does here), every
# other one in tests/build/kernels/V/.  Each kernel's vm stage ends with
# "vm suite on V: N passed, N failed".  A KDIR or KVER from the caller, or
# a --kernel in IPSECMSS_VM_ARGS, means that one kernel only, as before.

set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
build=tests/build
mkdir -p "$build"
log="$build/check.log"
: >"$log"

# the kernel the module is built for and the VM boots (tests/vm/kver.sh)
. "$repo/tests/vm/kver.sh"
one_kernel=
[ -z "${KVER:-}" ] && [ -z "${KDIR:-}" ] || one_kernel=1
case " ${IPSECMSS_VM_ARGS:-} " in *" --kernel "*) one_kernel=1 ;; esac
ipsecmss_pick_kver

# The kernels of the build and vm stages, the default one first; an empty
# word is ./xt_ipsecmss.ko on the kernel run.sh picks for it (one_kernel).
kernels=()
kernels_unmatched=
if [ -n "$one_kernel" ]; then
	kernels=("")
else
	mapfile -t all_kernels < <(ipsecmss_all_kvers)
	for v in "${all_kernels[@]}"; do
		[ "$v" != "${KVER:-}" ] || kernels=("$v" "${kernels[@]}")
		[ "$v" = "${KVER:-}" ] || kernels+=("$v")
	done
	for w in ${IPSECMSS_KERNELS:-}; do
		case " ${all_kernels[*]} " in *" $w "*|*" $w."*|*" $w-"*) ;; *) kernels_unmatched="$kernels_unmatched $w" ;; esac
	done
	[ ${#kernels[@]} -gt 0 ] || [ -n "${IPSECMSS_KERNELS:-}" ] || kernels=("")
fi

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(build unit fuzz lint vm)
for s in "${stages[@]}"; do
	case "$s" in build|unit|fuzz|lint|vm) ;;
	*) echo "check.sh: unknown suite '$s' (build, unit, fuzz, lint, vm)" >&2; exit 2 ;;
	esac
done

# Print a line and keep it for the tally.
say() { printf '%s\n' "$*" | tee -a "$log"; }

# Run a suite command, streaming its output into the log; a command that
# fails without printing any FAIL: line still counts as one failure.
run_suite() {
	local name=$1 tmp rc
	shift
	tmp=$(mktemp "$build/suite.XXXXXX")
	"$@" 2>&1 | tee "$tmp"
	rc=${PIPESTATUS[0]}
	cat "$tmp" >>"$log"
	if [ "$rc" != 0 ] && ! grep -q '^FAIL: ' "$tmp"; then
		say "FAIL: $name: exited $rc"
	fi
	rm -f "$tmp"
	return 0
}

# Build one make target; its output only matters when it fails.
build_target() {
	local t=$1 out="$build/make-$1.log"
	if make --no-print-directory "$t" >"$out" 2>&1; then
		say "PASS: build/$t"
	else
		say "FAIL: build/$t: make $t failed (full log: $out)"
		tail -n 30 "$out" | sed 's/^/    | /'
	fi
}

stage_time() { echo "== $1: $(( $(date +%s) - $2 ))s" >&2; }

# The module for kernel V: ./xt_ipsecmss.ko for the default one (or for
# "", see kernels above), else its own build under tests/build/kernels/V.
module_for() {
	if [ -z "$1" ] || [ "$1" = "${KVER:-}" ]; then
		echo ./xt_ipsecmss.ko
	else
		echo "$build/kernels/$1/xt_ipsecmss.ko"
	fi
}

# The "IPSECMSS probes (V): ..." line Kbuild prints (Kbuild, from
# scripts/ipsecmss-probe.sh) once per build, from LOG; when the module was
# up to date (no build, no line), the same script run on V's headers.
# Kept in probes[V] ("." when no KVER is known: a KDIR from the caller).
declare -A probes=()
probe_line() {
	local v=$1 l src obj
	l=$(grep -m 1 '^IPSECMSS probes (' "$2" 2>/dev/null)
	if [ -z "$l" ] && [ -n "$v" ]; then
		obj=$(readlink -f "/lib/modules/$v/build")
		src=$(readlink -f "/lib/modules/$v/source" 2>/dev/null) || src=
		[ -d "$src" ] || src=$obj
		l=$(sh scripts/ipsecmss-probe.sh "$src" "$obj" 2>&1)
		l="IPSECMSS probes ($v): ${l#*| } (module up to date: probed again)"
	fi
	[ -z "$l" ] || probes[${v:-.}]=$l
}

# The module for a kernel other than the default one, in its own
# directory (a copy of what Kbuild needs; cp -p keeps the times, so an
# unchanged source is not rebuilt).
build_kernel_module() {
	local v=$1 d="$build/kernels/$1" out="$build/make-module-$1.log"
	rm -rf "$d/include" "$d/scripts"
	mkdir -p "$d/include" "$d/scripts"
	if ! cp -p Kbuild xt_ipsecmss_main.c ipsecmss_path.c "$d/" ||
		! cp -p include/*.h "$d/include/" ||
		! cp -p scripts/ipsecmss-probe.sh "$d/scripts/"; then
		say "FAIL: build/module-$v: could not copy the sources to $d"
		return
	fi
	# shellcheck disable=SC2086 # word-split on purpose, as the Makefile's
	if make -C "/lib/modules/$v/build" M="$repo/$d" ${KBUILD_FLAGS:-W=1} modules >"$out" 2>&1 &&
		[ -f "$d/xt_ipsecmss.ko" ]; then
		say "PASS: build/module-$v"
	else
		say "FAIL: build/module-$v: make -C /lib/modules/$v/build M=$d failed (full log: $out)"
		tail -n 30 "$out" | sed 's/^/    | /'
	fi
	probe_line "$v" "$out"
}

# The tests/net scripts in IPSECMSS_VM_JOBS VMs at once (default 2: most
# of a script's time is spent waiting for stalls and timeouts, not on the
# CPU), split by tests/vm/balance.sh; each VM's output is shown whole, in
# order, when all are done.
#   run_vm_jobs KO KVER  (KVER "" or the default one: the logs keep their
#                        names; several kernels: FAIL lines end "[on KVER]")
run_vm_jobs() {
	local ko=$1 v=$2 jobs=${IPSECMSS_VM_JOBS:-2} s i n=0 line tag='' logs=$build/vm
	local -a scripts=() group=() pids=() rcs=()
	[ -z "$v" ] || [ "$v" = "${KVER:-}" ] || logs=$build/vm-$v
	[ ${#kernels[@]} -le 1 ] || tag=" [on ${v:-$KVER}]"
	for s in tests/net/[0-9]*.sh; do
		[ -e "$s" ] && scripts+=("$s")
	done
	n=${#scripts[@]}
	mapfile -t group < <(tests/vm/balance.sh "$jobs" "${scripts[@]}")
	jobs=${#group[@]}
	for ((i = 0; i < jobs; i++)); do
		# shellcheck disable=SC2086 # word-split on purpose
		IPSECMSS_VM_CONSOLE="$logs-console-$i.log" \
			tests/vm/run.sh --module "$ko" ${IPSECMSS_VM_ARGS:-} ${group[i]} \
			>"$logs-job-$i.log" 2>&1 &
		pids[i]=$!
	done
	for ((i = 0; i < jobs; i++)); do
		wait "${pids[i]}"
		rcs[i]=$?
	done
	for ((i = 0; i < jobs; i++)); do
		line="vm/run-$i$tag"
		echo "== vm $i${v:+ on $v}: ${group[i]}"
		run_suite "$line" sh -c 'awk -v t="$3" '\''/^FAIL: /{$0 = $0 t} 1'\'' "$1"; exit "$2"' sh \
			"$logs-job-$i.log" "${rcs[i]}" "$tag"
	done
	echo "== vm${v:+ on $v}: $n script(s) in $jobs VM(s)" >&2
	vm_scripts=$n vm_jobs=$jobs
}

# The VM suite on one kernel (its module built), then its summary line.
vm_summaries=()
vm_suite_on() {
	local v=$1 ko t0 mark p f k secs name
	ko=$(module_for "$v")
	name=${v:-$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)}
	t0=$(date +%s)
	mark=$(wc -l <"$log")
	[ -z "${probes[${v:-${KVER:-.}}]:-}" ] || say "${probes[${v:-${KVER:-.}}]}"
	run_vm_jobs "$ko" "$v"
	secs=$(( $(date +%s) - t0 ))
	p=$(tail -n "+$((mark + 1))" "$log" | grep -c '^PASS: ')
	f=$(tail -n "+$((mark + 1))" "$log" | grep -c '^FAIL: ')
	k=$(tail -n "+$((mark + 1))" "$log" | grep -c '^SKIP: ')
	vm_summaries+=("vm suite on ${name:-?}: $p passed, $f failed$([ "$k" = 0 ] || echo ", $k skipped") ($vm_scripts scripts in $vm_jobs VM(s), ${secs}s)")
	say "${vm_summaries[-1]}"
}

for s in "${stages[@]}"; do
	t0=$(date +%s)
	case "$s" in
	build)
		build_target module
		probe_line "${KVER:-}" "$build/make-module.log"
		[ -z "${probes[${KVER:-.}]:-}" ] || say "${probes[${KVER:-.}]}"
		for v in "${kernels[@]}"; do
			if [ -z "$v" ] || [ "$v" = "${KVER:-}" ]; then continue; fi
			build_kernel_module "$v"
			[ -z "${probes[$v]:-}" ] || say "${probes[$v]}"
		done
		build_target plugin
		;;
	unit)
		# Each driver builds and runs its own tests.
		for u in tests/unit/*.sh; do
			[ -e "$u" ] || continue
			run_suite "unit/$(basename "$u" .sh)" timeout -k 10 900 bash "$u"
		done
		;;
	fuzz)
		if [ -f tests/fuzz/run.sh ]; then
			run_suite fuzz/run timeout -k 10 900 bash tests/fuzz/run.sh 20
		fi
		;;
	lint)
		run_suite lint timeout -k 10 900 bash tests/lint.sh
		;;
	vm)
		[ -z "$kernels_unmatched" ] ||
			say "FAIL: vm/kernels: IPSECMSS_KERNELS='${IPSECMSS_KERNELS:-}' names no kernel with both an image and headers here:$kernels_unmatched (found: ${all_kernels[*]:-none})"
		for v in "${kernels[@]}"; do
			if [ -n "$v" ] && [ "$v" != "${KVER:-}" ]; then
				# another kernel: its own build (kbuild skips what is done)
				case " ${stages[*]} " in
				*" build "*) ;;
				*) build_kernel_module "$v" ;;
				esac
				if [ -f "$(module_for "$v")" ]; then
					vm_suite_on "$v"
				else
					vm_summaries+=("vm suite on $v: not run, its module did not build")
					say "FAIL: vm/run [on $v]: skipped, no module built for it"
				fi
				continue
			fi
			# The default kernel: ./xt_ipsecmss.ko; build it if a build
			# stage did not run.
			if [ ! -f xt_ipsecmss.ko ] || ! make --no-print-directory -q module 2>/dev/null; then
				case " ${stages[*]} " in
				*" build "*) ;;  # its failure is already reported
				*) build_target module
				   probe_line "${KVER:-}" "$build/make-module.log" ;;
				esac
			fi
			[ -n "${probes[${KVER:-.}]:-}" ] || probe_line "${KVER:-}" /dev/null
			if [ -f xt_ipsecmss.ko ] && make --no-print-directory -q module 2>/dev/null; then
				vm_suite_on "$v"
			else
				say "FAIL: vm/run: skipped, xt_ipsecmss.ko is missing or stale (build failed)"
			fi
		done
		;;
	esac
	stage_time "$s" "$t0"
done

passed=$(grep -c '^PASS: ' "$log")
failed=$(grep -c '^FAIL: ' "$log")
[ ${#vm_summaries[@]} -lt 2 ] || printf '%s\n' "${vm_summaries[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
