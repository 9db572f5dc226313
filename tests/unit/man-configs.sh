#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The IKE daemon configurations the man page prints are the files the VM
# tests run (tests/net/ike/*-gateway.conf): one source.  Each file must
# appear in the rendered page whole, line after line, so that neither can
# change without the other.

set -u
cd "$(dirname "$0")/../.." || exit 1
page=$(mktemp)
trap 'rm -f "$page"' EXIT
if ! groff -man -Tutf8 -P-cbou ipsecmss.8 2>/dev/null | expand >"$page" || [ ! -s "$page" ]; then
	echo "FAIL: unit/man-configs: groff could not render ipsecmss.8"
	exit 0
fi
for f in tests/net/ike/swanctl-gateway.conf tests/net/ike/libreswan-gateway.conf; do
	python3 - "$f" "$page" <<'PY'
import sys
conf = [l.strip() for l in open(sys.argv[1]) if l.strip()]
page = [l.strip() for l in open(sys.argv[2]) if l.strip()]
# '-' renders as U+2010/U+2212 in some devices: compare on ASCII
norm = lambda s: s.replace('\u2010', '-').replace('\u2212', '-').replace('\u2019', "'").replace('\u201c', '"').replace('\u201d', '"')
conf = [norm(l) for l in conf]
page = [norm(l) for l in page]
name = "unit/man-prints-" + sys.argv[1].split('/')[-1]
for i in range(len(page)):
    if page[i:i + len(conf)] == conf:
        print("PASS: " + name)
        sys.exit(0)
# say where it diverges
best, at = 0, 0
for i in range(len(page)):
    n = 0
    while n < len(conf) and i + n < len(page) and page[i + n] == conf[n]:
        n += 1
    if n > best:
        best, at = n, i
print("FAIL: %s: the page does not print it whole; first %d line(s) match, then the file says %r" %
      (name, best, conf[best] if best < len(conf) else ''))
PY
done
