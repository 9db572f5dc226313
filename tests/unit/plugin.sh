#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# unit/plugin: libxt_IPSECMSS.so on the host, without a kernel.
#
# 1. builds the plugin (make plugin) and tests/build/plugin_driver, which
#    loads the plugin through libxtables (XTABLES_LIBDIR) and drives its
#    parse / check / print / save / xlate for IPv4 and IPv6 against the
#    hand-written tables in plugin_driver.c;
# 2. runs the real iptables-translate / ip6tables-translate /
#    iptables-restore-translate (xtables-nft) with the fresh plugin;
# 3. when nft and `unshare -n` are there, loads the translations into a
#    throwaway network namespace to show nft accepts them.
#
# One line per assertion: PASS: unit/plugin-<name> / FAIL: unit/plugin-<name>:
# <why> (SKIP: lines for checks this machine cannot run); exit 1 on failure.

set -u

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$REPO/tests/build
CC=${CC:-cc}
failed=0

pass() { echo "PASS: unit/plugin-$1"; }
fail() { echo "FAIL: unit/plugin-$1: $2"; failed=1; }
skip() { echo "SKIP: unit/plugin-$1: $2"; }
oneline() { tr '\n' ' ' | cut -c1-400; }

mkdir -p "$BUILD"

# --- build ---------------------------------------------------------------
if out=$(make -s -C "$REPO" plugin 2>&1); then
	pass build
else
	fail build "make plugin failed: $(printf '%s' "$out" | tail -n 5 | oneline)"
	exit 1
fi

# shellcheck disable=SC2046 # pkg-config output is meant to be split
if out=$($CC -std=c11 -Wall -Wextra -Werror -O2 -g -I"$REPO/include" \
	$(pkg-config --cflags xtables) \
	-o "$BUILD/plugin_driver" "$REPO/tests/unit/plugin_driver.c" \
	$(pkg-config --libs xtables) -ldl 2>&1); then
	pass build-driver
else
	fail build-driver "$(printf '%s' "$out" | tail -n 5 | oneline)"
	exit 1
fi

SYSXT=$(pkg-config --variable=xtlibdir xtables 2>/dev/null)
[ -n "$SYSXT" ] || SYSXT=/usr/lib/$($CC -dumpmachine)/xtables
# the checkout first, so its libxt_IPSECMSS.so wins over an installed one;
# the system's dir after it for tcp, tcpmss and the standard target
export XTABLES_LIBDIR="$REPO:$SYSXT"
export IPSECMSS_PLUGIN="$REPO/libxt_IPSECMSS.so"
# the floor the plugin checks against is the loaded module's; here there
# is none, whatever this machine has loaded (the driver tests the reading)
export IPSECMSS_SYSFS_PARAMS="$BUILD/no-such-module/parameters"

# --- the plugin through libxtables ---------------------------------------
"$BUILD/plugin_driver" || failed=1

# --- the real iptables-translate ------------------------------------------
# xt_case NAME TOOL WANT_RC STDOUT_PATTERN STDERR_PATTERN -- ARGS...
# Patterns are fixed strings ("" = anything); the stdout one must match
# the whole output when it starts with "=", else be contained in it.
XT_OUT=""
xt_case() {
	local name=$1 tool=$2 want_rc=$3 want_out=$4 want_err=$5
	shift 6
	local out err rc
	err=$(mktemp)
	out=$("$tool" "$@" 2>"$err")
	rc=$?
	XT_OUT=$out
	if [ "$want_rc" = 0 ] && [ "$rc" != 0 ]; then
		fail "$name" "$tool $* exited $rc: $(oneline <"$err")"
	elif [ "$want_rc" != 0 ] && [ "$rc" = 0 ]; then
		fail "$name" "$tool $* was accepted: $(printf '%s' "$out" | oneline)"
	elif [ "${want_out#=}" != "$want_out" ] && [ "$out" != "${want_out#=}" ]; then
		fail "$name" "got \"$out\", want \"${want_out#=}\""
	elif [ "${want_out#=}" = "$want_out" ] && [[ "$out" != *"$want_out"* ]]; then
		fail "$name" "\"$out\" lacks \"$want_out\""
	elif [[ "$(cat "$err")" != *"$want_err"* ]]; then
		fail "$name" "stderr \"$(oneline <"$err")\" lacks \"$want_err\""
	else
		pass "$name"
	fi
	rm -f "$err"
}

NFT_1360="tcp flags & syn == syn tcp option maxseg size > 1360 tcp option maxseg size set 1360"
RULE=(-t mangle -A FORWARD -p tcp -j IPSECMSS)

if ! command -v iptables-translate >/dev/null ||
   ! command -v ip6tables-translate >/dev/null; then
	skip translate "iptables-translate (package iptables) not installed"
else
	xt_case translate-v4-set-mss iptables-translate 0 \
		"=nft 'add rule ip mangle FORWARD ip protocol tcp counter $NFT_1360'" "" \
		-- "${RULE[@]}" --set-mss 1360
	V4=$XT_OUT
	xt_case translate-v6-set-mss ip6tables-translate 0 \
		"=nft 'add rule ip6 mangle FORWARD meta l4proto tcp counter $NFT_1360'" "" \
		-- "${RULE[@]}" --set-mss 1360
	V6=$XT_OUT
	xt_case translate-v4-seed-rule iptables-translate 0 \
		"tcp option maxseg size 1361-1536 counter $NFT_1360'" "" \
		-- -t mangle -A FORWARD -o eth0 -p tcp -m tcp --tcp-flags SYN,RST SYN \
		-m tcpmss --mss 1361:1536 -j IPSECMSS --set-mss 1360
	# (1500-36-16)&~3 = 1448, -2-40 = 1406; IPv6: (1500-56-16)&~3-2-60 = 1366
	xt_case translate-v4-esp-mtu iptables-translate 0 \
		"tcp option maxseg size > 1406 tcp option maxseg size set 1406'" "" \
		-- "${RULE[@]}" --esp aes-gcm-16 --mtu 1500
	xt_case translate-v6-esp-mtu ip6tables-translate 0 \
		"tcp option maxseg size > 1366 tcp option maxseg size set 1366'" "" \
		-- "${RULE[@]}" --esp aes-gcm-16 --mtu 1500
	xt_case translate-v4-overhead-mtu iptables-translate 0 \
		"tcp option maxseg size > 1387 tcp option maxseg size set 1387'" "" \
		-- "${RULE[@]}" --overhead 73 --mtu 1500
	# no equivalent: iptables-translate prints the rule as a comment
	xt_case translate-v4-auto-none iptables-translate 0 \
		"=nft # -t mangle -A FORWARD -p tcp -j IPSECMSS --auto " \
		"IPSECMSS: --auto has no nftables equivalent" \
		-- "${RULE[@]}" --auto
	xt_case translate-v4-auto-mtu-none iptables-translate 0 \
		"=nft # -t mangle -A FORWARD -p tcp -j IPSECMSS --auto --mtu 1500 " \
		"IPSECMSS: --auto has no nftables equivalent" \
		-- "${RULE[@]}" --auto --mtu 1500
	xt_case translate-v6-auto-mtu-none ip6tables-translate 0 \
		"nft # " "(--mtu 9000 only caps the underlay, it does not fix the MSS)" \
		-- "${RULE[@]}" --auto --mtu 9000 --fallback-mss 1300
	xt_case translate-v4-refuse-auto-mtu-575 iptables-translate 2 "" \
		"IPSECMSS: --mtu 575 is out of range 576-65535" \
		-- "${RULE[@]}" --auto --mtu 575
	xt_case translate-v6-refuse-auto-mtu-floor ip6tables-translate 2 "" \
		"no MSS above 1219 can come out, below the floor 1220 (the default of min_mss_ipv6, assumed: the module xt_ipsecmss is not loaded" \
		-- "${RULE[@]}" --auto --mtu 1279
	xt_case translate-v6-esp-route-none ip6tables-translate 0 \
		"nft # " "IPSECMSS: --esp without --mtu has no nftables equivalent" \
		-- "${RULE[@]}" --esp aes-gcm-16 --natt
	xt_case translate-v4-overhead-route-none iptables-translate 0 \
		"nft # " "--overhead without --mtu has no nftables equivalent" \
		-- "${RULE[@]}" --overhead 58
	# refusals come through the real front end too
	xt_case translate-v4-refuse-0 iptables-translate 2 "" \
		"IPSECMSS: --set-mss 0 is out of range 1-65495 for IPv4" \
		-- "${RULE[@]}" --set-mss 0
	xt_case translate-v6-refuse-65476 ip6tables-translate 2 "" \
		"IPSECMSS: --set-mss 65476 is out of range 1-65475 for IPv6" \
		-- "${RULE[@]}" --set-mss 65476
	xt_case translate-v4-refuse-no-mode iptables-translate 2 "" \
		"IPSECMSS: no mode given" -- "${RULE[@]}"
	xt_case translate-v4-refuse-suite iptables-translate 2 "" \
		"IPSECMSS: unknown ESP suite \"aes-gcm-17\"; known: aes-gcm-8" \
		-- "${RULE[@]}" --esp aes-gcm-17
	xt_case translate-v4-help iptables-translate 0 "--fallback-mss" "" \
		-- -j IPSECMSS --help

	if command -v iptables-restore-translate >/dev/null; then
		dump=$(mktemp)
		printf '*mangle\n-A FORWARD -p tcp -j IPSECMSS --set-mss 1360\n-A FORWARD -p tcp -j IPSECMSS --auto\n-A FORWARD -p tcp -j IPSECMSS --auto --mtu 1500\nCOMMIT\n' >"$dump"
		xt_case translate-restore iptables-restore-translate 0 \
			"add rule ip mangle FORWARD ip protocol tcp counter $NFT_1360" \
			"" -- -f "$dump"
		if [[ "$XT_OUT" != *"# -t mangle -A FORWARD -p tcp -j IPSECMSS --auto"* ]]; then
			fail translate-restore-none "--auto not left as a comment: $(printf '%s' "$XT_OUT" | oneline)"
		else
			pass translate-restore-none
		fi
		if [[ "$XT_OUT" != *"# -t mangle -A FORWARD -p tcp -j IPSECMSS --auto --mtu 1500"* ]]; then
			fail translate-restore-auto-mtu "--auto --mtu 1500 not left as a comment: $(printf '%s' "$XT_OUT" | oneline)"
		else
			pass translate-restore-auto-mtu
		fi
		rm -f "$dump"
	fi

	# --- nft itself accepts what came out ----------------------------
	if ! command -v nft >/dev/null; then
		skip translate-nft-accepts "nft (package nftables) not installed"
	elif ! unshare -n true 2>/dev/null; then
		skip translate-nft-accepts "cannot make a network namespace here"
	else
		script=$(mktemp)
		{
			echo "add table ip mangle"
			echo "add chain ip mangle FORWARD { type filter hook forward priority -150; }"
			v=${V4#nft \'}; echo "${v%\'}"
			echo "add table ip6 mangle"
			echo "add chain ip6 mangle FORWARD { type filter hook forward priority -150; }"
			v=${V6#nft \'}; echo "${v%\'}"
		} >"$script"
		out=$(unshare -n sh -c "nft -f '$script' && nft list ruleset" 2>&1)
		n=$(printf '%s\n' "$out" | grep -c "tcp flags & syn == syn tcp option maxseg size > 1360 tcp option maxseg size set 1360")
		if [ "$n" = 2 ]; then
			pass translate-nft-accepts
		else
			fail translate-nft-accepts "nft: $(printf '%s' "$out" | oneline)"
		fi
		rm -f "$script"
	fi
fi

exit $failed
