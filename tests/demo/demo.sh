#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: build the module and the plugin, boot a throwaway VM
# (tests/vm/run.sh) and run tests/demo/scene.sh in it: the seed's PMTUD
# black hole behind an IPsec tunnel, and what each rule on the gateway does
# about it, as a table.
#
# The table comes back over a third serial port that this script adds
# (IPSECMSS_QEMU_ARGS) and maps to a file under tests/build; its lines are
# printed as they arrive.  Exit status 1 if the demo could not run or did not
# show what it should (see scene.sh); the VM's report is then printed, and
# kept in tests/build/demo-vm.log.
#
# DEMO_STALL_TIMEOUT is not passed into the VM: edit scene.sh to change it.

set -u

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
build=tests/build
mkdir -p "$build"
t0=$(date +%s)
say() { printf 'demo: [%3ss] %s\n' "$(($(date +%s) - t0))" "$*" >&2; }

# the kernel the module is built for and the VM boots (tests/vm/kver.sh)
. "$repo/tests/vm/kver.sh"
ipsecmss_pick_kver

say "building xt_ipsecmss.ko and libxt_IPSECMSS.so (make all) ..."
if ! make --no-print-directory all >"$build/demo-make.log" 2>&1; then
	tail -n 30 "$build/demo-make.log" >&2
	echo "demo: make all failed (full log: $build/demo-make.log)" >&2
	exit 1
fi

chan=$(mktemp "$repo/$build/demo-table.XXXXXX")
vmlog="$build/demo-vm.log"
cleanup() {
	[ -z "${rpid:-}" ] || kill "$rpid" 2>/dev/null
	rm -f "$chan"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "booting a throwaway VM (QEMU, software emulation) with the fresh module ..."
IPSECMSS_QEMU_ARGS="${IPSECMSS_QEMU_ARGS:-} -serial file:$chan" \
	tests/vm/run.sh --module ./xt_ipsecmss.ko --timeout 150 tests/demo/scene.sh \
	>"$vmlog" 2>&1 </dev/null &
rpid=$!

# Stream the third serial port: progress to stderr, the table to stdout.
table="$build/demo.txt"
: >"$table"
while IFS= read -r line; do
	line=${line%$'\r'}
	case "$line" in
	progress:\ *) say "${line#progress: }" ;;
	*) printf '%s\n' "$line"; printf '%s\n' "$line" >>"$table" ;;
	esac
done < <(tail -s 0.3 -n +1 -f --pid="$rpid" "$chan")
wait "$rpid"
rc=$?
rpid=

if [ "$rc" != 0 ] || ! grep -q '^demo: IPSECMSS --auto: MSS ' "$table"; then
	echo "demo: the demo did not run as it should; the VM said:" >&2
	sed 's/^/    /' "$vmlog" >&2
	echo "demo: failed after $(($(date +%s) - t0)) s (VM report: $vmlog, console: $build/vm-console.log)" >&2
	exit 1
fi
say "done (table kept in $table)"
