# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Sourced by tests/check.sh, tests/demo/demo.sh and tests/bench/run.sh.
# The module is tested in a VM booting /boot/vmlinuz-<its vermagic>, so it
# is built for a kernel that has both headers and an image here; Debian's
# generic flavour is preferred (cloud/rt lack drivers the VM needs).
# KVER or KDIR from the caller win.  Exports KVER when it picks one.

ipsecmss_pick_kver() {
	local b v pick='' generic=''

	[ -z "${KVER:-}" ] && [ -z "${KDIR:-}" ] || return 0
	for b in /lib/modules/*/build; do
		v=${b#/lib/modules/}; v=${v%/build}
		[ -e "$b/Makefile" ] && [ -r "/boot/vmlinuz-$v" ] || continue
		pick="$pick $v"
		[[ "$v" =~ ^[0-9.]+-[0-9]+-amd64$ ]] && generic="$generic $v"
	done
	# shellcheck disable=SC2086
	v=$(printf '%s\n' ${generic:-$pick} | sort -V | tail -n 1)
	[ -z "$v" ] || export KVER="$v"
}

# Every kernel here with both an image (/boot/vmlinuz-V) and headers
# (/lib/modules/V/build), oldest first, one per line: what `make check`
# runs the VM suite on.  IPSECMSS_KERNELS="W..." keeps those a word names:
# the whole name (6.1.0-57-amd64) or a version prefix that ends at a "."
# or "-" of it (6.12 takes 6.12.117+deb12-amd64, 6.1 only 6.1.*).
ipsecmss_all_kvers() {
	local b v w keep
	for b in /lib/modules/*/build; do
		v=${b#/lib/modules/}; v=${v%/build}
		[ -e "$b/Makefile" ] && [ -r "/boot/vmlinuz-$v" ] || continue
		if [ -n "${IPSECMSS_KERNELS:-}" ]; then
			keep=
			for w in $IPSECMSS_KERNELS; do
				case "$v" in "$w"|"$w".*|"$w"-*) keep=1 ;; esac
			done
			[ -n "$keep" ] || continue
		fi
		echo "$v"
	done | sort -V
}
