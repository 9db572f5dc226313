#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: IPSECMSS against TCPMSS and against no rule.
#
#   tests/bench/run.sh
#
#  1. builds the module and plugin (if stale), tests/bench/synflood.c and
#     tests/bench/corecount.c into tests/build/bench/, and snapshots the
#     module and plugin there (the VM uses the snapshot);
#  2. on the host: instructions of the pure core per SYN (callgrind);
#  3. in a QEMU TCG guest (tests/vm/run.sh, tests/bench/vm-bench.sh): SYN
#     forwarding rate, bulk TCP throughput, MSS efficiency over real SAs;
#     the guest writes its data lines to a third serial port;
#  4. tests/bench/report.py writes tests/bench/RESULTS.md and
#     tests/bench/efficiency.svg and prints the summary, ending with
#         ratio set-mss X
#         ratio auto X
#         ratio bulk X
#         ratio auto-nat X
#         ratio auto-plain X
#
# Progress goes to stderr.  Exit status 1 if a stage could not run (not
# for a missed target: those are reported).  BENCH_VM_ARGS adds kernel
# command line words for the guest, e.g. "bench_reps=2 bench_parts=syn"
# (see tests/bench/vm-bench.sh); BENCH_SKIP_VM=1 reuses the last VM data.
# BENCH_BOOTS=N (default 5) boots the guest N times: every part in the
# first, the SYN part again in the others; a SYN ratio is then the median
# over boots of each boot's ratio (report.py says why).

set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
out="$repo/tests/build/bench"
mkdir -p "$out"
t_start=$(date +%s)

say() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

tests/deps.sh >&2 || die "dependencies missing (tests/deps.sh)"

# the kernel the module is built for and the VM boots (tests/vm/kver.sh)
. "$repo/tests/vm/kver.sh"
ipsecmss_pick_kver

say "building (log: $out/make.log)"
make --no-print-directory module plugin >"$out/make.log" 2>&1 ||
	{ tail -n 20 "$out/make.log" >&2; die "make module plugin failed"; }
CC=${CC:-gcc}
$CC -std=c11 -Wall -Wextra -Werror -O2 -o "$out/synflood" tests/bench/synflood.c ||
	die "building synflood failed"
$CC -std=c11 -Wall -Wextra -Werror -O2 -g -Iinclude -o "$out/corecount" tests/bench/corecount.c ||
	die "building corecount failed"
cp -f xt_ipsecmss.ko libxt_IPSECMSS.so "$out/"

# --- instructions per SYN on the host ---
say "callgrind: instructions of the core per SYN"
: >"$out/core.txt"
N=1000
for layout in linux windows mss none nomss; do
	cases="rewrite unchanged"
	case $layout in none|nomss) cases=insert ;; esac
	for c in $cases; do
		arg=$c
		[ "$c" = insert ] && arg=rewrite
		valgrind --tool=callgrind --collect-atstart=no --toggle-collect=per_syn \
			--callgrind-out-file="$out/callgrind.out" \
			"$out/corecount" "$layout" "$arg" "$N" >"$out/corecount.log" 2>&1 ||
			die "valgrind failed: $(tail -3 "$out/corecount.log")"
		ir=$(awk '/^totals:/ { print $2 }' "$out/callgrind.out")
		[ -n "$ir" ] || die "no totals in $out/callgrind.out"
		res=$(grep -o 'result=[0-9]*' "$out/corecount.log")
		echo "core $layout $c $((ir / N)) $res" >>"$out/core.txt"
	done
done
rm -f "$out/callgrind.out"

# --- the VM ---
# BENCH_BOOTS boots (default 5): the first runs every part, the others the
# SYN part again, so that a SYN ratio is a median over boots (a boot moves
# every SYN ratio by up to 0.1; see report.py).  One boot if the caller
# chose parts without syn.
boots=${BENCH_BOOTS:-5}
case " ${BENCH_VM_ARGS:-} " in
*" bench_parts="*) case " ${BENCH_VM_ARGS:-} " in *" bench_parts="*syn*) ;; *) boots=1 ;; esac ;;
esac
case $boots in ''|*[!0-9]*|0) die "BENCH_BOOTS must be a positive number" ;; esac
raw="$out/vm-data.raw"
# Context for the report: other emulators competing for the host's cores.
others=$(pgrep -f -c '^qemu-system-x86_64 ' 2>/dev/null)
load=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "${BENCH_SKIP_VM:-0}" != 1 ]; then
	: >"$out/cpu-marks.txt"
	# a former run's later boots (it may have had more)
	rm -f "$out"/vm-data-[0-9]*.raw "$out"/vm-[0-9]*.log
	for boot in $(seq 1 "$boots"); do
		args=${BENCH_VM_ARGS:-}
		braw=$raw
		if [ "$boot" -gt 1 ]; then
			args="$(echo " $args " | sed 's/ bench_parts=[^ ]*//g') bench_parts=syn"
			braw="$out/vm-data-$boot.raw"
		fi
		: >"$braw"
		if [ "$boot" = 1 ]; then
			say "VM boot 1 of $boots: SYN rate, bulk throughput, efficiency over real SAs (about 8 minutes; log: $out/vm.log)"
		else
			say "VM boot $boot of $boots: SYN rate again (about 3 minutes)"
		fi
		# Progress lines ("# ...") of the guest as they arrive.
		tail -n +1 -F "$braw" 2>/dev/null | sed -un 's/\r$//; s/^# /bench: vm: /p' >&2 &
		tailpid=$!
		# The CPU time our vCPUs got in each measured window (host side).
		: >"$out/cpu-marks-boot.txt"
		python3 tests/bench/cpuwatch.py "$braw" "$out/cpu-marks-boot.txt" &
		watchpid=$!
		t_vm=$(date +%s)
		vmlog="$out/vm.log"
		[ "$boot" = 1 ] || vmlog="$out/vm-$boot.log"
		IPSECMSS_QEMU_ARGS="-serial file:$braw -name ipsecmss-bench,debug-threads=on" \
			tests/vm/run.sh --module "$out/xt_ipsecmss.ko" \
			--cmdline-extra "$args" tests/bench/vm-bench.sh >"$vmlog" 2>&1
		vmrc=$?
		sleep 0.5
		kill "$tailpid" "$watchpid" 2>/dev/null
		wait "$tailpid" "$watchpid" 2>/dev/null
		# a later boot's windows: ids prefixed as report.py expects
		if [ "$boot" = 1 ]; then
			cat "$out/cpu-marks-boot.txt" >>"$out/cpu-marks.txt"
		else
			sed "s/^/b$boot:/" "$out/cpu-marks-boot.txt" >>"$out/cpu-marks.txt"
		fi
		say "VM boot $boot: $(( $(date +%s) - t_vm ))s, exit $vmrc"
		if [ $vmrc != 0 ]; then
			grep -E '^(FAIL|    \|)' "$vmlog" | head -40 >&2
			grep -q '^info done' <(tr -d '\r' <"$braw") ||
				die "the VM run did not finish (see $vmlog, tests/build/vm-console.log)"
			say "the VM run reported failures (above); reporting what it measured"
		fi
	done
fi
# every boot's data lines, each boot's behind "boot N"
{
	echo "boot 1"
	tr -d '\r' <"$raw"
	for f in "$out"/vm-data-[0-9]*.raw; do
		[ -e "$f" ] || continue
		n=${f##*/vm-data-}
		echo "boot ${n%.raw}"
		tr -d '\r' <"$f"
	done
} >"$out/vm-data.txt"

cat "$out/vm.log" "$out"/vm-[0-9]*.log >"$out/vm-all.log" 2>/dev/null
python3 tests/bench/report.py --vm "$out/vm-data.txt" --core "$out/core.txt" \
	--marks "$out/cpu-marks.txt" --vmlog "$out/vm-all.log" --outdir tests/bench --start "$t_start" --others "${others:-0}, load average $load"
