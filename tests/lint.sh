#!/bin/bash
# Static analysis, one PASS/FAIL line per tool: sparse over the module,
# checkpatch.pl --strict (from Debian's linux-source-6.1) over the kernel
# C, cppcheck over the userspace C.
set -u
cd "$(dirname "$0")/.."
CACHE=${IPSECMSS_CACHE:-/var/cache/ipsecmss}
KDIR=${KDIR:-$(make -s print-kdir)}
OUT=tests/build/lint
mkdir -p "$OUT" "$CACHE"
rc=0

report() { # name status logfile
	if [ "$2" = 0 ]; then
		echo "PASS: lint/$1"
	else
		echo "FAIL: lint/$1: see below"
		sed 's/^/    /' "$3" | head -40
		rc=1
	fi
}

# sparse: every warning it prints is a finding
if command -v sparse >/dev/null; then
	make -s -C "$KDIR" M="$PWD" C=2 modules >"$OUT/sparse.log" 2>&1
	st=$?
	grep -qE "warning|error" "$OUT/sparse.log" && st=1
	report sparse $st "$OUT/sparse.log"
else
	echo "FAIL: lint/sparse: sparse not installed"; rc=1
fi

# checkpatch needs its data files next to it; take them from the tarball
CP=$CACHE/checkpatch/scripts/checkpatch.pl
if [ ! -f "$CP" ] && [ -f /usr/src/linux-source-6.1.tar.xz ]; then
	mkdir -p "$CACHE/checkpatch"
	tar -xJf /usr/src/linux-source-6.1.tar.xz -C "$CACHE/checkpatch" \
		--strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch 2>/dev/null
fi
if [ -f "$CP" ]; then
	perl "$CP" --strict --no-tree --quiet -f xt_ipsecmss_main.c ipsecmss_path.c include/ipsecmss_kmod.h \
		include/ipsecmss_core.h include/xt_ipsecmss.h \
		>"$OUT/checkpatch.log" 2>&1
	st=$?
	perl "$CP" --strict --no-tree --quiet \
		-f include/ipsecmss_compat.h >>"$OUT/checkpatch.log" 2>&1 || st=1
	# TRACE_EVENT()'s layout is the tracing subsystem's, not ours
	perl "$CP" --strict --no-tree --quiet \
		--ignore PARENTHESIS_ALIGNMENT,OPEN_ENDED_LINE \
		-f include/ipsecmss_trace.h >>"$OUT/checkpatch.log" 2>&1 || st=1
	report checkpatch $st "$OUT/checkpatch.log"
else
	echo "FAIL: lint/checkpatch: linux-source-6.1 not installed"; rc=1
fi

if command -v cppcheck >/dev/null; then
	# shellcheck disable=SC2046
	cppcheck --quiet --error-exitcode=1 --std=c11 \
		--enable=warning,portability,performance --inline-suppr \
		-I include $(pkg-config --cflags-only-I xtables) \
		$(ls libxt_ipsecmss.c tests/unit/*.c tests/fuzz/*.c tests/bench/*.c tests/net/*.c 2>/dev/null) \
		>"$OUT/cppcheck.log" 2>&1
	report cppcheck $? "$OUT/cppcheck.log"
else
	echo "FAIL: lint/cppcheck: cppcheck not installed"; rc=1
fi
exit $rc
