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
			# shellcheck disable=SC2086 # word-split on purpose
			run_suite vm/run tests/vm/run.sh --module ./xt_ipsecmss.ko ${IPSECMSS_VM_ARGS:-}
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
