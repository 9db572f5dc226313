#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 900
#
# --auto on the paths real gateways have, on the sanitizer kernel, the two
# cases whose code the other sanitized scripts do not reach: from_secpath
# (2c: a PMTU exception toward the peer, learnt from an ICMP error quoting
# the gateway's own ESP) and no ACQUIRE on the module's behalf (7: the xfrm
# lookup of a reply toward a policy without an SA, in softirq context).
# The cases of tests/net/58-auto-paths.sh, their assertions unchanged; the
# stock kernels run all of them (tests/sanitized/check.sh runs this instead of the full
# script unless SANITIZED_FULL=1).

export AUTO_PATHS_CASES="7 2c"
exec bash "${REPO:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/net/58-auto-paths.sh"
