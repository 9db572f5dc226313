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

set -u

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
build=tests/build
mkdir -p "$build"
log="$build/check.log"
: >"$log"

# the kernel the module is built for and the VM boots (tests/vm/kver.sh)
. "$repo/tests/vm/kver.sh"
ipsecmss_pick_kver

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

# The tests/net scripts in IPSECMSS_VM_JOBS VMs at once (default 2: most
# of a script's time is spent waiting for stalls and timeouts, not on the
# CPU).  Scripts go to the least loaded VM, longest first, weighed by
# their "# vm-timeout:" (60 s when they declare none); each VM's output is
# shown whole, in order, when all are done.
run_vm_jobs() {
	local jobs=${IPSECMSS_VM_JOBS:-2} s w i best n=0 line
	local -a scripts=() load=() group=() pids=() rcs=()
	for s in tests/net/[0-9]*.sh; do
		[ -e "$s" ] || continue
		w=$(head -n 20 "$s" | sed -n 's/^#[[:space:]]*vm-timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
		scripts+=("${w:-60} $s")
	done
	[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
	[ "$jobs" -le ${#scripts[@]} ] || jobs=${#scripts[@]}
	for ((i = 0; i < jobs; i++)); do load[i]=0; group[i]=; done
	while read -r w s; do
		best=0
		for ((i = 1; i < jobs; i++)); do
			[ "${load[i]}" -lt "${load[best]}" ] && best=$i
		done
		load[best]=$((load[best] + w))
		group[best]="${group[best]} $s"
		n=$((n + 1))
	done < <(printf '%s\n' "${scripts[@]}" | sort -rn)
	for ((i = 0; i < jobs; i++)); do
		# shellcheck disable=SC2086 # word-split on purpose
		IPSECMSS_VM_CONSOLE="$build/vm-console-$i.log" \
			tests/vm/run.sh --module ./xt_ipsecmss.ko ${IPSECMSS_VM_ARGS:-} ${group[i]} \
			>"$build/vm-job-$i.log" 2>&1 &
		pids[i]=$!
	done
	for ((i = 0; i < jobs; i++)); do
		wait "${pids[i]}"
		rcs[i]=$?
	done
	for ((i = 0; i < jobs; i++)); do
		line="vm/run-$i"
		echo "== vm $i:${group[i]}"
		run_suite "$line" sh -c 'cat "$1"; exit "$2"' sh "$build/vm-job-$i.log" "${rcs[i]}"
	done
	echo "== vm: $n script(s) in $jobs VM(s)" >&2
}

for s in "${stages[@]}"; do
	t0=$(date +%s)
	case "$s" in
	build)
		build_target module
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
		# The VM stage needs a module; build it if a build stage did not run.
		if [ ! -f xt_ipsecmss.ko ] || ! make --no-print-directory -q module 2>/dev/null; then
			case " ${stages[*]} " in
			*" build "*) ;;  # its failure is already reported
			*) build_target module ;;
			esac
		fi
		if [ -f xt_ipsecmss.ko ] && make --no-print-directory -q module 2>/dev/null; then
			run_vm_jobs
		else
			say "FAIL: vm/run: skipped, xt_ipsecmss.ko is missing or stale (build failed)"
		fi
		;;
	esac
	stage_time "$s" "$t0"
done

passed=$(grep -c '^PASS: ' "$log")
failed=$(grep -c '^FAIL: ' "$log")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
