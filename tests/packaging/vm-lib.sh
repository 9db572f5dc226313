# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers of the tests/packaging/vm-*.sh scripts (sourced; inside the
# test VM as root, on the throwaway overlay root).  Not a test itself: it
# lives outside tests/net so the harness does not run it.
#
# Speed (TCG emulation, root over 9p), measured on the project's machine:
# a full `depmod -a` of Debian's 4000 modules takes 85-140 s and the man-db
# trigger 150 s on a cold cache, each run on install and again on removal.
# pkg_fast_setup trims both, in the overlay only:
#   - /lib/modules/V of every installed kernel (the running one, and the
#     newest /boot/config-* one DKMS' postinst also builds for) is
#     replaced, for the script's lifetime, by a
#     tmpfs tree holding every module directory but drivers/ and sound/
#     (bind mounts, no copy): depmod, DKMS's install and modprobe then work
#     the real way on 800 modules; pkg_fast_teardown puts the original back.
#   - the man-db trigger is turned off (/var/lib/man-db/auto-update, what
#     debconf's man-db/auto-update=false does): `man -w` needs no index.
# IPSECMSS_PACKAGING_FULL=1 skips both, to measure the untrimmed cost.

PKG_T0=$SECONDS
PKG_KVER=$(uname -r)
PKG_MOD=xt_ipsecmss
PKG_DKMS_NAME=xt-ipsecmss
PKG_LOG=$(mktemp -d /tmp/packaging.XXXXXX)
PKG_FAST=
PKG_NS=ipsecmss-pkg-$$

# The harness points XTABLES_LIBDIR at the checkout; an installed plugin
# must be found without it.
unset XTABLES_LIBDIR
PKG_XTLIBDIR=$(pkg-config --variable=xtlibdir xtables 2>/dev/null)
[ -n "$PKG_XTLIBDIR" ] ||
	PKG_XTLIBDIR=/usr/lib/$(gcc -dumpmachine 2>/dev/null || echo x86_64-linux-gnu)/xtables

pass() { echo "PASS: net/$PKG_SUITE-$1"; }
fail() { echo "FAIL: net/$PKG_SUITE-$1: $2"; }
stamp() { echo "# +$((SECONDS - PKG_T0))s $*"; }
# quote a log file's last lines into a failure reason
tailof() { tail -n "${2:-5}" "$1" 2>/dev/null | tr '\n' ' '; }

# pkg_fast_setup [KVER]: trim /lib/modules/KVER (default: the running
# kernel's) as above; the man-db trigger goes off with the first call.
pkg_fast_setup() {
	local k=${1:-$PKG_KVER} real fast d f
	real=/lib/modules/$k
	case " $PKG_FAST " in *" $k "*) return 0 ;; esac
	if [ "${IPSECMSS_PACKAGING_FULL:-0}" = 1 ]; then
		echo "# IPSECMSS_PACKAGING_FULL=1: full module tree, man-db trigger on"
		return 0
	fi
	rm -f /var/lib/man-db/auto-update
	fast=/run/ipsecmss-modules/$k
	mkdir -p "$fast/kernel"
	PKG_FAST="$PKG_FAST $k"
	# The original indexes stay valid for every module the trimmed tree
	# keeps, so no depmod is needed until something is installed.
	for f in "$real"/modules.* "$real"/build "$real"/source; do
		if [ -e "$f" ] || [ -L "$f" ]; then cp -a "$f" "$fast/" || return 1; fi
	done
	for d in "$real"/kernel/*/; do
		d=${d%/}
		case ${d##*/} in drivers|sound) continue ;; esac
		mkdir "$fast/kernel/${d##*/}"
		mount --bind "$d" "$fast/kernel/${d##*/}" || return 1
	done
	mount --rbind "$fast" "$real" || return 1
	# Anything outside kernel/ (updates/, extra/: another install on the
	# host) is not in the trimmed tree; its index entries must go too.
	if grep -qv '^kernel/' "$real/modules.dep"; then
		depmod -a "$k"
	fi
}

pkg_fast_teardown() {
	local k d
	[ -n "$PKG_FAST" ] || return 0
	for k in $PKG_FAST; do
		umount -R "/lib/modules/$k" 2>/dev/null
		for d in /run/ipsecmss-modules/"$k"/kernel/*; do
			umount "$d" 2>/dev/null
		done
	done
	rm -rf /run/ipsecmss-modules
	PKG_FAST=
}

pkg_cleanup() {
	ip netns del "$PKG_NS" 2>/dev/null
	[ ! -d /sys/module/$PKG_MOD ] || pkg_rmmod
	pkg_fast_teardown
	rm -rf "$PKG_LOG"
}

# Unload, waiting out an asynchronous namespace teardown that pins it.
pkg_rmmod() {
	local _
	for _ in $(seq 1 50); do
		[ -d /sys/module/$PKG_MOD ] || return 0
		rmmod $PKG_MOD 2>"$PKG_LOG/rmmod" && return 0
		sleep 0.2
	done
	return 1
}

# Every place an install of IPSECMSS puts a file, that exists now.
pkg_leftovers() {
	find /lib/modules/"$PKG_KVER" \( -name "$PKG_MOD.ko" -o -name "$PKG_MOD.ko.*" \) 2>/dev/null
	ls -d "$PKG_XTLIBDIR/libxt_IPSECMSS.so" /usr/share/man/man8/ipsecmss.8* \
		/usr/local/share/man/man8/ipsecmss.8* /usr/src/$PKG_DKMS_NAME-* \
		/var/lib/dkms/$PKG_DKMS_NAME 2>/dev/null
}

# The start of a script: the harness has insmod'ed the checkout's module,
# and whatever the host has installed (a `make install`, the packages)
# would make the checks pass by itself.  Unload the one, drop the other in
# the overlay, trim the module tree, and make sure modprobe knows nothing.
pkg_start() {
	local p pre
	if ! pkg_rmmod; then
		fail rmmod-harness-module "$(cat "$PKG_LOG/rmmod")"
		return 1
	fi
	stamp "trimming the module tree"
	if ! pkg_fast_setup "$PKG_KVER"; then
		fail setup "could not set up the trimmed module tree"
		return 1
	fi
	# DKMS' postinst also builds for the newest /boot/config-* kernel:
	# trim every other installed kernel's tree too.
	for p in /boot/config-*; do
		p=${p#/boot/config-}
		[ "$p" != "$PKG_KVER" ] && [ -d "/lib/modules/$p/kernel" ] || continue
		pkg_fast_setup "$p" || { fail setup "could not trim /lib/modules/$p"; return 1; }
	done
	for p in xtables-ipsecmss xt-ipsecmss-dkms; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			echo "# the host has $p installed: purging it in the VM's overlay first"
			dpkg --purge "$p" >"$PKG_LOG/pre-purge" 2>&1 || sed 's/^/# /' "$PKG_LOG/pre-purge"
		fi
	done
	pre=$(pkg_leftovers)
	if [ -n "$pre" ]; then
		echo "# the host has IPSECMSS files installed; removed in the VM's overlay:" $pre
		# shellcheck disable=SC2086 # one path per line, no spaces
		rm -rf $pre
		depmod -a "$PKG_KVER"
	fi
	if modprobe -n $PKG_MOD 2>/dev/null; then
		fail clean-start "modprobe -n $PKG_MOD succeeds before anything is installed"
		return 1
	fi
	pass clean-start
}

# pkg_check_module DIR: modprobe finds the module under DIR, modinfo
# describes it fully, it loads with a parameter that reads back.
pkg_check_module() {
	local dir=$1 file info bad='' f p got
	file=$(modinfo -n $PKG_MOD 2>/dev/null)
	case "$file" in
	"$dir"/$PKG_MOD.ko*) pass module-file ;;
	*) fail module-file "modinfo -n $PKG_MOD: '$file' (expected under $dir)" ;;
	esac

	info=$(modinfo $PKG_MOD 2>/dev/null)
	for f in description license; do
		grep -q "^$f: *[^ ]" <<<"$info" || bad="$bad no $f;"
	done
	grep -q "^version: *$PKG_VERSION\$" <<<"$info" || bad="$bad version is not $PKG_VERSION;"
	for p in min_mss_ipv4 min_mss_ipv6 insert_missing log_rewrites; do
		grep -q "^parm: *$p:[^ ]" <<<"$info" || bad="$bad no described parm $p;"
	done
	if [ -z "$bad" ]; then pass modinfo; else fail modinfo "$bad"; fi

	if modprobe $PKG_MOD min_mss_ipv4=600 2>"$PKG_LOG/modprobe"; then
		got=$(cat /sys/module/$PKG_MOD/parameters/min_mss_ipv4 2>/dev/null)
		if [ "$got" = 600 ]; then
			pass modprobe-param
		else
			fail modprobe-param "min_mss_ipv4 reads back '$got', not 600"
		fi
	else
		fail modprobe-param "modprobe $PKG_MOD min_mss_ipv4=600: $(tailof "$PKG_LOG/modprobe")"
	fi
}

# The installed plugin, found without XTABLES_LIBDIR: a rule goes in and
# iptables-save shows it, for legacy and nft, IPv4 and IPv6, in a fresh
# namespace.
pkg_check_rules() {
	local v fam ipt name saved
	if [ -f "$PKG_XTLIBDIR/libxt_IPSECMSS.so" ]; then
		pass plugin-file
	else
		fail plugin-file "$PKG_XTLIBDIR/libxt_IPSECMSS.so missing"
	fi
	ip netns add "$PKG_NS"
	for v in legacy nft; do
		for fam in 4 6; do
			ipt=iptables-$v
			[ $fam = 6 ] && ipt=ip6tables-$v
			name=rule-$v-ipv$fam
			if ! ip netns exec "$PKG_NS" "$ipt" -t mangle -A FORWARD -p tcp \
				-j IPSECMSS --set-mss 1360 2>"$PKG_LOG/$name"; then
				fail "$name" "$ipt -j IPSECMSS --set-mss 1360: $(tailof "$PKG_LOG/$name")"
				continue
			fi
			saved=$(ip netns exec "$PKG_NS" "$ipt-save" -t mangle 2>&1)
			if grep -qx -- '-A FORWARD -p tcp -j IPSECMSS --set-mss 1360' <<<"$saved"; then
				pass "$name"
			else
				fail "$name" "$ipt-save does not show the rule: $(grep -- '-A FORWARD' <<<"$saved" | tr '\n' ' ')"
			fi
		done
	done
	ip netns del "$PKG_NS"
}

pkg_check_man() {
	local page
	page=$(man -w ipsecmss 2>&1)
	case "$page" in
	"$1"/man8/ipsecmss.8*) pass man-page ;;
	*) fail man-page "man -w ipsecmss: '$page' (expected under $1)" ;;
	esac
}

# pkg_check_nothing_left NAME: no file, no DKMS registration, no module
# modprobe could find.
pkg_check_nothing_left() {
	local left st
	left=$(pkg_leftovers)
	st=$(dkms status -m $PKG_DKMS_NAME 2>&1)
	if [ -z "$left" ] && [ -z "$st" ] && ! modprobe -n $PKG_MOD 2>/dev/null; then
		pass "$1"
	else
		fail "$1" "files: '$(echo "$left" | tr '\n' ' ')' dkms: '$st'$(modprobe -n $PKG_MOD 2>/dev/null && echo ' modprobe still finds the module')"
	fi
}

# pkg_find_debs: the .debs `make deb` left in tests/build/deb/, one of each
# kind: sets PKG_DKMS_DEB, PKG_PLUGIN_DEB and PKG_VERSION (the upstream part
# of the dkms package's version).  On anything else: FAIL debs, return 1.
pkg_find_debs() {
	local debdir="$REPO/tests/build/deb" dkms plugin
	shopt -s nullglob
	dkms=("$debdir"/xt-ipsecmss-dkms_*_all.deb)
	plugin=("$debdir"/xtables-ipsecmss_*_*.deb)
	shopt -u nullglob
	if [ ${#dkms[@]} -ne 1 ] || [ ${#plugin[@]} -ne 1 ]; then
		fail debs "need one xt-ipsecmss-dkms_*_all.deb and one xtables-ipsecmss_*.deb in tests/build/deb/ (found ${#dkms[@]} and ${#plugin[@]}): run 'make deb' on the host before the VM tests"
		return 1
	fi
	PKG_DKMS_DEB=${dkms[0]}
	PKG_PLUGIN_DEB=${plugin[0]}
	PKG_VERSION=$(dpkg-deb -f "$PKG_DKMS_DEB" Version)
	PKG_VERSION=${PKG_VERSION%-*}
}
