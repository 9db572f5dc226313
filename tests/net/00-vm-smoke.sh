#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Smoke test of the VM harness itself: the module is loaded, namespaces and
# veth work, a ping gets through.  Fails first if the VM plumbing is broken,
# before any behaviour test is worth reading.

set -u

pass() { echo "PASS: net/$1"; }
fail() { echo "FAIL: net/$1: $2"; }

if grep -q '^xt_ipsecmss ' /proc/modules; then
	pass smoke-module-loaded
else
	fail smoke-module-loaded "xt_ipsecmss not in /proc/modules"
fi

a=smoke-a-$$ b=smoke-b-$$
cleanup() { ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null; }
trap cleanup EXIT

if ip netns add "$a" && ip netns add "$b" &&
	ip link add veth0 netns "$a" type veth peer name veth1 netns "$b" &&
	ip -n "$a" addr add 192.0.2.1/24 dev veth0 &&
	ip -n "$b" addr add 192.0.2.2/24 dev veth1 &&
	ip -n "$a" addr add 2001:db8::1/64 dev veth0 nodad &&
	ip -n "$b" addr add 2001:db8::2/64 dev veth1 nodad &&
	ip -n "$a" link set veth0 up && ip -n "$b" link set veth1 up &&
	ip -n "$a" link set lo up && ip -n "$b" link set lo up; then
	pass smoke-netns-veth
else
	fail smoke-netns-veth "could not build two namespaces joined by veth"
	exit 1
fi

# iputils' ping is not always installed; busybox-static always is.
if command -v ping >/dev/null; then ping=ping; else ping="busybox ping"; fi

if out=$(ip netns exec "$a" $ping -c 1 -W 5 192.0.2.2 2>&1); then
	pass smoke-ping
else
	fail smoke-ping "$(echo "$out" | tail -1)"
fi

if out=$(ip netns exec "$a" $ping -6 -c 1 -W 5 2001:db8::2 2>&1); then
	pass smoke-ping6
else
	fail smoke-ping6 "$(echo "$out" | tail -1)"
fi

# XTABLES_LIBDIR must reach the checkout first and still find the system's
# own extensions (a standard match loads from the second entry).
case "${XTABLES_LIBDIR:-}" in
"$REPO":*) pass smoke-xtables-libdir ;;
*) fail smoke-xtables-libdir "XTABLES_LIBDIR=${XTABLES_LIBDIR:-} does not start with $REPO" ;;
esac
if ip netns exec "$a" iptables-legacy -A INPUT -p tcp -m tcp --dport 9 -j ACCEPT 2>/tmp/smoke-ipt.err; then
	pass smoke-iptables
else
	fail smoke-iptables "$(tr '\n' ' ' </tmp/smoke-ipt.err)"
fi
