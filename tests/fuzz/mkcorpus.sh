#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Writes the seed corpus tests/fuzz/corpus/ (committed; run this only to
# change it).  Each seed is one input of fuzz_core.c:
#   control byte, target MSS (2 bytes), TCP header, payload
# control: bits 0-1 checksum mode (1 FULL, 2 PARTIAL, 0 NONE), bit 2 IPv6
# pseudo-header, bit 3 keep the header's own check field.

set -eu
out=$(cd "$(dirname "$0")" && pwd)/corpus
mkdir -p "$out"
rm -f "$out"/*

# bytes "02 04 05 b4 ..." -> those bytes on stdout
bytes() {
	local h
	for h in $1; do printf '%b' "\\x$h"; done
}

# seed NAME CTL TARGET FLAGS OPTIONS [PAYLOAD [DOFF]]
# The data offset is (20 + options) / 4 unless DOFF is given.
seed() {
	local name=$1 ctl=$2 target=$3 flags=$4 opts=$5 pl=${6:-} doff=${7:-}
	local n
	n=$(wc -w <<<"$opts")
	[ -n "$doff" ] || doff=$(( (20 + n) / 4 ))
	{
		bytes "$ctl"
		bytes "$(printf '%02x %02x' $((target >> 8)) $((target & 255)))"
		# ports 50000 -> 443, sequence, ack, data offset, flags, window
		bytes "c3 50 01 bb 9a 3b 10 07 00 00 00 00"
		bytes "$(printf %02x $((doff << 4)))"
		bytes "$flags fa f0 5e 11 00 00"
		bytes "$opts"
		bytes "$pl"
	} >"$out/$name"
}

SYN=02
SYNACK=12
TS="08 0a 8a 1c 33 07 00 00 00 00"

# real stacks
seed linux-syn-v4           01 1360 $SYN    "02 04 05 b4 04 02 $TS 01 03 03 07"
seed linux-synack-v6-partial 06 1366 $SYNACK "02 04 05 a0 04 02 $TS 01 03 03 07"
seed windows-syn-v4         01 1406 $SYN    "02 04 05 b4 01 03 03 08 01 01 04 02"
seed android-syn-v6         05 1366 $SYN    "02 04 05 78 04 02 $TS 01 03 03 09"
seed macos-syn-eol-v4       03 1300 $SYN    "02 04 05 b4 01 03 03 06 01 01 $TS 04 02 00 00"
# every alignment of the MSS value; an odd payload behind one of them
seed mss-at-21-v4           01 1360 $SYN    "01 02 04 05 b4 01 01 01"
seed mss-at-22-odd-payload  05 1360 $SYN    "01 01 02 04 05 b4 01 01" "de ad be ef 01 02 03"
seed mss-at-23-v6           05 1000 $SYN    "01 01 01 02 04 05 b4 01"
seed mss-even-payload       01 1360 $SYN    "02 04 ff ff" "00 01 02 03 04 05 06 07 08 09"
# several MSS options
seed two-mss                01 1360 $SYN    "02 04 05 b4 01 02 04 23 28 01 01 01"
seed three-mss-v6-partial   06 1200 $SYN    "02 04 02 18 02 04 05 b4 01 01 02 04 ff ff 01 01"
seed ten-mss                01 1400 $SYN    "02 04 05 b4 02 04 05 78 02 04 05 dc 02 04 02 18 02 04 ff ff 02 04 00 00 02 04 05 50 02 04 05 51 02 04 05 4f 02 04 04 00"
# no MSS: the insertion path (with room, and a full 60-byte header)
seed no-options             01 536  $SYN    ""
seed linux-no-mss-v6        05 1220 $SYN    "04 02 $TS 01 03 03 07"
seed full-60-no-mss         01 1360 $SYN    "01 01 $TS 01 01 05 12 00 00 00 01 00 00 00 02 00 00 00 03 00 00 00 04 01 03 03 0e"
# malformed lists
seed zero-length-option     01 1360 $SYN    "02 04 05 b4 1e 00 01 01"
seed length-1               01 1360 $SYN    "08 01 01 01"
seed length-past-end        01 1360 $SYN    "02 04 05 b4 08 0a 00 00"
seed mss-kind-last-byte     01 1360 $SYN    "02 04 05 b4 01 01 01 02"
seed mss-length-3           01 1360 $SYN    "02 03 05 b4"
seed mss-length-5           01 1360 $SYN    "02 05 05 b4 00 01 01 01"
# data offsets the glue clamps: past the data, below 5
seed doff-past-data         01 1360 $SYN    "02 04 05 b4" "" 15
seed doff-below-5           01 1360 $SYN    "02 04 05 b4" "" 2
# a check field kept as it came (wrong): it must stay wrong
seed kept-bad-checksum      09 1360 $SYN    "01 02 04 05 b4 01 01 01"
