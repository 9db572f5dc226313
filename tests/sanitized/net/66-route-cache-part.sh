#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 900
#
# --auto's route and mirror caches on the sanitizer kernel, one step per
# way an entry is dropped: a learnt PMTU exception toward the peer (the
# route's ->check() fails), a rekey (the mirror SA's genid moves, then the
# new SA is deleted), and the IPv6 outer header's fib6 cookie.  The steps of
# tests/net/66-route-cache.sh, their assertions unchanged; the stock
# kernels run all of them (tests/sanitized/check.sh runs this instead of
# the full script unless SANITIZED_FULL=1).

export ROUTE_CACHE_STEPS="peer_pmtu rekey outer6"
exec bash "${REPO:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/net/66-route-cache.sh"
