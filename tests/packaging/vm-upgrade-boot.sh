#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS across a kernel upgrade, second half (inside a VM booted on the
# newer kernel): the harness has insmod'ed the module DKMS built for this
# kernel in tests/packaging/vm-upgrade.sh (IPSECMSS_KO, taken out of that
# VM through a 9p share).  Checks:
#   - the running kernel is PKG_UPGRADE_KVER;
#   - the loaded module is that file (srcversion) and built for this
#     kernel (vermagic);
#   - with the plugin of the xtables-ipsecmss .deb (unpacked, not the
#     checkout's), `-p tcp -j IPSECMSS --set-mss 1360` on the gateway
#     rewrites a real connection's SYN and SYN-ACK to MSS 1360 on the wire
#     (seen at the other end), iptables-legacy and -nft, IPv4 and IPv6.

set -u
# shellcheck source=../net/lib.sh
. "$REPO/tests/net/lib.sh"
S=packaging-upgrade
want=${PKG_UPGRADE_KVER:-}
run=$(uname -r)

if [ -n "$want" ] && [ "$run" = "$want" ]; then
	pass "$S-booted-$run"
else
	fail "$S-booted-$run" "running $run, PKG_UPGRADE_KVER is '$want'"
fi

vm=$(modinfo -F vermagic "$IPSECMSS_KO" 2>/dev/null | cut -d' ' -f1)
sv=$(modinfo -F srcversion "$IPSECMSS_KO" 2>/dev/null)
loaded=$(cat /sys/module/xt_ipsecmss/srcversion 2>/dev/null)
if [ "$vm" = "$run" ] && [ -n "$sv" ] && [ "$loaded" = "$sv" ]; then
	pass "$S-dkms-module-loaded-on-$run"
else
	fail "$S-dkms-module-loaded-on-$run" "$IPSECMSS_KO: vermagic '$vm', srcversion '$sv'; loaded srcversion '$loaded'"
fi
echo "# $(modinfo "$IPSECMSS_KO" 2>/dev/null | grep -E '^(version|srcversion|vermagic):' | tr -s ' \n' '  ')"

# The packaged plugin, unpacked (its files are kernel independent).
shopt -s nullglob
deb=("$REPO"/tests/build/deb/xtables-ipsecmss_*_*.deb)
shopt -u nullglob
xtdir=$(pkg-config --variable=xtlibdir xtables 2>/dev/null)
if [ ${#deb[@]} = 1 ] && dpkg-deb -x "${deb[0]}" "$NET_TMP/deb" &&
	[ -f "$NET_TMP/deb$xtdir/libxt_IPSECMSS.so" ]; then
	export XTABLES_LIBDIR="$NET_TMP/deb$xtdir:$xtdir"
else
	fail "$S-plugin" "no xtables-ipsecmss .deb in tests/build/deb (make deb) with $xtdir/libxt_IPSECMSS.so"
	exit 1
fi

if ! net_setup; then
	fail "$S-setup" "could not build the client/gw/server namespaces"
	exit 1
fi
pkt_start
for fw in legacy nft; do
	for fam in 4 6; do
		t=v$fam-$fw
		gw_rules "$S-rule-$t" $fw $fam "-p tcp -j IPSECMSS --set-mss 1360" || continue
		pkt connect fam=$fam
		expect "$S-mss-rewritten-$t-on-$run" "$PKT_OUT" connected=yes \
			syn=1 syn.mss=1360 syn.csum=ok synack=1 synack.mss=1360 synack.csum=ok \
			'd.rewritten>=2'
		gw_rules "$S-flush-$t" $fw $fam
	done
done
exit 0
