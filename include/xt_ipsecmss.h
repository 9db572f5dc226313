/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The rule ABI shared by xt_ipsecmss.ko and libxt_IPSECMSS.so
 *
 * Revision 0.  Every mode the target will ever have is already here, so
 * the blob never changes size.  Fields a mode does not use must be zero;
 * the kernel refuses a rule otherwise.
 */
#ifndef _XT_IPSECMSS_H
#define _XT_IPSECMSS_H

#include <linux/types.h>

/* mode: exactly one per rule */
enum {
	XT_IPSECMSS_MODE_SET      = 1,	/* --set-mss N */
	XT_IPSECMSS_MODE_AUTO     = 2,	/* --auto: from the live SA / route */
	XT_IPSECMSS_MODE_OVERHEAD = 3,	/* --overhead BYTES [--mtu M] */
	XT_IPSECMSS_MODE_ESP      = 4,	/* --esp SUITE [...] [--mtu M] */
	XT_IPSECMSS_MODE_MAX      = XT_IPSECMSS_MODE_ESP,
};

/* flags */
#define XT_IPSECMSS_F_NATT	0x01	/* --natt: UDP encapsulation (+8) */
#define XT_IPSECMSS_F_TRANSPORT	0x02	/* --transport: transport mode */
#define XT_IPSECMSS_F_FALLBACK	0x04	/* --fallback-mss given */
#define XT_IPSECMSS_F_MASK	0x07

/* outer: family of the ESP packet's outer header (--outer) */
enum {
	XT_IPSECMSS_OUTER_RULE = 0,	/* same family as the rule */
	XT_IPSECMSS_OUTER_IPV4 = 4,
	XT_IPSECMSS_OUTER_IPV6 = 6,
};

/* suite: ESP transform for --esp; numbering is ABI, append only */
enum {
	XT_IPSECMSS_SUITE_NONE = 0,
	XT_IPSECMSS_SUITE_AES_GCM_8,
	XT_IPSECMSS_SUITE_AES_GCM_12,
	XT_IPSECMSS_SUITE_AES_GCM_16,
	XT_IPSECMSS_SUITE_CHACHA20_POLY1305,
	XT_IPSECMSS_SUITE_AES_CBC_SHA1,
	XT_IPSECMSS_SUITE_AES_CBC_SHA256,
	XT_IPSECMSS_SUITE_AES_CBC_SHA384,
	XT_IPSECMSS_SUITE_AES_CBC_SHA512,
	XT_IPSECMSS_SUITE_AES_CCM_8,
	XT_IPSECMSS_SUITE_AES_CCM_12,
	XT_IPSECMSS_SUITE_AES_CCM_16,
	XT_IPSECMSS_SUITE_AES_GMAC,
	XT_IPSECMSS_SUITE_AES_CTR_SHA256,
	XT_IPSECMSS_SUITE_3DES_CBC_SHA1,
	XT_IPSECMSS_SUITE_NULL_SHA256,
	XT_IPSECMSS_SUITE_MAX = XT_IPSECMSS_SUITE_NULL_SHA256,
};

struct xt_ipsecmss_tginfo {
	__u8	mode;		/* XT_IPSECMSS_MODE_* */
	__u8	suite;		/* XT_IPSECMSS_SUITE_*, ESP mode only */
	__u8	outer;		/* XT_IPSECMSS_OUTER_*, ESP mode only */
	__u8	flags;		/* XT_IPSECMSS_F_* */
	__u16	mss;		/* SET: the MSS */
	__u16	overhead;	/* OVERHEAD: bytes added per packet */
	__u16	mtu;		/* OVERHEAD/ESP: underlay MTU, 0 = route */
	__u16	min_mss;	/* derived modes: floor, 0 = module param */
	__u16	fallback_mss;	/* AUTO: used when no MTU is found */
	__u16	reserved0;	/* must be zero */
	__u32	reserved[2];	/* must be zero */
};

#define XT_IPSECMSS_TGINFO_SIZE 24

/* limits shared by the plugin's parser and the kernel's checkentry */
#define XT_IPSECMSS_MSS_MIN	1
#define XT_IPSECMSS_MSS_MAX4	(65535 - 20 - 20)	/* as TCPMSS */
#define XT_IPSECMSS_MSS_MAX6	(65535 - 40 - 20)
#define XT_IPSECMSS_MTU_MIN	576	/* below that no IPv4 link is legal */
#define XT_IPSECMSS_MTU_MAX	65535

#endif /* _XT_IPSECMSS_H */
