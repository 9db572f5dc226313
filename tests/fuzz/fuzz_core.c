// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target over the pure core, include/ipsecmss_core.h.
 *
 * Input layout (tests/fuzz/corpus/ holds examples):
 *   byte 0     control: bits 0-1 checksum mode (0 NONE, 1 FULL,
 *              2 PARTIAL, 3 FULL), bit 2 IPv6 pseudo-header, bit 3 keep
 *              the input's check field as it is (otherwise it is first
 *              made right for the mode), bits 4-7 vary the source address
 *              and, with the segment's first byte, pick an ESP suite
 *   bytes 1-2  target MSS, big endian (also an MTU for the ESP check)
 *   bytes 3..  a TCP segment: the header, then payload
 *
 * The header length comes from the data offset the way the kernel glue
 * gets it: clamped to 20..60 and to the whole words the input holds (a
 * short input is padded with zeros to 20), and the data offset nibble is
 * rewritten to match.  What follows the header is payload (at most 1500
 * bytes).
 *
 * Each run: the walk (against an independent walk written here), the
 * clamp, a second clamp, a rewrite driven by a forged walk, the insertion
 * into a buffer with exactly 4 spare bytes, and a clamp of the result.  Every header is copied into a
 * heap buffer of its exact size, so ASan sees any access past it.  An
 * invariant that does not hold prints "ipsecmss fuzz invariant: ..." and
 * aborts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipsecmss_core.h"

#define MAX_PAYLOAD 1500

static const uint8_t *cur_data;
static size_t cur_size;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;
	size_t i;

	fputs("ipsecmss fuzz invariant: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\ninput:", stderr);
	for (i = 0; i < cur_size && i < 80; i++)
		fprintf(stderr, " %02x", cur_data[i]);
	fputc('\n', stderr);
	abort();
}

static unsigned int be16(const uint8_t *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static void setbe16(uint8_t *p, unsigned int v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t *dup_exact(const uint8_t *src, size_t len, size_t room)
{
	uint8_t *p = malloc(len + room);

	if (!p)
		abort();
	memcpy(p, src, len);
	return p;
}

/* ------------------------------------------------- reference checksum */

struct pseudo {
	int v6;
	uint8_t src[16], dst[16];
};

static unsigned int pseudo_image(const struct pseudo *p, unsigned long len,
				 uint8_t *out)
{
	if (!p->v6) {
		memcpy(out, p->src, 4);
		memcpy(out + 4, p->dst, 4);
		out[8] = 0;
		out[9] = 6;
		out[10] = (uint8_t)(len >> 8);
		out[11] = (uint8_t)len;
		return 12;
	}
	memcpy(out, p->src, 16);
	memcpy(out + 16, p->dst, 16);
	out[32] = (uint8_t)(len >> 24);
	out[33] = (uint8_t)(len >> 16);
	out[34] = (uint8_t)(len >> 8);
	out[35] = (uint8_t)len;
	out[36] = out[37] = out[38] = 0;
	out[39] = 6;
	return 40;
}

/* add bytes to a running sum; *pos counts bytes so far (even = high half) */
static unsigned long add_bytes(unsigned long s, const uint8_t *b, size_t n,
			       size_t *pos)
{
	size_t i;

	for (i = 0; i < n; i++, (*pos)++)
		s += (*pos % 2 == 0) ? (unsigned long)b[i] << 8 : b[i];
	return s;
}

static unsigned int fold16(unsigned long s)
{
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return (unsigned int)s;
}

/*
 * Sum of pseudo-header, header and payload; with zero_check the check
 * field counts as zero.
 */
static unsigned long seg_sum(const struct pseudo *p, const uint8_t *th,
			     unsigned int hdrlen, const uint8_t *pl,
			     unsigned int plen, int zero_check)
{
	uint8_t ph[40], z[2] = { 0, 0 };
	size_t pos = 0;
	unsigned long s;

	s = add_bytes(0, ph, pseudo_image(p, hdrlen + plen, ph), &pos);
	s = add_bytes(s, th, 16, &pos);
	s = add_bytes(s, zero_check ? z : th + 16, 2, &pos);
	s = add_bytes(s, th + 18, hdrlen - 18, &pos);
	return add_bytes(s, pl, plen, &pos);
}

static unsigned int ref_csum(const struct pseudo *p, const uint8_t *th,
			     unsigned int hdrlen, const uint8_t *pl,
			     unsigned int plen)
{
	return ~fold16(seg_sum(p, th, hdrlen, pl, plen, 1)) & 0xffff;
}

static int ref_valid(const struct pseudo *p, const uint8_t *th,
		     unsigned int hdrlen, const uint8_t *pl, unsigned int plen)
{
	return fold16(seg_sum(p, th, hdrlen, pl, plen, 0)) == 0xffff;
}

static unsigned int ref_pseudo_fold(const struct pseudo *p, unsigned long len)
{
	uint8_t ph[40];
	size_t pos = 0;

	return fold16(add_bytes(0, ph, pseudo_image(p, len, ph), &pos));
}

/* a ≡ b in ones' complement (mod 0xffff, so 0 and 0xffff are one value) */
static int oc_equal(unsigned int a, unsigned int b)
{
	return a % 0xffff == b % 0xffff;
}

/* ------------------------------------------------------ reference walk */

struct rwalk {
	enum ipsecmss_result r;
	unsigned int n, off[IPSECMSS_MAX_MSS_OPTS], val[IPSECMSS_MAX_MSS_OPTS];
	unsigned int max;
};

/*
 * RFC 9293 3.2 option list, read the way the core promises: EOL ends it,
 * NOP is one byte, every other option has a length byte of at least 2
 * that stays inside the header, and an MSS option has length 4.
 */
static void ref_walk(const uint8_t *th, unsigned int hdrlen, struct rwalk *w)
{
	unsigned int i = 20;

	w->n = 0;
	w->max = 0;
	w->r = IPSECMSS_MALFORMED;
	if (hdrlen < 20 || hdrlen > 60)
		return;
	while (i < hdrlen) {
		unsigned int len;

		if (th[i] == 0)
			break;
		if (th[i] == 1) {
			i += 1;
			continue;
		}
		if (hdrlen - i < 2)
			return;
		len = th[i + 1];
		if (len < 2 || len > hdrlen - i)
			return;
		if (th[i] == 2) {
			if (len != 4 || w->n == IPSECMSS_MAX_MSS_OPTS)
				return;
			w->off[w->n] = i;
			w->val[w->n] = be16(th + i + 2);
			if (w->val[w->n] > w->max)
				w->max = w->val[w->n];
			w->n++;
		}
		i += len;
	}
	w->r = w->n ? IPSECMSS_UNCHANGED : IPSECMSS_NO_MSS;
}

/* ----------------------------------------------------------- the checks */

static void check_walk(const uint8_t *th, unsigned int hdrlen,
		       const struct rwalk *ref)
{
	uint8_t *copy = dup_exact(th, hdrlen, 0);
	struct ipsecmss_walk w;
	enum ipsecmss_result r;
	unsigned int k;

	r = ipsecmss_walk(copy, hdrlen, &w);
	if (memcmp(copy, th, hdrlen))
		die("walk wrote to the header");
	if (r != ref->r)
		die("walk returned %d, reference %d", r, ref->r);
	if (r != IPSECMSS_MALFORMED) {
		if (w.n_mss != ref->n || w.max_mss != ref->max)
			die("walk found %u MSS (max %u), reference %u (max %u)",
			    w.n_mss, w.max_mss, ref->n, ref->max);
		for (k = 0; k < ref->n; k++)
			if (w.off[k] != ref->off[k])
				die("walk: MSS %u at %u, reference %u", k,
				    w.off[k], ref->off[k]);
	}
	free(copy);
}

/*
 * Clamp th (already set up for @mode) and check every promise; then
 * clamp again.  @pl/@plen: the payload the checksum covers.
 */
static void check_clamp(const uint8_t *th, unsigned int hdrlen,
			const uint8_t *pl, unsigned int plen,
			unsigned int target, enum ipsecmss_csum_mode mode,
			const struct pseudo *p)
{
	uint8_t *c = dup_exact(th, hdrlen, 0), *once;
	int valid_before = ref_valid(p, th, hdrlen, pl, plen);
	int exact_before = be16(th + 16) == ref_csum(p, th, hdrlen, pl, plen);
	struct rwalk ref;
	enum ipsecmss_result r, want;
	unsigned int old = 0xdeadbeef, i, k;

	ref_walk(th, hdrlen, &ref);
	r = ipsecmss_clamp(c, hdrlen, target, mode, &old);

	if (ref.r == IPSECMSS_MALFORMED || ref.r == IPSECMSS_NO_MSS) {
		if (r != ref.r)
			die("clamp returned %d, reference %d", r, ref.r);
		if (memcmp(c, th, hdrlen))
			die("clamp changed a header it returned %d for", r);
		goto second;
	}
	want = ref.max > target ? IPSECMSS_REWRITTEN : IPSECMSS_UNCHANGED;
	if (r != want)
		die("clamp returned %d, expected %d (max %u, target %u)", r,
		    want, ref.max, target);
	if (old != ref.max)
		die("clamp reported old MSS %u, largest is %u", old, ref.max);

	/* only MSS values (lowered to the target) and the checksum change */
	for (i = 0; i < hdrlen; i++) {
		int is_mss = 0;

		for (k = 0; k < ref.n; k++)
			if (i == ref.off[k] + 2 || i == ref.off[k] + 3)
				is_mss = 1;
		if (is_mss || c[i] == th[i])
			continue;
		if ((i == 16 || i == 17) && mode == IPSECMSS_CSUM_FULL)
			continue;
		die("clamp changed byte %u (%#x -> %#x), mode %d", i, th[i],
		    c[i], mode);
	}
	for (k = 0; k < ref.n; k++) {
		unsigned int now = be16(c + ref.off[k] + 2);
		unsigned int exp = ref.val[k] > target ? target : ref.val[k];

		if (now != exp)
			die("MSS at %u: %u -> %u, target %u", ref.off[k],
			    ref.val[k], now, target);
	}
	if (mode == IPSECMSS_CSUM_FULL) {
		if (ref_valid(p, c, hdrlen, pl, plen) != valid_before)
			die("checksum valid before: %d, after: %d", valid_before,
			    !valid_before);
		if (exact_before &&
		    be16(c + 16) != ref_csum(p, c, hdrlen, pl, plen))
			die("checksum %#06x after the rewrite, full recompute %#06x",
			    be16(c + 16), ref_csum(p, c, hdrlen, pl, plen));
	}

second:
	once = dup_exact(c, hdrlen, 0);
	r = ipsecmss_clamp(c, hdrlen, target, mode, &old);
	if (memcmp(c, once, hdrlen))
		die("second clamp changed the header");
	if (r == IPSECMSS_REWRITTEN)
		die("second clamp rewrote");
	free(once);
	free(c);
}

static void check_insert(const uint8_t *th, unsigned int hdrlen,
			 unsigned int mss, enum ipsecmss_csum_mode mode,
			 const struct pseudo *p, uint8_t spare)
{
	uint8_t *c = dup_exact(th, hdrlen, 4), *orig;
	unsigned int len, oldcheck = be16(th + 16);
	int valid_before = ref_valid(p, th, hdrlen, NULL, 0);
	int exact_before = oldcheck == ref_csum(p, th, hdrlen, NULL, 0);
	struct rwalk before, after;
	unsigned int k;

	memset(c + hdrlen, spare, 4);
	orig = dup_exact(c, hdrlen + 4, 0);
	len = ipsecmss_insert(c, hdrlen, mss, mode);
	if (hdrlen + 4 > 60) {
		if (len != 0)
			die("insert at hdrlen %u returned %u", hdrlen, len);
		if (memcmp(c, orig, hdrlen + 4))
			die("refused insert changed the buffer");
		goto out;
	}
	if (len != hdrlen + 4)
		die("insert at hdrlen %u returned %u", hdrlen, len);
	if (memcmp(c, orig, 12) || memcmp(c + 13, orig + 13, 3) ||
	    memcmp(c + 18, orig + 18, 2))
		die("insert changed the fixed header");
	if (c[12] != (((hdrlen + 4) / 4) << 4 | (orig[12] & 0x0f)))
		die("insert: byte 12 %#x from %#x", c[12], orig[12]);
	if (c[20] != 2 || c[21] != 4 || be16(c + 22) != mss)
		die("insert: new option %02x %02x %u", c[20], c[21], be16(c + 22));
	if (memcmp(c + 24, orig + 20, hdrlen - 20))
		die("insert: options not moved intact");

	switch (mode) {
	case IPSECMSS_CSUM_FULL:
		if (ref_valid(p, c, hdrlen + 4, NULL, 0) != valid_before)
			die("insert: checksum valid before %d, after %d",
			    valid_before, !valid_before);
		if (exact_before &&
		    be16(c + 16) != ref_csum(p, c, hdrlen + 4, NULL, 0))
			die("insert: checksum %#06x, full recompute %#06x",
			    be16(c + 16), ref_csum(p, c, hdrlen + 4, NULL, 0));
		break;
	case IPSECMSS_CSUM_PARTIAL:
		/* the field follows the pseudo-header's length: +4 */
		if (!oc_equal(be16(c + 16), oldcheck + 4))
			die("insert: partial field %#06x from %#06x", be16(c + 16),
			    oldcheck);
		if (oldcheck == ref_pseudo_fold(p, hdrlen) &&
		    be16(c + 16) != ref_pseudo_fold(p, hdrlen + 4))
			die("insert: partial field %#06x, pseudo sum %#06x",
			    be16(c + 16), ref_pseudo_fold(p, hdrlen + 4));
		break;
	case IPSECMSS_CSUM_NONE:
		if (be16(c + 16) != oldcheck)
			die("insert: mode NONE changed the check field");
		break;
	}

	/* the list reads as before, behind one new MSS option */
	ref_walk(th, hdrlen, &before);
	ref_walk(c, hdrlen + 4, &after);
	if (before.r == IPSECMSS_MALFORMED) {
		if (after.r != IPSECMSS_MALFORMED)
			die("insert made a malformed list well-formed");
	} else {
		if (after.r != IPSECMSS_UNCHANGED || after.n != before.n + 1 ||
		    after.off[0] != 20)
			die("insert: list reads %d with %u MSS", after.r, after.n);
		for (k = 0; k < before.n; k++)
			if (after.off[k + 1] != before.off[k] + 4)
				die("insert: MSS %u moved to %u", before.off[k],
				    after.off[k + 1]);
	}
	check_walk(c, hdrlen + 4, &after);
	/* and the grown header goes through the clamp like any other */
	check_clamp(c, hdrlen + 4, NULL, 0, mss, mode, p);
out:
	free(orig);
	free(c);
}

/* xfrm_state_mtu() for ESP (Linux 6.1) with esp_init_state()'s header_len */
static unsigned int kernel_esp_mtu(unsigned int mtu,
				   const struct ipsecmss_esp_suite *s,
				   unsigned int outer, int natt, int tr)
{
	unsigned int hl = 8 + s->iv + (tr ? 0 : outer) + (natt ? 8 : 0);
	unsigned int adj = tr ? outer : 0, blk = (s->block + 3) / 4 * 4;
	unsigned int ov = hl + s->icv + adj, pay;

	if (mtu <= ov)
		return 1;
	pay = (mtu - ov) / blk * blk;
	if (pay <= 2)
		return 1;
	return pay + adj - 2;
}

static void check_esp(unsigned int mtu, unsigned int sel)
{
	struct ipsecmss_esp_suite s;
	unsigned int outer = sel & 1 ? 40 : 20, c, k, ip;
	int natt = (sel >> 1) & 1, tr = (sel >> 2) & 1;

	if (ipsecmss_esp_suite(1 + sel % 15, &s) < 0)
		die("suite %u refused", 1 + sel % 15);
	c = ipsecmss_esp_inner_mtu(mtu, &s, outer, natt, tr);
	k = kernel_esp_mtu(mtu, &s, outer, natt, tr);
	if (c > mtu)
		die("ESP inner MTU %u above the path MTU %u", c, mtu);
	for (ip = 20; ip <= 40; ip += 20) {
		unsigned int km = k > ip + 20 ? k - ip - 20 : 0;

		/* transport mode: the only IP header is the outer one */
		if (tr && ip != outer)
			continue;
		if (ipsecmss_mss_for_mtu(c, ip) != km)
			die("ESP %s mtu %u outer %u natt %d tr %d: MSS %u, kernel %u",
			    s.name, mtu, outer, natt, tr,
			    ipsecmss_mss_for_mtu(c, ip), km);
	}
}

/*
 * The glue rewrites at the offsets a walk of a copy recorded.  A forged
 * walk (count and offsets taken from the sequence and ack bytes, mixed
 * with the real ones) must never make the rewrite touch a byte outside
 * the header, nor any but the recorded MSS values and the checksum; if a
 * recorded offset is not an MSS option inside the header, it is refused
 * with nothing written.
 */
static void check_rewrite_forged(const uint8_t *th, unsigned int hdrlen,
				 const struct rwalk *ref, const uint8_t *pl,
				 unsigned int plen, unsigned int target,
				 enum ipsecmss_csum_mode mode,
				 const struct pseudo *p)
{
	uint8_t *c = dup_exact(th, hdrlen, 0);
	int valid_before = ref_valid(p, th, hdrlen, pl, plen);
	struct ipsecmss_walk w;
	enum ipsecmss_result r;
	unsigned int k, i, fits = 1;

	memset(&w, 0, sizeof(w));
	w.n_mss = th[4] % (IPSECMSS_MAX_MSS_OPTS + 2);
	for (k = 0; k < IPSECMSS_MAX_MSS_OPTS; k++)
		w.off[k] = (unsigned char)(k < ref->n && !(th[5] >> (k % 8) & 1) ?
					   ref->off[k] : th[6 + k % 6] ^ k);
	if (w.n_mss > IPSECMSS_MAX_MSS_OPTS)
		fits = 0;
	for (k = 0; fits && k < w.n_mss; k++)
		if (w.off[k] < 20 || w.off[k] + 4u > hdrlen ||
		    th[w.off[k]] != 2 || th[w.off[k] + 1] != 4)
			fits = 0;

	r = ipsecmss_rewrite(c, hdrlen, &w, target, mode);
	if (!fits || !w.n_mss) {
		if (r != (fits ? IPSECMSS_NO_MSS : IPSECMSS_MALFORMED))
			die("forged walk (n %u, fits %d): rewrite returned %d",
			    w.n_mss, fits, r);
		if (memcmp(c, th, hdrlen))
			die("a refused rewrite changed the header");
		free(c);
		return;
	}
	if (r != IPSECMSS_REWRITTEN && r != IPSECMSS_UNCHANGED)
		die("forged walk that fits: rewrite returned %d", r);
	for (i = 0; i < hdrlen; i++) {
		int ok = c[i] == th[i];

		for (k = 0; k < w.n_mss; k++)
			if (i == w.off[k] + 2u || i == w.off[k] + 3u)
				ok = 1;
		if ((i == 16 || i == 17) && mode == IPSECMSS_CSUM_FULL)
			ok = 1;
		if (!ok)
			die("rewrite changed byte %u, not a recorded MSS value", i);
	}
	if (r == IPSECMSS_UNCHANGED && memcmp(c, th, hdrlen))
		die("rewrite said UNCHANGED and changed the header");
	if (mode == IPSECMSS_CSUM_FULL &&
	    ref_valid(p, c, hdrlen, pl, plen) != valid_before)
		die("forged rewrite: checksum valid before %d, after %d",
		    valid_before, !valid_before);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t s4[4] = { 192, 0, 2, 1 }, d4[4] = { 198, 51, 100, 7 };
	static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
					0, 0, 0, 0x01, 0xc0, 0xa8, 0x02, 0x01 };
	static const uint8_t d6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0xff, 0, 0,
					0, 0, 0, 0, 0, 0, 0xfe, 0x07 };
	uint8_t hdr[60], *th, *pl;
	unsigned int ctl, target, hdrlen, avail, plen, seglen;
	enum ipsecmss_csum_mode mode;
	struct pseudo p;
	struct rwalk ref;

	if (size < 3)
		return 0;
	cur_data = data;
	cur_size = size;
	ctl = data[0];
	target = be16(data + 1);
	seglen = (unsigned int)(size - 3 > 60 + MAX_PAYLOAD ?
				60 + MAX_PAYLOAD : size - 3);

	/* the header as the kernel glue sees it */
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, data + 3, seglen < 60 ? seglen : 60);
	hdrlen = (hdr[12] >> 4) * 4u;
	avail = seglen < 20 ? 20 : seglen / 4 * 4;
	if (avail > 60)
		avail = 60;
	if (hdrlen < 20)
		hdrlen = 20;
	if (hdrlen > avail)
		hdrlen = avail;
	hdr[12] = (uint8_t)((hdrlen / 4) << 4 | (hdr[12] & 0x0f));
	plen = seglen > hdrlen ? seglen - hdrlen : 0;

	mode = (ctl & 3) == 3 ? IPSECMSS_CSUM_FULL : (enum ipsecmss_csum_mode)(ctl & 3);
	memset(&p, 0, sizeof(p));
	p.v6 = (ctl >> 2) & 1;
	memcpy(p.src, p.v6 ? s6 : s4, p.v6 ? 16 : 4);
	memcpy(p.dst, p.v6 ? d6 : d4, p.v6 ? 16 : 4);
	p.src[p.v6 ? 15 : 3] ^= (uint8_t)(ctl & 0xf0);

	th = dup_exact(hdr, hdrlen, 0);
	pl = plen ? dup_exact(data + 3 + hdrlen, plen, 0) : NULL;

	/* the segment: its check field as the mode would find it */
	if (!(ctl & 8)) {
		if (mode == IPSECMSS_CSUM_FULL)
			setbe16(th + 16, ref_csum(&p, th, hdrlen, pl, plen));
		else if (mode == IPSECMSS_CSUM_PARTIAL)
			setbe16(th + 16, ref_pseudo_fold(&p, hdrlen + plen));
	}
	ref_walk(th, hdrlen, &ref);
	check_walk(th, hdrlen, &ref);
	check_clamp(th, hdrlen, pl, plen, target, mode, &p);
	check_rewrite_forged(th, hdrlen, &ref, pl, plen, target, mode, &p);

	/* insertion: a header without payload, as the glue requires */
	if (!(ctl & 8)) {
		if (mode == IPSECMSS_CSUM_FULL)
			setbe16(th + 16, ref_csum(&p, th, hdrlen, NULL, 0));
		else if (mode == IPSECMSS_CSUM_PARTIAL)
			setbe16(th + 16, ref_pseudo_fold(&p, hdrlen));
	}
	check_insert(th, hdrlen, target, mode, &p, (uint8_t)(ctl ^ 0x5a));

	check_esp(target, ctl >> 3 | (unsigned int)hdr[0] << 5);

	free(pl);
	free(th);
	return 0;
}
