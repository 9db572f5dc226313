#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz/core: libFuzzer over the pure core for SECONDS (default 60).
#
#   tests/fuzz/run.sh [SECONDS]
#
# Builds tests/fuzz/fuzz_core.c with clang (-fsanitize=fuzzer,address,
# undefined) into tests/build/fuzz_core and runs it with -max_total_time
# on a copy of tests/fuzz/corpus/ (the committed corpus never grows).
# Prints one line, PASS: fuzz/core (<execs> execs in <s> s) or
# FAIL: fuzz/core: <why>, and exits 0 / 1 accordingly.  A crashing input
# is kept under tests/build/fuzz-artifacts/; replay it with
#   tests/build/fuzz_core tests/build/fuzz-artifacts/<file>

set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$REPO/tests/build
CLANG=${CLANG:-clang}
SECS=${1:-60}

fail() {
	echo "FAIL: fuzz/core: $*"
	exit 1
}

case "$SECS" in
'' | *[!0-9]*) fail "SECONDS must be a whole number, not '$SECS'" ;;
esac
[ "$SECS" -ge 1 ] || fail "SECONDS must be at least 1"
command -v "$CLANG" >/dev/null 2>&1 || fail "clang not installed"

mkdir -p "$BUILD" "$BUILD/fuzz-artifacts"
bin=$BUILD/fuzz_core
log=$BUILD/fuzz_core.log

if ! out=$("$CLANG" -std=c11 -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I "$REPO/include" -o "$bin" "$REPO/tests/fuzz/fuzz_core.c" 2>&1); then
	fail "build failed: $(printf '%s' "$out" | grep -m3 -E 'error|warning' | tr '\n' ' ' | cut -c1-300)"
fi

work=$(mktemp -d "$BUILD/fuzz-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp "$REPO"/tests/fuzz/corpus/* "$work"/ 2>/dev/null ||
	fail "no seed corpus in tests/fuzz/corpus"

start=$(date +%s)
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$BUILD/fuzz-artifacts/" \
	"$work" >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)

if [ "$rc" = 0 ] && [ -n "$execs" ]; then
	echo "PASS: fuzz/core ($execs execs in $secs s)"
	exit 0
fi

# the finding, the input that caused it, and where the full log is
why=$(grep -m1 -E '^ipsecmss fuzz invariant:|ERROR: (AddressSanitizer|libFuzzer)|runtime error:|^==[0-9]+== ERROR' "$log" |
	sed 's/^==[0-9]*==//' | cut -c1-300)
art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
[ -n "$why" ] || why="fuzzer exited $rc"
echo "FAIL: fuzz/core: $why${art:+ (input: $art)} (log: $log)"
exit 1
