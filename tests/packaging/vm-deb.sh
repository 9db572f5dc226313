#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Debian packages, installed the way an operator installs them (inside
# the test VM, as root, on the throwaway overlay root):
#   dpkg -i xt-ipsecmss-dkms + xtables-ipsecmss -> DKMS builds the module
#   for the running kernel; modinfo describes it; modprobe with a parameter;
#   the installed plugin is found without XTABLES_LIBDIR; a rule goes in and
#   saves back (legacy and nft, IPv4 and IPv6); man finds the page;
#   dpkg -r, then --purge, leave no module, plugin, page, source or DKMS
#   tree behind.
#
# The .debs are built on the host first (`make deb` -> tests/build/deb/);
# the VM only installs them.  Needs the host's dkms and the headers of the
# VM's kernel (linux-headers-amd64), both reached through the 9p root.
# About 4-5 minutes under emulation: see tests/packaging/vm-lib.sh.

set -u
export PKG_SUITE=packaging
# shellcheck source=vm-lib.sh
. "$REPO/tests/packaging/vm-lib.sh"
trap pkg_cleanup EXIT

pkg_find_debs || exit 1
pass debs

pkg_start || exit 1

# --- install ----------------------------------------------------------------
stamp "dpkg -i"
if dpkg -i "$PKG_DKMS_DEB" "$PKG_PLUGIN_DEB" >"$PKG_LOG/install" 2>&1; then
	pass dpkg-install
else
	fail dpkg-install "dpkg -i exited $?: $(tailof "$PKG_LOG/install")"
fi
stamp "dpkg -i done"
grep -v '^debconf: ' "$PKG_LOG/install" | sed 's/^/# dpkg: /'

st=$(dkms status -m $PKG_DKMS_NAME -v "$PKG_VERSION" -k "$PKG_KVER" 2>&1)
case "$st" in
*": installed"*) pass dkms-built-for-running-kernel ;;
*) fail dkms-built-for-running-kernel "dkms status for $PKG_KVER: '$st'" ;;
esac

pkg_check_module "/lib/modules/$PKG_KVER/updates/dkms"
pkg_check_rules
pkg_check_man /usr/share/man

# --- remove, purge: nothing left --------------------------------------------
pkg_rmmod || fail rmmod "$(cat "$PKG_LOG/rmmod")"
stamp "dpkg -r"
if dpkg -r xtables-ipsecmss xt-ipsecmss-dkms >"$PKG_LOG/remove" 2>&1; then
	pass dpkg-remove
else
	fail dpkg-remove "dpkg -r exited $?: $(tailof "$PKG_LOG/remove")"
fi
stamp "dpkg -r done"
sed 's/^/# dpkg: /' "$PKG_LOG/remove"
pkg_check_nothing_left remove-leaves-nothing

if dpkg --purge xtables-ipsecmss xt-ipsecmss-dkms >"$PKG_LOG/purge" 2>&1; then
	pass dpkg-purge
else
	fail dpkg-purge "dpkg --purge exited $?: $(tailof "$PKG_LOG/purge")"
fi
known=
for p in xtables-ipsecmss xt-ipsecmss-dkms; do
	s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)
	case "$s" in ''|un*) ;; *) known="$known $p:$s" ;; esac
done
if [ -z "$known" ] && [ ! -e "/usr/src/$PKG_DKMS_NAME-$PKG_VERSION" ] &&
	[ -z "$(ls /var/lib/dpkg/info/xt-ipsecmss-dkms.* /var/lib/dpkg/info/xtables-ipsecmss[.:]* 2>/dev/null)" ]; then
	pass purge-forgotten
else
	fail purge-forgotten "dpkg still knows:$known $(echo /var/lib/dpkg/info/xt-ipsecmss-dkms.* /var/lib/dpkg/info/xtables-ipsecmss[.:]*)"
fi
pkg_check_nothing_left purge-leaves-nothing
stamp "end"
