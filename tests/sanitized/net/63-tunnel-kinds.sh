#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vm-timeout: 600
#
# --auto through tunnels carried over ESP transport, on the sanitizer
# kernel: keyed GRE over IPv4 (the outer flow's GRE key; IPv4 and IPv6
# inside), VXLAN (its own route lookup: UDP, VXLAN and the inner Ethernet
# header; IPv4 and IPv6 inside) and Geneve, a device kind the module does
# not know (counted, nothing may crash).  The cases of
# tests/net/63-tunnels-over-esp.sh, their assertions unchanged; the stock
# kernels run all of them (tests/sanitized/check.sh runs this instead of
# the full script unless SANITIZED_FULL=1).

export TUNNELS_OVER_ESP_CASES="gre-key vxlan geneve"
exec bash "${REPO:-$(cd "$(dirname "$0")/../../.." && pwd)}/tests/net/63-tunnels-over-esp.sh"
