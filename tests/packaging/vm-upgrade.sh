#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS across a kernel upgrade, first half (inside the test VM booted on
# the old kernel, as root, on the throwaway overlay root):
#   - the newer kernel PKG_UPGRADE_KVER (its image, modules and /boot
#     files) is hidden, its headers are left: the machine before the
#     upgrade, as dkms' own postinst sees it (it builds for the running
#     kernel and for the newest /boot/config-*, so a visible newer kernel
#     would be built for already);
#   - dpkg -i xt-ipsecmss-dkms + xtables-ipsecmss: DKMS builds for the
#     running kernel only;
#   - the newer image "is installed": its files appear (what dpkg's unpack
#     does), then what its postinst (linux-image-V.postinst configure)
#     does for DKMS: `depmod V`, then the hooks the way linux-run-hooks
#     runs them (DEB_MAINT_PARAMS=configure run-parts --arg=V
#     --arg=/boot/vmlinuz-V /etc/kernel/postinst.d), limited to the dkms
#     hook: initramfs-tools' (mkinitramfs, minutes under emulation) and
#     the boot loader's are Debian's business, not this package's;
#   - DKMS has built and installed xt_ipsecmss for V: dkms status, the .ko
#     under /lib/modules/V/updates/dkms with V's vermagic, modinfo -k V
#     finds it;
#   - that .ko[.xz] (and the dkms status) goes out through the writable 9p
#     share PKG_UPGRADE_SHARE, for tests/packaging/vm-upgrade-boot.sh,
#     which boots V with it (tests/packaging/check.sh runs both);
#   - dpkg --purge removes the module of both kernels.
#
# Environment (IPSECMSS_VM_ENV from tests/packaging/check.sh):
# PKG_UPGRADE_KVER, PKG_UPGRADE_SHARE (a 9p mount tag).  The .debs come
# from tests/build/deb/ (make deb) like vm-deb.sh's.

set -u
export PKG_SUITE=packaging-upgrade
# shellcheck source=vm-lib.sh
. "$REPO/tests/packaging/vm-lib.sh"

NEW=${PKG_UPGRADE_KVER:-}
share=${PKG_UPGRADE_SHARE:-}
out=/run/ipsecmss-upgrade-out
hidden=

upgrade_cleanup() {
	local m
	for m in $hidden; do umount "$m" 2>/dev/null; done
	umount /run/ipsecmss-boot-real 2>/dev/null
	umount "$out" 2>/dev/null
	pkg_cleanup
}
trap upgrade_cleanup EXIT

if [ -z "$NEW" ] || [ -z "$share" ]; then
	echo "SKIP: net/$PKG_SUITE: no newer kernel named (PKG_UPGRADE_KVER, PKG_UPGRADE_SHARE: tests/packaging/check.sh sets them)"
	exit 0
fi
if [ "$NEW" = "$PKG_KVER" ] || [ ! -r "/boot/vmlinuz-$NEW" ] || [ ! -e "/lib/modules/$NEW/build/Makefile" ]; then
	fail kernel "PKG_UPGRADE_KVER=$NEW: want another kernel than the running $PKG_KVER, with /boot/vmlinuz-$NEW and /lib/modules/$NEW/build"
	exit 1
fi

mkdir -p "$out"
if ! mount -t 9p -o trans=virtio,version=9p2000.L "$share" "$out" 2>"$PKG_LOG/share"; then
	fail share "mount of the 9p share '$share': $(tailof "$PKG_LOG/share")"
	exit 1
fi
rm -f "$out"/*

pkg_find_debs || exit 1
echo "# upgrade: running $PKG_KVER, newer kernel $NEW, xt-ipsecmss $PKG_VERSION"

pkg_start || exit 1

# --- before: the newer kernel's image is not there, its headers are --------
# /boot: a tmpfs of links to every file but the newer kernel's;
# /lib/modules/NEW: a tmpfs with only the headers' build and source links.
stamp "hiding $NEW's image"
mkdir -p /run/ipsecmss-boot-real
hide_new() {
	local f
	mount --bind /boot /run/ipsecmss-boot-real || return 1
	mount -t tmpfs -o mode=755 ipsecmss-boot /boot || return 1
	hidden="/boot"
	for f in /run/ipsecmss-boot-real/*; do
		case "${f##*/}" in *"-$NEW") continue ;; esac
		ln -s "$f" "/boot/${f##*/}"
	done
	mkdir -p /run/ipsecmss-new-headers
	cp -a "/lib/modules/$NEW/build" /run/ipsecmss-new-headers/ || return 1
	[ ! -L "/lib/modules/$NEW/source" ] || cp -a "/lib/modules/$NEW/source" /run/ipsecmss-new-headers/
	mount -t tmpfs -o mode=755 ipsecmss-new "/lib/modules/$NEW" || return 1
	hidden="/lib/modules/$NEW $hidden"
	cp -a /run/ipsecmss-new-headers/. "/lib/modules/$NEW/"
}
if hide_new && [ ! -e "/boot/config-$NEW" ] && [ ! -e "/lib/modules/$NEW/kernel" ] &&
	[ -e "/lib/modules/$NEW/build/Makefile" ]; then
	pass "before-upgrade-$NEW-hidden"
else
	fail "before-upgrade-$NEW-hidden" "could not hide $NEW's image (its /boot files and modules)"
	exit 1
fi

stamp "dpkg -i"
if dpkg -i "$PKG_DKMS_DEB" "$PKG_PLUGIN_DEB" >"$PKG_LOG/install" 2>&1; then
	pass dpkg-install
else
	fail dpkg-install "dpkg -i exited $?: $(tailof "$PKG_LOG/install")"
fi
stamp "dpkg -i done"
grep -v '^debconf: ' "$PKG_LOG/install" | sed 's/^/# dpkg: /'

# (dkms status prints readelf warnings on stderr; "added" alone, with no
# kernel, means built for none)
st_old=$(dkms status -m $PKG_DKMS_NAME -v "$PKG_VERSION" -k "$PKG_KVER" 2>/dev/null)
st_new=$(dkms status -m $PKG_DKMS_NAME -v "$PKG_VERSION" -k "$NEW" 2>/dev/null)
if [[ "$st_old" != *": installed"* ]]; then
	fail "dkms-$PKG_KVER-only-before-upgrade" "dkms status for $PKG_KVER: '$st_old'"
elif [[ "$st_new" == *"$NEW"* ]]; then
	fail "dkms-$PKG_KVER-only-before-upgrade" "$NEW already has: '$st_new'"
else
	pass "dkms-$PKG_KVER-only-before-upgrade"
fi

# --- the upgrade: the image's files appear, then its postinst's DKMS part ---
stamp "installing $NEW's image"
for m in $hidden; do umount "$m" || fail unhide "umount $m"; done
hidden=
umount /run/ipsecmss-boot-real
if [ -r "/boot/vmlinuz-$NEW" ] && [ -e "/boot/config-$NEW" ] && [ -d "/lib/modules/$NEW/kernel" ]; then
	pass "image-$NEW-unpacked"
else
	fail "image-$NEW-unpacked" "/boot/vmlinuz-$NEW, /boot/config-$NEW or /lib/modules/$NEW/kernel missing"
fi
# The trimmed module tree (vm-lib.sh) for this kernel too: its depmod and
# DKMS's would take minutes on the full one under emulation.
pkg_fast_setup "$NEW" || fail setup "could not trim /lib/modules/$NEW"
echo "# postinst of linux-image-$NEW: depmod $NEW; DEB_MAINT_PARAMS=configure run-parts --report --exit-on-error --arg=$NEW --arg=/boot/vmlinuz-$NEW --regex '^dkms\$' /etc/kernel/postinst.d"
if depmod "$NEW" >"$PKG_LOG/hook" 2>&1 &&
	DEB_MAINT_PARAMS=configure run-parts --report --exit-on-error \
		--arg="$NEW" --arg="/boot/vmlinuz-$NEW" --regex '^dkms$' /etc/kernel/postinst.d \
		>>"$PKG_LOG/hook" 2>&1; then
	pass "postinst-dkms-hook-$NEW"
else
	fail "postinst-dkms-hook-$NEW" "exited $?: $(tailof "$PKG_LOG/hook")"
fi
stamp "hook done"
sed 's/^/# hook: /' "$PKG_LOG/hook"

st_new=$(dkms status -m $PKG_DKMS_NAME -v "$PKG_VERSION" -k "$NEW" 2>/dev/null)
echo "# dkms status: $(dkms status -m $PKG_DKMS_NAME 2>/dev/null | tr '\n' ';')"
case "$st_new" in
*": installed"*) pass "dkms-built-for-$NEW" ;;
*) fail "dkms-built-for-$NEW" "dkms status for $NEW: '$st_new'" ;;
esac
ko=$(ls "/lib/modules/$NEW/updates/dkms/$PKG_MOD.ko"* 2>/dev/null | head -n 1)
vm=$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)
found=$(modinfo -k "$NEW" -n $PKG_MOD 2>/dev/null)
if [ -n "$ko" ] && [ "$vm" = "$NEW" ] && [ "$found" = "$ko" ]; then
	pass "dkms-module-for-$NEW"
else
	fail "dkms-module-for-$NEW" "module '$ko', vermagic '$vm', modinfo -k $NEW -n: '$found'"
fi
# (as DKMS installed it: 6.12's is xt_ipsecmss.ko.xz, which insmod takes)
if [ -n "$ko" ] && cp "$ko" "$out/" && echo "$st_new" >"$out/dkms-status" &&
	modinfo "$ko" >"$out/modinfo" 2>&1; then
	pass "module-out-for-boot"
else
	fail "module-out-for-boot" "could not copy '$ko' to the share"
fi
echo "# $(modinfo "$ko" 2>/dev/null | grep -E '^(filename|version|srcversion|vermagic):' | tr -s ' \n' '  ')"

# --- purge: the module of both kernels goes -----------------------------------
stamp "dpkg --purge"
if dpkg --purge xtables-ipsecmss xt-ipsecmss-dkms >"$PKG_LOG/purge" 2>&1; then
	pass dpkg-purge
else
	fail dpkg-purge "dpkg --purge exited $?: $(tailof "$PKG_LOG/purge")"
fi
stamp "dpkg --purge done"
left=$(find "/lib/modules/$PKG_KVER" "/lib/modules/$NEW" -name "$PKG_MOD.ko*" 2>/dev/null)
st=$(dkms status -m $PKG_DKMS_NAME 2>/dev/null)
if [ -z "$left" ] && [ -z "$st" ]; then
	pass purge-both-kernels
else
	fail purge-both-kernels "left: '$(echo "$left" | tr '\n' ' ')' dkms: '$st'"
fi
stamp "end"
