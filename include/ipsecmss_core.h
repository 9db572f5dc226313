/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure core of IPSECMSS
 *
 * Header-only, no kernel or libc dependency: the kernel target, the
 * iptables plugin, the unit tests and the fuzzer all include this file.
 * It knows the TCP option walk, the MSS rewrite with its incremental
 * checksum (RFC 1624), the MSS option insertion and the ESP overhead
 * arithmetic.  Every function works on a TCP header the caller has
 * already bounded: @th points at @hdrlen readable (and, for the writers,
 * writable) bytes, 20 <= @hdrlen <= 60.  No byte outside th[0..hdrlen)
 * (plus the 4 bytes of room the caller grants for an insertion) is ever
 * read or written.  Multi-byte fields are read and written byte by byte,
 * big endian, so alignment never matters.
 */
#ifndef _IPSECMSS_CORE_H
#define _IPSECMSS_CORE_H

#define IPSECMSS_TCPHDR_MIN	20
#define IPSECMSS_TCPHDR_MAX	60
#define IPSECMSS_TCP_CSUM_OFF	16
#define IPSECMSS_OPT_EOL	0
#define IPSECMSS_OPT_NOP	1
#define IPSECMSS_OPT_MSS	2
#define IPSECMSS_OPTLEN_MSS	4
/* at most 40 option bytes: 10 MSS options of 4 bytes */
#define IPSECMSS_MAX_MSS_OPTS	10

#define IPSECMSS_TCP_FIN	0x01
#define IPSECMSS_TCP_SYN	0x02
#define IPSECMSS_TCP_RST	0x04
#define IPSECMSS_TCP_ACK	0x10

/* outcome of a walk or a clamp */
enum ipsecmss_result {
	IPSECMSS_UNCHANGED = 0,	/* MSS option(s) present, none above target */
	IPSECMSS_REWRITTEN,	/* at least one MSS option lowered */
	IPSECMSS_NO_MSS,	/* well-formed option list without MSS */
	IPSECMSS_MALFORMED,	/* bad option list; nothing was changed */
};

/* how the TCP checksum field must follow a change */
enum ipsecmss_csum_mode {
	IPSECMSS_CSUM_NONE = 0,	/* leave it (caller recomputes it) */
	IPSECMSS_CSUM_FULL,	/* field holds the complete checksum */
	IPSECMSS_CSUM_PARTIAL,	/* field holds the pseudo-header sum only */
};

struct ipsecmss_walk {
	unsigned int n_mss;	/* MSS options found (before EOL) */
	unsigned int max_mss;	/* largest value among them */
	unsigned char off[IPSECMSS_MAX_MSS_OPTS];	/* kind byte offsets */
};

static inline unsigned int ipsecmss_get16(const unsigned char *p)
{
	return ((unsigned int)p[0] << 8) | p[1];
}

static inline void ipsecmss_put16(unsigned char *p, unsigned int v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

/* data offset in bytes, from the header's own field */
static inline unsigned int ipsecmss_doff(const unsigned char *th)
{
	return (unsigned int)(th[12] >> 4) * 4;
}

static inline unsigned int ipsecmss_flags(const unsigned char *th)
{
	return th[13];
}

/* ones' complement helpers on 16-bit big-endian words */
static inline unsigned int ipsecmss_fold(unsigned int s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s;
}

/* add the words of b[0..len) to @s; len even, len <= 64 so no overflow */
static inline unsigned int ipsecmss_sum(const unsigned char *b,
					unsigned int len, unsigned int s)
{
	unsigned int i;

	for (i = 0; i + 1 < len; i += 2)
		s += ipsecmss_get16(b + i);
	return s;
}

/*
 * RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m'), with m and m' the (folded)
 * sums of the words that changed, before and after.
 */
static inline unsigned int ipsecmss_csum_adjust(unsigned int hc,
						unsigned int m_old,
						unsigned int m_new)
{
	unsigned int s;

	s = (~hc & 0xffff) + (~ipsecmss_fold(m_old) & 0xffff) +
	    ipsecmss_fold(m_new);
	return ~ipsecmss_fold(s) & 0xffff;
}

/*
 * Write a 16-bit value at any offset @off (>= 20, so never the checksum
 * field itself) and, in FULL mode, adjust the checksum over the aligned
 * words the two bytes fall in: an MSS option after one NOP straddles two
 * words, which is exactly what TCPMSS gets wrong.
 */
static inline void ipsecmss_write16(unsigned char *th, unsigned int off,
				    unsigned int v, enum ipsecmss_csum_mode mode)
{
	unsigned int m_old, m_new;

	/*
	 * The checksum delta needs only the two changed bytes, each in its
	 * place within a 16-bit word: at an even offset they form one word;
	 * at an odd one th[off] is the low byte of one word and th[off + 1]
	 * the high byte of the next.  No neighbouring byte is read, so an
	 * MSS option ending at the header's last byte stays inside it.
	 */
	if (off & 1)
		m_old = th[off] | ((unsigned int)th[off + 1] << 8);
	else
		m_old = ipsecmss_get16(th + off);
	ipsecmss_put16(th + off, v);
	if (mode != IPSECMSS_CSUM_FULL)
		return;
	if (off & 1)
		m_new = th[off] | ((unsigned int)th[off + 1] << 8);
	else
		m_new = ipsecmss_get16(th + off);
	ipsecmss_put16(th + IPSECMSS_TCP_CSUM_OFF,
		       ipsecmss_csum_adjust(ipsecmss_get16(th + IPSECMSS_TCP_CSUM_OFF),
					    m_old, m_new));
}

/*
 * Walk the option list th[20..hdrlen) the way a receiving stack does and
 * record every MSS option.  Anything a careful parser cannot take at face
 * value is MALFORMED: a length byte cut off by the header end, a length
 * below 2 or past the header end, an MSS option whose length is not 4.
 * A well-formed list returns NO_MSS or UNCHANGED (the caller compares).
 */
static inline enum ipsecmss_result
ipsecmss_walk(const unsigned char *th, unsigned int hdrlen,
	      struct ipsecmss_walk *w)
{
	unsigned int i = IPSECMSS_TCPHDR_MIN;

	w->n_mss = 0;
	w->max_mss = 0;
	if (hdrlen < IPSECMSS_TCPHDR_MIN || hdrlen > IPSECMSS_TCPHDR_MAX)
		return IPSECMSS_MALFORMED;

	while (i < hdrlen) {
		unsigned int kind = th[i], len;

		if (kind == IPSECMSS_OPT_EOL)
			break;
		if (kind == IPSECMSS_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= hdrlen)
			return IPSECMSS_MALFORMED;
		len = th[i + 1];
		if (len < 2 || len > hdrlen - i)
			return IPSECMSS_MALFORMED;
		if (kind == IPSECMSS_OPT_MSS) {
			unsigned int v;

			if (len != IPSECMSS_OPTLEN_MSS ||
			    w->n_mss >= IPSECMSS_MAX_MSS_OPTS)
				return IPSECMSS_MALFORMED;
			v = ipsecmss_get16(th + i + 2);
			w->off[w->n_mss++] = (unsigned char)i;
			if (v > w->max_mss)
				w->max_mss = v;
		}
		i += len;
	}
	return w->n_mss ? IPSECMSS_UNCHANGED : IPSECMSS_NO_MSS;
}

/*
 * Lower every MSS option a walk of these same bytes recorded in @w that is
 * above @target to @target; never raise one.  The caller has walked a copy
 * (the kernel walks before it makes the skb writable), so each recorded
 * offset is checked again first: inside the header, kind MSS, length 4.
 * A walk that does not fit the bytes gives MALFORMED with nothing written.
 * Returns REWRITTEN, UNCHANGED (none above @target), NO_MSS or MALFORMED.
 */
static inline enum ipsecmss_result
ipsecmss_rewrite(unsigned char *th, unsigned int hdrlen,
		 const struct ipsecmss_walk *w, unsigned int target,
		 enum ipsecmss_csum_mode mode)
{
	enum ipsecmss_result r = IPSECMSS_UNCHANGED;
	unsigned int i;

	if (hdrlen < IPSECMSS_TCPHDR_MIN || hdrlen > IPSECMSS_TCPHDR_MAX ||
	    w->n_mss > IPSECMSS_MAX_MSS_OPTS)
		return IPSECMSS_MALFORMED;
	for (i = 0; i < w->n_mss; i++) {
		unsigned int off = w->off[i];

		if (off < IPSECMSS_TCPHDR_MIN ||
		    off > hdrlen - IPSECMSS_OPTLEN_MSS ||
		    th[off] != IPSECMSS_OPT_MSS ||
		    th[off + 1] != IPSECMSS_OPTLEN_MSS)
			return IPSECMSS_MALFORMED;
	}
	if (!w->n_mss)
		return IPSECMSS_NO_MSS;

	for (i = 0; i < w->n_mss; i++) {
		unsigned int off = w->off[i] + 2u;

		if (ipsecmss_get16(th + off) > target) {
			ipsecmss_write16(th, off, target, mode);
			r = IPSECMSS_REWRITTEN;
		}
	}
	return r;
}

/*
 * Walk, then lower every MSS option above @target to @target; never raise
 * one.  Returns REWRITTEN, UNCHANGED, NO_MSS or MALFORMED; on MALFORMED and
 * NO_MSS nothing is written.  *old_mss gets the largest value seen.
 */
static inline enum ipsecmss_result
ipsecmss_clamp(unsigned char *th, unsigned int hdrlen, unsigned int target,
	       enum ipsecmss_csum_mode mode, unsigned int *old_mss)
{
	struct ipsecmss_walk w;
	enum ipsecmss_result r;

	r = ipsecmss_walk(th, hdrlen, &w);
	*old_mss = w.max_mss;
	if (r != IPSECMSS_UNCHANGED)
		return r;
	return ipsecmss_rewrite(th, hdrlen, &w, target, mode);
}

/*
 * Insert an MSS option of value @mss at the head of the option list.
 * @th must have hdrlen + 4 writable bytes, and the segment must carry no
 * payload (the 4 new bytes take the place where payload would be).
 * Existing options move down by 4, the data offset grows by one word.
 * The checksum follows in FULL mode (options, data offset and the
 * pseudo-header's TCP length) or PARTIAL mode (the pseudo-header's TCP
 * length only, the rest is summed by whoever completes the checksum).
 * Returns the new header length, or 0 if there is no room.
 */
static inline unsigned int
ipsecmss_insert(unsigned char *th, unsigned int hdrlen, unsigned int mss,
		enum ipsecmss_csum_mode mode)
{
	unsigned int hc, m_old = 0, m_new = 0, i;

	if (hdrlen < IPSECMSS_TCPHDR_MIN ||
	    hdrlen + IPSECMSS_OPTLEN_MSS > IPSECMSS_TCPHDR_MAX || (hdrlen & 3))
		return 0;

	hc = ipsecmss_get16(th + IPSECMSS_TCP_CSUM_OFF);
	if (mode == IPSECMSS_CSUM_FULL) {
		/* every word but the checksum, plus the pseudo length */
		m_old = ipsecmss_sum(th, IPSECMSS_TCP_CSUM_OFF, hdrlen);
		m_old = ipsecmss_sum(th + 18, hdrlen - 18, m_old);
	}

	for (i = hdrlen; i > IPSECMSS_TCPHDR_MIN; i--)
		th[i + 3] = th[i - 1];
	th[20] = IPSECMSS_OPT_MSS;
	th[21] = IPSECMSS_OPTLEN_MSS;
	ipsecmss_put16(th + 22, mss);
	th[12] = (unsigned char)((((hdrlen + 4) / 4) << 4) | (th[12] & 0x0f));

	if (mode == IPSECMSS_CSUM_FULL) {
		m_new = ipsecmss_sum(th, IPSECMSS_TCP_CSUM_OFF, hdrlen + 4);
		m_new = ipsecmss_sum(th + 18, hdrlen + 4 - 18, m_new);
		hc = ipsecmss_csum_adjust(hc, m_old, m_new);
	} else if (mode == IPSECMSS_CSUM_PARTIAL) {
		/* the field holds the folded pseudo-header sum, uninverted */
		hc = ipsecmss_fold(hc + IPSECMSS_OPTLEN_MSS);
	}
	ipsecmss_put16(th + IPSECMSS_TCP_CSUM_OFF, hc);
	return hdrlen + IPSECMSS_OPTLEN_MSS;
}

/*
 * ESP arithmetic, as the kernel's xfrm_state_mtu() does it: the largest
 * inner packet that still fits @mtu after encapsulation is
 *   ((mtu - header_len - icv - net_adj) & ~(align4(block) - 1)) + net_adj - 2
 * with header_len = ESP header (8) + IV (+ 8 for UDP encapsulation)
 * (+ the outer IP header in tunnel mode), net_adj = the IP header in
 * transport mode, and 2 for the pad length and next header bytes.
 */
struct ipsecmss_esp_suite {
	const char *name;	/* as the plugin spells it */
	const char *desc;	/* the kernel algorithms it stands for */
	unsigned char iv;	/* bytes of IV on the wire */
	unsigned char icv;	/* bytes of integrity check value */
	unsigned char block;	/* cipher block size */
};

/* suite ids follow XT_IPSECMSS_SUITE_* in xt_ipsecmss.h */
static inline int ipsecmss_esp_suite(unsigned int id,
				     struct ipsecmss_esp_suite *s)
{
	static const struct ipsecmss_esp_suite tab[] = {
		{ "", "", 0, 0, 0 },
		{ "aes-gcm-8", "rfc4106(gcm(aes)) 64", 8, 8, 1 },
		{ "aes-gcm-12", "rfc4106(gcm(aes)) 96", 8, 12, 1 },
		{ "aes-gcm-16", "rfc4106(gcm(aes)) 128", 8, 16, 1 },
		{ "chacha20-poly1305", "rfc7539esp(chacha20,poly1305) 128",
		  8, 16, 1 },
		{ "aes-cbc-sha1", "cbc(aes) hmac(sha1) 96", 16, 12, 16 },
		{ "aes-cbc-sha256", "cbc(aes) hmac(sha256) 128", 16, 16, 16 },
		{ "aes-cbc-sha384", "cbc(aes) hmac(sha384) 192", 16, 24, 16 },
		{ "aes-cbc-sha512", "cbc(aes) hmac(sha512) 256", 16, 32, 16 },
		{ "aes-ccm-8", "rfc4309(ccm(aes)) 64", 8, 8, 1 },
		{ "aes-ccm-12", "rfc4309(ccm(aes)) 96", 8, 12, 1 },
		{ "aes-ccm-16", "rfc4309(ccm(aes)) 128", 8, 16, 1 },
		{ "aes-gmac", "rfc4543(gcm(aes)) 128", 8, 16, 1 },
		{ "aes-ctr-sha256", "rfc3686(ctr(aes)) hmac(sha256) 128",
		  8, 16, 1 },
		{ "3des-cbc-sha1", "cbc(des3_ede) hmac(sha1) 96", 8, 12, 8 },
		{ "null-sha256", "ecb(cipher_null) hmac(sha256) 128",
		  0, 16, 1 },
	};

	if (id == 0 || id >= sizeof(tab) / sizeof(*tab))
		return -1;
	*s = tab[id];
	return 0;
}

/*
 * Largest inner IP packet for an ESP SA on a path of @mtu bytes, or 0
 * when the overhead alone does not fit.  @outer_hdr: 20 (IPv4) or 40
 * (IPv6) outer header.
 */
static inline unsigned int
ipsecmss_esp_inner_mtu(unsigned int mtu, const struct ipsecmss_esp_suite *s,
		       unsigned int outer_hdr, int natt, int transport)
{
	unsigned int hdr = 8u + s->iv + (natt ? 8u : 0u);
	unsigned int blk = (s->block + 3u) & ~3u;
	unsigned int adj = 0, room;

	if (transport)
		adj = outer_hdr;
	else
		hdr += outer_hdr;
	if (mtu < hdr + s->icv + adj + blk + 2u)
		return 0;
	room = (mtu - hdr - s->icv - adj) & ~(blk - 1u);
	if (room + adj < 2u)
		return 0;
	return room + adj - 2u;
}

/*
 * MSS for a TCP segment inside a packet of at most @pkt_mtu bytes with an
 * inner IP header of @ip_hdr bytes (20 or 40), or 0 if none fits.
 */
static inline unsigned int ipsecmss_mss_for_mtu(unsigned int pkt_mtu,
						unsigned int ip_hdr)
{
	if (pkt_mtu <= ip_hdr + IPSECMSS_TCPHDR_MIN)
		return 0;
	return pkt_mtu - ip_hdr - IPSECMSS_TCPHDR_MIN;
}

#endif /* _IPSECMSS_CORE_H */
