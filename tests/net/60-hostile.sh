#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Hostile traffic: thousands of random and mutated segments from a fixed
# seed (tests/net/hostile.py) through the gateway, once per mode and
# frontend, IPv4 and IPv6 together; everything that reaches the server is
# captured and checked: valid checksums (or exactly as invalid as sent), no
# MSS above the target, nothing but MSS bytes changed, malformed SYNs
# dropped and valid segments delivered, and the counters account for every
# segment.  The targets are worked out here by hand:
#
#   --set-mss 1360                  1360 / 1360
#   --esp aes-gcm-16 --mtu 1500     tunnel mode, outer header = the rule's
#       family; ESP header 8 + IV 8, ICV 16, block 1 (aligned to 4), then
#       2 bytes of pad length / next header:
#       IPv4: ((1500 - 20 - 16 - 16) & ~3) - 2 = 1446 -> MSS 1446 - 40 = 1406
#       IPv6: ((1500 - 40 - 16 - 16) & ~3) - 2 = 1426 -> MSS 1426 - 60 = 1366
#   --overhead 80 --mtu 1500        1500 - 80 - 40 = 1380 / 1500 - 80 - 60 = 1360
#   --auto                          no IPsec here: the smaller of the route
#       MTUs, 1400 toward the server (set below), 1500 back to the client:
#       1400 - 40 = 1360 / 1400 - 60 = 1340
# (all above the default floors 536 / 1220, so the floors play no part).
#
# HOSTILE_SEED and HOSTILE_PER_RUN override the seed and the segments per
# run (8 runs).

set -u
. "$(dirname "$0")/lib.sh"

SEED=${HOSTILE_SEED:-60601}
PER_RUN=${HOSTILE_PER_RUN:-625}
HOSTILE="$LIB_DIR/hostile.py"
t_start=$(date +%s)

kmsg_mark="60-hostile: start $$"
echo "$kmsg_mark" >/dev/kmsg 2>/dev/null

if ! net_setup; then
	fail hostile/setup "could not build the client/gateway/server namespaces"
	exit 1
fi
# the server side is narrower, so that --auto has something to find
ip -n "$NS_G" link set g1 mtu 1400 && ip -n "$NS_S" link set s0 mtu 1400 ||
	fail hostile/setup "cannot set MTU 1400 toward the server"
if ip netns exec "$NS_G" test -r /proc/net/stat/ipsecmss; then
	pass hostile/netns-counters
else
	fail hostile/netns-counters "no /proc/net/stat/ipsecmss in the gateway namespace"
	exit 1
fi

# label fw mode target4 target6 rule-options (legacy first, then nft)
runs=(
	"set-legacy legacy set 1360 1360 --set-mss 1360"
	"esp-legacy legacy esp 1406 1366 --esp aes-gcm-16 --mtu 1500"
	"overhead-legacy legacy overhead 1380 1360 --overhead 80 --mtu 1500"
	"auto-legacy legacy auto 1360 1340 --auto"
	"set-nft nft set 1360 1360 --set-mss 1360"
	"esp-nft nft esp 1406 1366 --esp aes-gcm-16 --mtu 1500"
	"overhead-nft nft overhead 1380 1360 --overhead 80 --mtu 1500"
	"auto-nft nft auto 1360 1340 --auto"
)
runargs=()
for r in "${runs[@]}"; do runargs+=(--run "$r"); done

# One process for every run (python starts slowly under emulation): it
# installs each run's rules on the gateway's mangle FORWARD chain (a rule
# "-i g0" counting what reaches the hook, "-i g0 -p tcp" counting what the
# target is handed, then the IPSECMSS rule), sends, captures and checks.
out=$("$PY" -S "$HOSTILE" suite --seed "$SEED" --count "$PER_RUN" "${runargs[@]}" \
	--client "$NS_C" --gw "$NS_G" --server "$NS_S" \
	--client-if c0 --server-if s0 --gw-if g0 \
	--client-mac "$MAC_C" --gw-mac "$MAC_G0" \
	--src4 "$P4" --dst4 "$S4" --src6 "$P6" --dst6 "$S6" 2>&1)
rc=$?
echo "$out" | grep -v '^sent='
total=$(echo "$out" | sed -n 's/^sent=\([0-9]*\)$/\1/p')
if [ "$rc" != 0 ] || [ -z "$total" ]; then
	fail hostile/run "hostile.py exited $rc: $(echo "$out" | tail -3 | tr '\n' ' ')"
	total=${total:-0}
fi

if [ "$total" -ge 3000 ]; then
	pass hostile/segments-sent
else
	fail hostile/segments-sent "only $total segments sent (at least 3000 wanted)"
fi

# The harness checks the whole log too; this names the script that did it.
pat='WARNING:|BUG:|Oops|general protection|KASAN|UBSAN|Call Trace|refcount_t|xt_ipsecmss:'
new=$(dmesg | sed -n "/$kmsg_mark/,\$p" | grep -E "$pat")
if [ -z "$new" ]; then
	pass hostile/kernel-log-clean
else
	fail hostile/kernel-log-clean "$(echo "$new" | head -1) ($(echo "$new" | wc -l) lines)"
fi

echo "hostile: $total segments sent (seed $SEED, $PER_RUN per run) in $(($(date +%s) - t_start))s"
