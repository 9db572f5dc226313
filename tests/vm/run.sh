#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot Debian's kernel under QEMU with the host's / as the guest's root
# (read-only 9p + tmpfs overlay) and run tests/net scripts against a module.
#
#   tests/vm/run.sh [--kernel VMLINUZ] [--module KO] [--timeout SECONDS]
#                   [--vm-timeout SECONDS] [--cmdline-extra ARGS] [script ...]
#
# --timeout is per script (default 300; a script may raise its own with a
# "# vm-timeout: N" line near its top); the whole VM gets --vm-timeout
# (default: 120 + the sum of (script timeout + 30)).
# Without scripts, runs every tests/net/[0-9]*.sh in order.
# IPSECMSS_VM_ENV="NAME=VALUE ..." is exported to the scripts in the guest;
# IPSECMSS_VM_CONSOLE names the console log (default tests/build/vm-console.log).
# Prints PASS:/FAIL: lines; exit status 1 if any FAIL.
# IPSECMSS_VM_VERBOSE=1 also copies the console to stderr as it runs;
# IPSECMSS_QEMU_ARGS adds qemu options (word-split).

set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/tests/build"

kernel= module= timeout=300 vm_timeout= extra=
scripts=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--module) module=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--vm-timeout) vm_timeout=$2; shift 2 ;;
	--cmdline-extra) extra=$2; shift 2 ;;
	-h|--help) sed -n '4,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) scripts+=("$1"); shift ;;
	esac
done

fail() { echo "FAIL: vm/$1"; exit 1; }
abspath() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }

[ -n "$module" ] || module="$repo/xt_ipsecmss.ko"
[ -f "$module" ] || fail "setup: module $module not found (make module, or --module KO)"
module=$(abspath "$module")

if [ -z "$kernel" ]; then
	# Default: the kernel the module was built for, else the newest one.
	ver=$(modinfo -F vermagic "$module" 2>/dev/null | awk '{print $1}')
	if [ -n "$ver" ] && [ -r "/boot/vmlinuz-$ver" ]; then
		kernel="/boot/vmlinuz-$ver"
	else
		kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
	fi
fi
[ -n "$kernel" ] && [ -r "$kernel" ] || fail "setup: no readable kernel (install linux-image-amd64, or --kernel VMLINUZ)"
kver=$(python3 "$here/kimage.py" release "$kernel" 2>/dev/null || true)
[ -n "$kver" ] || kver=${kernel##*/vmlinuz-}

if [ ${#scripts[@]} -eq 0 ]; then
	for s in "$repo"/tests/net/[0-9]*.sh; do
		[ -e "$s" ] && scripts+=("$s")
	done
fi
[ ${#scripts[@]} -gt 0 ] || fail "setup: no scripts to run"
abs=()
for s in "${scripts[@]}"; do
	[ -f "$s" ] || fail "setup: script $s not found"
	abs+=("$(abspath "$s")")
done
# The job file and the guest's view of paths are plain words separated by
# spaces; say so early rather than fail obscurely in the guest.
for p in "$repo" "$module" "${abs[@]}"; do
	case "$p" in *[[:space:]\'\"\\]*) fail "setup: path with space or quote not supported: $p" ;; esac
done

# --- initramfs: busybox + modules to reach 9p/overlay, cached by content ---
cache=${IPSECMSS_CACHE:-/var/cache/ipsecmss}
if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	cache="${XDG_CACHE_HOME:-$HOME/.cache}/ipsecmss"
	mkdir -p "$cache"
fi

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || fail "setup: busybox not found (install busybox-static)"
# Key: our own files, the busybox binary and the kernel's module tree, so a
# changed harness or a reinstalled kernel rebuilds it and nothing else does.
key=$( { cat "$here/init" "$0"; ls -l --time-style=+%s "$busybox" "/lib/modules/$kver/modules.dep" 2>/dev/null; } |
	sha256sum | cut -c1-16)
initrd="$cache/initramfs-$kver-$key.cpio.gz"

build_initramfs() {
	local t ko f seen=" "
	t=$(mktemp -d "$cache/.build.XXXXXX")
	mkdir -p "$t/bin" "$t/lib/modules" "$t/dev"
	cp "$busybox" "$t/bin/busybox"
	if ! ldd "$t/bin/busybox" 2>&1 | grep -q 'not a dynamic'; then
		rm -rf "$t"; fail "setup: $busybox is not static (install busybox-static)"
	fi
	cp "$here/init" "$t/init"
	chmod 755 "$t/init" "$t/bin/busybox"
	: >"$t/modules.order"
	# Debian builds these as modules; a test kernel with them built in
	# (or with no /lib/modules at all) just gets an empty list.
	if [ -d "/lib/modules/$kver" ]; then
		# One module per modprobe call: further names would be taken as
		# module parameters.
		for ko in $(for m in virtio_pci 9pnet_virtio netfs fscache 9p overlay; do
				modprobe -S "$kver" --show-depends "$m" 2>/dev/null
			done | awk '$1 == "insmod" {print $2}'); do
			case "$seen" in *" $ko "*) continue ;; esac
			seen="$seen$ko "
			f=$(basename "$ko")
			case "$ko" in
			*.xz) xz -dc "$ko" >"$t/lib/modules/${f%.xz}"; f=${f%.xz} ;;
			*.zst) zstd -qdc "$ko" >"$t/lib/modules/${f%.zst}"; f=${f%.zst} ;;
			*.gz) gzip -dc "$ko" >"$t/lib/modules/${f%.gz}"; f=${f%.gz} ;;
			*) cp "$ko" "$t/lib/modules/$f" ;;
			esac
			echo "$f" >>"$t/modules.order"
		done
	fi
	(cd "$t" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1) >"$t.cpio.gz"
	rm -rf "$t"
	mv -f "$t.cpio.gz" "$initrd"   # atomic: a parallel run sees old or new
	# Older keys of this kernel are dead weight.
	for f in "$cache"/initramfs-"$kver"-*.cpio.gz; do
		[ "$f" = "$initrd" ] || rm -f "$f"
	done
}
[ -s "$initrd" ] || build_initramfs

# Under TCG, unpacking the xz bzImage costs ~5 s per boot: boot the
# vmlinux inside it at its PVH entry instead, unpacked once and cached.
# IPSECMSS_VM_PVH=0 boots the image as given.
boot_kernel=$kernel
if [ "${IPSECMSS_VM_PVH:-1}" = 1 ]; then
	kid=$(stat -L -c '%s-%Y-%i' "$kernel" | sha256sum | cut -c1-12)
	pvh="$cache/vmlinux-$kver-$kid"
	if [ -s "$pvh" ]; then
		boot_kernel=$pvh
	elif [ -e "$pvh.none" ]; then
		:  # known to have no PVH entry
	elif python3 "$here/kimage.py" pvh "$kernel" "$pvh"; then
		for f in "$cache"/vmlinux-"$kver"-*; do
			[ "$f" = "$pvh" ] || rm -f "$f"
		done
		boot_kernel=$pvh
	else
		: >"$pvh.none"
	fi
fi

# --- the job, read by the guest over 9p ---
mkdir -p "$build"
# where the console ends up (IPSECMSS_VM_CONSOLE: parallel runs keep their own)
final_console=${IPSECMSS_VM_CONSOLE:-$build/vm-console.log}
run=$(mktemp -d "$build/vm-run.XXXXXX")
# The console is written inside the run dir and moved into place at the
# end, so two runs in one checkout do not write into the same file.
console="$run/console"
results="$run/results"
xtlibdir=$(pkg-config --variable=xtlibdir xtables 2>/dev/null || true)
[ -n "$xtlibdir" ] || xtlibdir=/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/xtables
cat >"$run/job" <<EOF
REPO='$repo'
IPSECMSS_KO='$module'
SCRIPTS='${abs[*]}'
SCRIPT_TIMEOUT='$timeout'
XTLIBDIR='$xtlibdir'
GUEST_ENV='${IPSECMSS_VM_ENV:-}'
EOF
: >"$results"
: >"$console"
tailpid=
cleanup() {
	[ -z "$tailpid" ] || kill "$tailpid" 2>/dev/null || true
	[ ! -f "$console" ] || mv -f "$console" "$final_console"
	rm -rf "$run"
}
trap cleanup EXIT

# Scripts may ask for more time with "# vm-timeout: N" (see guest.sh).
if [ -z "$vm_timeout" ]; then
	vm_timeout=120
	for s in "${abs[@]}"; do
		own=$(head -n 20 "$s" | sed -n 's/^#[[:space:]]*vm-timeout:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
		t=$timeout
		[ -z "$own" ] || [ "$own" -le "$t" ] || t=$own
		vm_timeout=$((vm_timeout + t + 30))
	done
fi

# panic_on_warn/oops=panic: any kernel warning ends the run (and is caught
# as a missing DONE); panic=-1 reboots at once, which -no-reboot turns into
# qemu exiting instead of waiting for the timeout.
cmdline="console=ttyS0 panic_on_warn=1 oops=panic panic=-1 ipsecmss_job=$run/job $extra"

if [ "${IPSECMSS_VM_VERBOSE:-0}" = 1 ]; then
	tail -n +1 -f "$console" >&2 &
	tailpid=$!
fi

start=$(date +%s.%N)
set +e
# ttyS0 is the console (kept in tests/build/vm-console.log), ttyS1 is the
# result channel; no stdin, no monitor (CI has no terminal).
timeout -k 10 "$vm_timeout" qemu-system-x86_64 \
	-accel tcg -smp 2 -m 1024 -nographic -no-reboot -net none \
	-monitor none -serial "file:$console" -serial "file:$results" \
	-kernel "$boot_kernel" -initrd "$initrd" -append "$cmdline" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	${IPSECMSS_QEMU_ARGS:-} </dev/null >"$run/qemu.out" 2>&1
qrc=$?
set -e
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')

# --- turn the result channel into PASS/FAIL lines ---
tr -d '\r' <"$results" >"$run/results.txt"
report="$run/report"
awk -v qrc="$qrc" -v secs="$secs" -v vmt="$vm_timeout" '
function flush(name,   i) {
	if (blockfail) {
		print "---- output of net/" name " ----"
		for (i = 1; i <= n; i++) print "    | " buf[i]
		print "---- end of net/" name " ----"
	}
}
/^IPSECMSS-VM-START/ { started = 1; next }
/^IPSECMSS-VM-BEGIN / { inblock = 1; name = $2; n = 0; blockfail = 0; next }
/^IPSECMSS-VM-END / {
	flush(name); inblock = 0
	if ($4 != "") times = times sprintf(" %s %.1fs", name, $4 / 10)
	next
}
/^IPSECMSS-VM-DONE/ { done = 1; next }
/^IPSECMSS-VM-ERROR: / { err = err " " substr($0, 20); next }
{
	if (inblock) { buf[++n] = $0; if ($0 ~ /^FAIL: /) blockfail = 1 }
	if ($0 ~ /^(PASS|FAIL|SKIP): /) print
	else if (!inblock) print
}
END {
	if (times != "") print "vm: script times:" times > "/dev/stderr"
	if (inblock) {
		print "FAIL: net/" name ": the VM died while it ran"
		blockfail = 1; flush(name)
	}
	if (!done) {
		why = err != "" ? err : (qrc == 124 || qrc == 137 ? " no result after " vmt "s (timeout)" : \
			(started ? " the VM stopped before finishing (panic?)" : " the guest never started"))
		print "FAIL: vm/boot:" why " (qemu exit " qrc ", " secs "s)"
		exit 1
	}
}' "$run/results.txt" >"$report" || {
	# Kernel problems that ended the VM are in the console, not in dmesg.
	pat='WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|Call Trace|refcount_t|Kernel panic'
	if grep -qE "$pat" "$console"; then
		echo "FAIL: vm/kernel-log: $(grep -E "$pat" "$console" | head -1 | tr -d '\r')"
	fi
	if [ -s "$run/qemu.out" ]; then
		echo "---- qemu said ----"; sed 's/^/    | /' "$run/qemu.out"
	fi
	# Show the start of a kernel report (it is what explains the death),
	# else the last 60 lines.
	first=$(grep -nE "cut here|$pat" "$console" | head -1 | cut -d: -f1)
	if [ -n "$first" ]; then
		from=$((first > 5 ? first - 5 : 1))
		echo "---- $console from line $from ----"
		tail -n "+$from" "$console" | head -n 80 | tr -d '\r' | sed 's/^/    | /'
	else
		echo "---- last 60 lines of $console ----"
		tail -n 60 "$console" | tr -d '\r' | sed 's/^/    | /'
	fi
	echo "---- end of console ----"
} >>"$report"
mv -f "$console" "$final_console"
sed -i "s|$console|$final_console|" "$report"
cat "$report"
echo "vm: $kver, ${#abs[@]} script(s), ${secs}s from qemu start to power-off" >&2
! grep -q '^FAIL: ' "$report"
