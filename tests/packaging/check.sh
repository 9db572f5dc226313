#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-packaging`: everything about how IPSECMSS is installed.
#
#   tests/packaging/check.sh [--no-vm] [--vm-only]
#
# Host side (as root: the DKMS build needs it):
#   - one version everywhere (module, dkms.conf, debian/changelog, man page)
#   - ipsecmss(8): renders without a groff warning, and names every option,
#     suite, counter and module parameter the code has
#   - make install / uninstall into a DESTDIR: the right files, no depmod
#   - dkms.conf: DKMS builds the module for every kernel with headers here,
#     each for the kernel DKMS was asked about (never `uname -r`)
#   - make deb: both packages, their contents, lintian without errors
# Then, unless --no-vm, tests/packaging/vm-*.sh in the VM (they install
# the .debs built here, and `make dkms-install`); with a second kernel
# here (image and headers), DKMS across the upgrade to it: vm-upgrade.sh in
# that VM, then vm-upgrade-boot.sh in a VM booted on the newer kernel with
# the module DKMS built (else a SKIP line says why not).
#
# Prints PASS:/FAIL: lines (suite "packaging"); exit 1 if any FAIL.

set -u

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo" || exit 1
# The module (make install, make module) for the kernel `make check` and
# the VM use (tests/vm/kver.sh), not whichever the Makefile's own fallback
# takes when the running kernel has no headers (the newest one here).
# shellcheck source=../vm/kver.sh
. tests/vm/kver.sh
ipsecmss_pick_kver
build=tests/build
mkdir -p "$build"
work=$(mktemp -d "$build/packaging.XXXXXX")
trap 'rm -rf "$work"' EXIT

host=1 vm=1
for a in "$@"; do
	case "$a" in
	--no-vm) vm=0 ;;
	--vm-only) host=0 ;;
	*) echo "check.sh: unknown option $a (--no-vm, --vm-only)" >&2; exit 2 ;;
	esac
done

fails=0
pass() { echo "PASS: packaging/$1"; }
fail() { echo "FAIL: packaging/$1: $2"; fails=$((fails + 1)); }
note() { printf '%s\n' "$@" | sed 's/^/    | /'; }

# --- one version --------------------------------------------------------------
check_versions() {
	local v_mod v_dkms v_deb v_man
	v_mod=$(sed -n 's/^#define IPSECMSS_VERSION "\([^"]*\)"$/\1/p' xt_ipsecmss_main.c)
	v_dkms=$(sed -n 's/^PACKAGE_VERSION="\([^"]*\)"$/\1/p' dkms.conf)
	v_deb=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
	v_deb=${v_deb%-*}
	v_man=$(sed -n 's/^\.TH IPSECMSS 8 "[^"]*" "ipsecmss \([^"]*\)".*/\1/p' ipsecmss.8)
	if [ -n "$v_mod" ] && [ "$v_mod" = "$v_dkms" ] && [ "$v_mod" = "$v_deb" ] &&
		[ "$v_mod" = "$v_man" ]; then
		pass "version-$v_mod"
	else
		fail version "xt_ipsecmss_main.c '$v_mod', dkms.conf '$v_dkms', debian/changelog '$v_deb', ipsecmss.8 '$v_man'"
	fi
	version=$v_mod
}

# --- the man page -------------------------------------------------------------
check_man() {
	local out w missing='' n
	out=$(groff -ww -man -z ipsecmss.8 2>&1)
	if [ -z "$out" ]; then pass man-groff-ww; else fail man-groff-ww "$(echo "$out" | head -c 300)"; fi
	out=$(MANWIDTH=80 man --warnings -l ipsecmss.8 2>&1 >"$work/man.txt")
	if [ -z "$out" ] && [ -s "$work/man.txt" ]; then
		pass man-l
	else
		fail man-l "man --warnings -l ipsecmss.8: $(echo "$out" | head -c 300)"
	fi
	# The rendered text, so that \- and font changes do not matter.
	n=0
	for w in $(sed -n 's/.*\.name = "\([a-z-]*\)".*/\1/p' libxt_ipsecmss.c); do
		n=$((n + 1)); grep -q -- "--$w\b" "$work/man.txt" || missing="$missing --$w"
	done
	[ $n -ge 10 ] || missing="$missing (only $n options found in libxt_ipsecmss.c)"
	for w in $(sed -n 's/.*{ "\([a-z0-9-]*\)", "[^"]*", [0-9].*/\1/p;s/^\t\t{ "\([a-z0-9-]*\)", "[^"]*",$/\1/p' include/ipsecmss_core.h); do
		n=$((n + 1)); grep -q -- "^ *$w\$" "$work/man.txt" || missing="$missing suite:$w"
	done
	for w in $(sed -n 's/.*\[IPSECMSS_C_[A-Z_]*\]\t* *= "\([a-z_]*\)".*/\1/p' xt_ipsecmss_main.c); do
		n=$((n + 1)); grep -q -- "^ *$w\b" "$work/man.txt" || missing="$missing counter:$w"
	done
	for w in $(sed -n 's/^module_param[a-z_]*(\([a-z_0-9]*\),.*/\1/p' xt_ipsecmss_main.c); do
		n=$((n + 1)); grep -q -- "^ *$w=" "$work/man.txt" || missing="$missing param:$w"
	done
	for w in '-j IPSECMSS --set-mss 1360' '--pol ipsec --dir in' '--pol ipsec --dir out' \
		'--tcp-flags SYN,RST SYN -j IPSECMSS --set-mss 1360' 'IPSECMSS --auto' 'strongSwan' 'libreswan'; do
		grep -q -- "$w" "$work/man.txt" || missing="$missing example:'$w'"
	done
	if [ -z "$missing" ] && [ $n -ge 40 ]; then
		pass man-covers-code
	else
		fail man-covers-code "ipsecmss.8 lacks:$missing (checked $n names)"
	fi
}

# --- make install / uninstall into a DESTDIR ----------------------------------
check_install() {
	local d="$PWD/$work/destdir" kver xtlibdir want got
	if ! make --no-print-directory install DESTDIR="$d" >"$work/install.log" 2>&1; then
		fail make-install-destdir "make install DESTDIR= failed"; note "$(tail -n 15 "$work/install.log")"
		return
	fi
	kver=$(modinfo -F vermagic xt_ipsecmss.ko | cut -d' ' -f1)
	xtlibdir=$(pkg-config --variable=xtlibdir xtables)
	want=$(printf '%s\n' "/lib/modules/$kver/updates/xt_ipsecmss.ko" \
		"$xtlibdir/libxt_IPSECMSS.so" /usr/share/man/man8/ipsecmss.8 | sort)
	got=$(cd "$d" && find . ! -type d | sed 's/^\.//' | sort)
	if [ "$got" = "$want" ] && grep -q 'not running depmod' "$work/install.log" &&
		! grep -q '^depmod' "$work/install.log"; then
		pass make-install-destdir
	else
		fail make-install-destdir "files: $(echo "$got" | tr '\n' ' ')(want: $(echo "$want" | tr '\n' ' ')); depmod: $(grep -c depmod "$work/install.log")"
	fi
	make --no-print-directory uninstall DESTDIR="$d" >"$work/uninstall.log" 2>&1
	got=$(cd "$d" && find . ! -type d)
	if [ -z "$got" ]; then
		pass make-uninstall-destdir
	else
		fail make-uninstall-destdir "left: $(echo "$got" | tr '\n' ' ')"
	fi
}

# --- DKMS builds for the kernel it is asked about ------------------------------
check_dkms_conf() {
	local k n=0 t st ko vm
	# shellcheck disable=SC2016 # a literal ${kernel_source_dir} below
	if grep -n 'uname' dkms.conf >"$work/uname"; then
		fail dkms-conf-no-uname "dkms.conf mentions uname: $(cat "$work/uname")"
	elif ! grep -q '^MAKE\[0\]=".*-C \${kernel_source_dir} ' dkms.conf; then
		fail dkms-conf-no-uname "MAKE[0] does not build against \${kernel_source_dir}"
	else
		pass dkms-conf-no-uname
	fi
	if ! command -v dkms >/dev/null; then
		fail dkms-build "dkms is not installed (apt-get install dkms)"; return
	fi
	if [ "$(id -u)" != 0 ]; then
		fail dkms-build "needs root (dkms refuses to build otherwise)"; return
	fi
	# A private source and DKMS tree: the system's /usr/src and /var/lib/dkms
	# are left alone.
	t="$PWD/$work/dkms"
	mkdir -p "$t/src/xt-ipsecmss-$version/include" \
		"$t/src/xt-ipsecmss-$version/scripts" "$t/tree"
	cp dkms.conf Kbuild xt_ipsecmss_main.c ipsecmss_path.c "$t/src/xt-ipsecmss-$version/"
	cp include/*.h "$t/src/xt-ipsecmss-$version/include/"
	cp scripts/ipsecmss-probe.sh "$t/src/xt-ipsecmss-$version/scripts/"
	dk() { dkms --dkmstree "$t/tree" --sourcetree "$t/src" "$@"; }
	if ! dk add -m xt-ipsecmss -v "$version" >"$work/dkms-add.log" 2>&1; then
		fail dkms-add "$(tail -n 5 "$work/dkms-add.log" | tr '\n' ' ')"; return
	fi
	for k in /lib/modules/*/build; do
		[ -e "$k/Makefile" ] || continue
		k=${k#/lib/modules/}; k=${k%/build}
		n=$((n + 1))
		if ! dk build -m xt-ipsecmss -v "$version" -k "$k" >"$work/dkms-$k.log" 2>&1; then
			fail "dkms-build-$k" "dkms build failed"
			note "$(tail -n 20 "$work/dkms-$k.log")"
			[ -f "$t/tree/xt-ipsecmss/$version/build/make.log" ] &&
				note "$(tail -n 20 "$t/tree/xt-ipsecmss/$version/build/make.log")"
			continue
		fi
		ko=$(find "$t/tree/xt-ipsecmss/$version/$k" -name 'xt_ipsecmss.ko*' | head -1)
		vm=$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)
		st=$(grep -ciE 'warning:' "$t/tree/xt-ipsecmss/$version/$k/"*/log/make.log 2>/dev/null)
		if [ "$vm" = "$k" ] && [ "${st:-0}" = 0 ]; then
			pass "dkms-build-$k"
		else
			fail "dkms-build-$k" "module vermagic '$vm' (want $k), ${st:-?} compiler warning(s)"
		fi
	done
	[ $n -gt 0 ] || fail dkms-build "no kernel headers under /lib/modules/*/build (install linux-headers-amd64)"
	dk remove -m xt-ipsecmss -v "$version" --all >/dev/null 2>&1
}

# --- the Debian packages ---------------------------------------------------------
check_deb() {
	local d=tests/build/deb deb want arch
	if ! tests/packaging/build-deb.sh >"$work/deb.log" 2>&1; then
		fail make-deb "$(tail -n 3 "$work/deb.log" | tr '\n' ' ')"
		note "$(cat "$work/deb.log")"
		return
	fi
	pass make-deb
	arch=$(dpkg --print-architecture)
	xtlibdir=$(pkg-config --variable=xtlibdir xtables)

	deb=$d/xt-ipsecmss-dkms_${version}_all.deb
	want=$(printf '%s\n' Kbuild dkms.conf xt_ipsecmss_main.c ipsecmss_path.c include/*.h \
		scripts/ipsecmss-probe.sh |
		sed "s|^|/usr/src/xt-ipsecmss-$version/|"
		printf '%s\n' /usr/share/doc/xt-ipsecmss-dkms/changelog.gz \
			/usr/share/doc/xt-ipsecmss-dkms/copyright)
	check_contents xt-ipsecmss-dkms "$deb" "$want" all 'dkms'

	deb=$d/xtables-ipsecmss_${version}_$arch.deb
	# dh_compress compresses documentation above 4 kB
	readme=/usr/share/doc/xtables-ipsecmss/README.md
	[ "$(stat -c %s README.md)" -le 4096 ] || readme=$readme.gz
	want=$(printf '%s\n' "$xtlibdir/libxt_IPSECMSS.so" \
		/usr/share/man/man8/ipsecmss.8.gz \
		"$readme" \
		/usr/share/doc/xtables-ipsecmss/changelog.gz \
		/usr/share/doc/xtables-ipsecmss/copyright)
	check_contents xtables-ipsecmss "$deb" "$want" "$arch" 'libxtables[0-9]'

	if ! command -v lintian >/dev/null; then
		fail lintian "lintian is not installed (apt-get install lintian)"
		return
	fi
	lintian --allow-root -I "$d"/ipsecmss_"${version}"_"$arch".changes >"$work/lintian" 2>&1
	if grep -q '^E: ' "$work/lintian"; then
		fail lintian "$(grep -c '^E: ' "$work/lintian") error(s)"
	else
		pass lintian
	fi
	[ ! -s "$work/lintian" ] || note "lintian:" "$(cat "$work/lintian")"
}

# check_contents NAME DEB WANTED-FILES ARCH DEPENDS-REGEX
check_contents() {
	local name=$1 deb=$2 want=$3 arch=$4 dep=$5 got a d
	if [ ! -f "$deb" ]; then
		fail "deb-$name" "$deb not built"; return
	fi
	got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sed 's/^\.//' | sort)
	want=$(echo "$want" | sort)
	a=$(dpkg-deb -f "$deb" Architecture)
	d=$(dpkg-deb -f "$deb" Depends)
	if [ "$got" = "$want" ] && [ "$a" = "$arch" ] && grep -qE "(^|, )$dep" <<<"$d"; then
		pass "deb-$name"
	else
		fail "deb-$name" "Architecture '$a' (want $arch), Depends '$d' (want $dep), contents differ"
		note "$(diff <(echo "$want") <(echo "$got"))"
	fi
}

if [ $host = 1 ]; then
	check_versions
	check_man
	check_install
	check_dkms_conf
	check_deb
else
	check_versions >/dev/null
fi

if [ $vm = 1 ]; then
	shopt -s nullglob
	scripts=(tests/packaging/vm-deb.sh tests/packaging/vm-make.sh)
	shopt -u nullglob
	# (for KVER: a module left built for another kernel is rebuilt)
	make --no-print-directory module >"$work/module.log" 2>&1 ||
		{ fail vm "make module failed (the VM harness loads it)"; note "$(tail -n 10 "$work/module.log")"; }
	if [ -f xt_ipsecmss.ko ]; then
		# DKMS across a kernel upgrade (vm-upgrade.sh, then
		# vm-upgrade-boot.sh): from the VM's kernel (the one the module is
		# built for) to the newest kernel after it (sort -V) with an
		# image and headers here; the module DKMS builds for that one
		# comes out of the first VM through a writable 9p share.
		old=$(modinfo -F vermagic xt_ipsecmss.ko | cut -d' ' -f1)
		new=$({ ipsecmss_all_kvers; echo "$old"; } | sort -uV |
			awk -v o="$old" 'f { n = $0 } $0 == o { f = 1 } END { print n }')
		up="$PWD/$build/packaging-upgrade"
		rm -rf "$up"
		env=${IPSECMSS_VM_ENV:-}
		qargs=${IPSECMSS_QEMU_ARGS:-}
		if [ -n "$new" ]; then
			mkdir -p "$up"
			scripts+=(tests/packaging/vm-upgrade.sh)
			env="$env PKG_UPGRADE_KVER=$new PKG_UPGRADE_SHARE=ipsecmss_upgrade"
			qargs="$qargs -virtfs local,path=$up,mount_tag=ipsecmss_upgrade,security_model=none"
		else
			echo "SKIP: packaging/dkms-upgrade: no kernel newer than $old with both /boot/vmlinuz-V and /lib/modules/V/build here (tests/deps.sh installs linux-image-6.12-amd64 and linux-headers-6.12-amd64)"
		fi
		# shellcheck disable=SC2086 # word-split on purpose
		IPSECMSS_VM_ENV=$env IPSECMSS_QEMU_ARGS=$qargs \
			tests/vm/run.sh --module ./xt_ipsecmss.ko --timeout "${IPSECMSS_PACKAGING_TIMEOUT:-1200}" \
			${IPSECMSS_VM_ARGS:-} "${scripts[@]}" || fails=$((fails + 1))
		ko=$(ls "$up"/xt_ipsecmss.ko* 2>/dev/null | head -n 1)
		if [ -n "$new" ] && [ -n "$ko" ]; then
			echo "# the module DKMS built for $new in the VM on $old: ${ko##*/}, $(cat "$up/dkms-status" 2>/dev/null)"
			# shellcheck disable=SC2086 # word-split on purpose
			IPSECMSS_VM_ENV="${IPSECMSS_VM_ENV:-} PKG_UPGRADE_KVER=$new" \
				tests/vm/run.sh ${IPSECMSS_VM_ARGS:-} --kernel "/boot/vmlinuz-$new" \
				--module "$ko" tests/packaging/vm-upgrade-boot.sh || fails=$((fails + 1))
		elif [ -n "$new" ]; then
			fail "dkms-upgrade-boot-$new" "no module for $new came out of the VM on $old (see net/packaging-upgrade above)"
		fi
	fi
fi

[ $fails -eq 0 ]
