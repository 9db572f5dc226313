#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The Makefile's own installers, run from the checkout inside the test VM
# (as root, on the throwaway overlay root):
#   make install     -> module in /lib/modules/<ver>/updates, depmod,
#                       plugin in xtables' dir, man page; modprobe with a
#                       parameter, a rule without XTABLES_LIBDIR, man -w;
#                       make uninstall leaves nothing
#   make dkms-install -> DKMS builds the module for the running kernel;
#                       modprobe with a parameter; make dkms-uninstall
#                       leaves nothing (no module, source or DKMS tree)
# `make install` is given the harness's already built module and plugin
# (make -o: nothing is recompiled here), so it tests the installing, not
# the build.  About 3-4 minutes under emulation (tests/packaging/vm-lib.sh).

set -u
export PKG_SUITE=packaging-make
# shellcheck source=vm-lib.sh
. "$REPO/tests/packaging/vm-lib.sh"
trap pkg_cleanup EXIT

PKG_VERSION=$(sed -n 's/^#define IPSECMSS_VERSION "\([^"]*\)"$/\1/p' "$REPO/xt_ipsecmss_main.c")
mk() { make --no-print-directory -C "$REPO" "$@"; }

pkg_start || exit 1

# --- make install -------------------------------------------------------------
if [ ! -f "$REPO/xt_ipsecmss.ko" ] || [ ! -f "$REPO/libxt_IPSECMSS.so" ]; then
	fail install "the checkout has no built xt_ipsecmss.ko and libxt_IPSECMSS.so (make all on the host)"
else
	stamp "make install"
	if mk -o xt_ipsecmss.ko -o libxt_IPSECMSS.so install >"$PKG_LOG/install" 2>&1; then
		pass install
	else
		fail install "make install: $(tailof "$PKG_LOG/install")"
	fi
	grep -q '^depmod -a ' "$PKG_LOG/install" || fail install-depmod "make install did not run depmod"
	pkg_check_module "/lib/modules/$PKG_KVER/updates"
	pkg_check_rules
	pkg_check_man /usr/share/man
	pkg_rmmod || fail rmmod "$(cat "$PKG_LOG/rmmod")"
	if mk uninstall >"$PKG_LOG/uninstall" 2>&1; then
		pass uninstall
	else
		fail uninstall "make uninstall: $(tailof "$PKG_LOG/uninstall")"
	fi
	pkg_check_nothing_left uninstall-leaves-nothing
fi

# --- make dkms-install --------------------------------------------------------
export PKG_SUITE=packaging-dkms
stamp "make dkms-install"
if mk dkms-install >"$PKG_LOG/dkms-install" 2>&1; then
	pass install
else
	fail install "make dkms-install: $(tailof "$PKG_LOG/dkms-install" 10)"
	sed 's/^/# /' "$PKG_LOG/dkms-install"
fi
stamp "make dkms-install done"
st=$(dkms status -m $PKG_DKMS_NAME -v "$PKG_VERSION" -k "$PKG_KVER" 2>&1)
case "$st" in
*": installed"*) pass built-for-running-kernel ;;
*) fail built-for-running-kernel "dkms status for $PKG_KVER: '$st'" ;;
esac
if [ -f "/usr/src/$PKG_DKMS_NAME-$PKG_VERSION/dkms.conf" ] &&
	[ ! -e "/usr/src/$PKG_DKMS_NAME-$PKG_VERSION/Makefile" ]; then
	pass source-tree
else
	fail source-tree "/usr/src/$PKG_DKMS_NAME-$PKG_VERSION: $(ls "/usr/src/$PKG_DKMS_NAME-$PKG_VERSION" 2>&1 | tr '\n' ' ')"
fi
pkg_check_module "/lib/modules/$PKG_KVER/updates/dkms"
pkg_rmmod || fail rmmod "$(cat "$PKG_LOG/rmmod")"

stamp "make dkms-uninstall"
if mk dkms-uninstall >"$PKG_LOG/dkms-uninstall" 2>&1; then
	pass uninstall
else
	fail uninstall "make dkms-uninstall: $(tailof "$PKG_LOG/dkms-uninstall")"
fi
pkg_check_nothing_left uninstall-leaves-nothing
stamp "end"
