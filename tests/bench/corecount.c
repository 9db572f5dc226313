// SPDX-License-Identifier: GPL-2.0
/*
 * corecount: instructions the pure core (include/ipsecmss_core.h) spends
 * on one SYN, for `make bench`, counted by callgrind:
 *
 *   valgrind --tool=callgrind --collect-atstart=no --toggle-collect=per_syn \
 *       corecount LAYOUT CASE [N]
 *
 * per_syn() does what ipsecmss_tg() does with the TCP header once it has
 * it in hand (flags, data offset, walk, then clamp or insert), in FULL
 * checksum mode; only its own instructions are collected, N times (the
 * fresh copy of the header each call starts from is not).  Ir / N is the
 * cost per SYN.
 *
 * LAYOUT: linux   MSS,SACK_PERM,TS,NOP,WS       (Linux SYN, 40-byte header)
 *         windows MSS,NOP,WS,NOP,NOP,SACK_PERM  (Windows SYN, 32 bytes)
 *         mss     MSS only                      (24 bytes)
 *         none    no option at all              (20 bytes: insertion)
 *         nomss   SACK_PERM,TS,NOP,WS, no MSS   (36 bytes: insertion)
 * CASE:   rewrite   target 1360 below the SYN's 1460
 *         unchanged target 1460, nothing to write
 * Without valgrind it just runs and prints the result of the last call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipsecmss_core.h"

#if defined(__GNUC__) && !defined(__clang__)
#define NOIPA __attribute__((noipa))
#else
#define NOIPA __attribute__((noinline))
#endif

/* 0: passed on, 1: rewritten, 2: inserted, 3: dropped */
NOIPA int per_syn(unsigned char *th, unsigned int len, unsigned int target);

NOIPA int per_syn(unsigned char *th, unsigned int len, unsigned int target)
{
	struct ipsecmss_walk w;
	enum ipsecmss_result r;
	unsigned int doff;

	if (!(ipsecmss_flags(th) & IPSECMSS_TCP_SYN))
		return 0;
	doff = ipsecmss_doff(th);
	if (doff < IPSECMSS_TCPHDR_MIN || doff > len)
		return 3;
	r = ipsecmss_walk(th, doff, &w);
	if (r == IPSECMSS_MALFORMED)
		return 3;
	if (r == IPSECMSS_NO_MSS)
		return ipsecmss_insert(th, doff, target < 536 ? target : 536,
				       IPSECMSS_CSUM_FULL) ? 2 : 0;
	if (w.max_mss <= target)
		return 0;
	r = ipsecmss_rewrite(th, doff, &w, target, IPSECMSS_CSUM_FULL);
	return r == IPSECMSS_REWRITTEN;
}

static const unsigned char base[20] = {
	0xc3, 0x50, 0x00, 0x50,		/* ports 50000 -> 80 */
	0x12, 0x34, 0x56, 0x78,		/* seq */
	0x00, 0x00, 0x00, 0x00,		/* ack */
	0x00, 0x02,			/* doff (set below), SYN */
	0xfa, 0xf0,			/* window 64240 */
	0xab, 0xcd,			/* checksum */
	0x00, 0x00,			/* urgent */
};

static const struct {
	const char *name;
	unsigned int len;
	unsigned char opt[40];
} layouts[] = {
	{ "linux", 20, { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0,
			 1, 3, 3, 7 } },
	{ "windows", 12, { 2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2 } },
	{ "mss", 4, { 2, 4, 0x05, 0xb4 } },
	{ "none", 0, { 0 } },
	{ "nomss", 16, { 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7 } },
};

int main(int argc, char **argv)
{
	unsigned char tmpl[64], th[64];
	unsigned int target, n = 1000, i, k, hdr;
	int r = -1;

	if (argc < 3) {
		fprintf(stderr, "usage: corecount LAYOUT rewrite|unchanged [N]\n");
		return 2;
	}
	for (k = 0; k < sizeof(layouts) / sizeof(*layouts); k++)
		if (!strcmp(argv[1], layouts[k].name))
			break;
	if (k == sizeof(layouts) / sizeof(*layouts)) {
		fprintf(stderr, "corecount: unknown layout %s\n", argv[1]);
		return 2;
	}
	if (!strcmp(argv[2], "rewrite"))
		target = 1360;
	else if (!strcmp(argv[2], "unchanged"))
		target = 1460;
	else
		return 2;
	if (argc > 3)
		n = (unsigned int)strtoul(argv[3], NULL, 0);

	hdr = 20 + layouts[k].len;
	memcpy(tmpl, base, 20);
	memcpy(tmpl + 20, layouts[k].opt, layouts[k].len);
	tmpl[12] = (unsigned char)((hdr / 4) << 4);
	for (i = 0; i < n; i++) {
		memcpy(th, tmpl, sizeof(th));
		r = per_syn(th, hdr, target);
	}
	printf("%s %s result=%d doff=%u mss_opt=%u\n", argv[1], argv[2], r,
	       ipsecmss_doff(th),
	       th[20] == 2 ? ipsecmss_get16(th + 22) : 0);
	return 0;
}
