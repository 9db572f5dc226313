#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 900
#
# --auto through the devices that hide an SA (xfrm interface, vti, IP-in-IP
# over ESP transport) on the sanitizer kernel: the module resolves their
# bundles with xfrm lookups on the packet path, in softirq context, which
# is what DEBUG_ATOMIC_SLEEP and lockdep watch.  The scenes of
# tests/net/55-auto-exact.sh, their assertions unchanged.

export AUTO_EXACT_SCENES="xfrmi vti transport"
exec bash "${REPO:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/net/55-auto-exact.sh"
