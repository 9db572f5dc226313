#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# unit/core: the pure core (include/ipsecmss_core.h) on the host.
#
# Builds tests/unit/core_test.c with AddressSanitizer and UBSan into
# tests/build/core_test and runs it.  Its lines pass through unchanged:
# PASS: unit/core-<name> / FAIL: unit/core-<name>: <why>.  Exit status 1
# if the build or any test failed.

set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$REPO/tests/build
CC=${CC:-cc}

mkdir -p "$BUILD"

if ! out=$($CC -std=c11 -Wall -Wextra -Werror -O1 -g \
	-fsanitize=address,undefined -fno-sanitize-recover \
	-I "$REPO/include" -o "$BUILD/core_test" \
	"$REPO/tests/unit/core_test.c" 2>&1); then
	echo "FAIL: unit/core-build: $(printf '%s' "$out" | grep -m3 -E 'error|warning' | tr '\n' ' ' | cut -c1-400)"
	exit 1
fi
echo "PASS: unit/core-build"

# leaks are not the question here; keep the report short and the exit code 1
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
	"$BUILD/core_test" "$BUILD"
