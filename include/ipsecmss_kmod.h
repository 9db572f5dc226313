/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside xt_ipsecmss.ko: what the packet path (xt_ipsecmss_main.c) and
 * the path resolution of --auto (ipsecmss_path.c) share.  Not an ABI.
 */
#ifndef _IPSECMSS_KMOD_H
#define _IPSECMSS_KMOD_H

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/skbuff.h>
#include <linux/netfilter/x_tables.h>
#include <net/dst.h>
#include <net/net_namespace.h>

/*
 * Counters: per network namespace, per CPU on the packet path, summed
 * when /proc/net/stat/ipsecmss is read (names in xt_ipsecmss_main.c).
 */
enum ipsecmss_counter {
	IPSECMSS_C_REWRITTEN,
	IPSECMSS_C_UNCHANGED,
	IPSECMSS_C_INSERTED,
	IPSECMSS_C_NO_MSS,
	IPSECMSS_C_NOT_SYN,
	IPSECMSS_C_FRAGMENT,
	IPSECMSS_C_MALFORMED,
	IPSECMSS_C_DROPPED,
	IPSECMSS_C_AUTO_IPSEC,
	IPSECMSS_C_AUTO_ROUTE,
	IPSECMSS_C_AUTO_FAILED,
	IPSECMSS_C_FALLBACK,
	IPSECMSS_C_FROM_BUNDLE,
	IPSECMSS_C_FROM_SECPATH,
	IPSECMSS_C_FROM_DEVICE,
	IPSECMSS_C_FROM_ROUTE,
	IPSECMSS_C_FROM_CAP,
	IPSECMSS_C_NO_ROUTE_HOOK,
	IPSECMSS_C_NO_ROUTE,
	IPSECMSS_C_AFTER_NAT,
	IPSECMSS_C_DEVICE_UNKNOWN,
	IPSECMSS_C_NUM,
};

/* count one event in @net's counters; any context */
void ipsecmss_count(const struct net *net, enum ipsecmss_counter c);

/*
 * count a set of events, BIT(enum ipsecmss_counter) each, in one go: the
 * packet path gathers a segment's counts and looks up the netns's
 * counters (net_generic()) once; any context
 */
void ipsecmss_count_events(const struct net *net, u32 events);

/* where a derived MTU came from: its counter and its name in the log */
enum ipsecmss_src {
	IPSECMSS_SRC_NONE,
	IPSECMSS_SRC_ROUTE,	/* a plain route's MTU */
	IPSECMSS_SRC_BUNDLE,	/* the segment's own IPsec bundle */
	IPSECMSS_SRC_SECPATH,	/* the SA the segment was decrypted with */
	IPSECMSS_SRC_DEVICE,	/* the SA behind the route's device */
	IPSECMSS_SRC_CAP,	/* the rule's --mtu cap on the underlay */
	IPSECMSS_SRC_NUM,
};

/*
 * The per-netns cache of the routes --auto repeats for every SYN
 * (ipsecmss_path.c).  ipsecmss_routes_alloc() may sleep, returns NULL
 * when out of memory or without CONFIG_DST_CACHE; ipsecmss_routes_free()
 * takes NULL.  ipsecmss_routes() is @net's, NULL if it has none.
 */
struct ipsecmss_route_cache;
struct ipsecmss_route_cache *ipsecmss_routes_alloc(void);
void ipsecmss_routes_free(struct ipsecmss_route_cache *rc);
struct ipsecmss_route_cache *ipsecmss_routes(const struct net *net);

/* the names of enum ipsecmss_src in log_rewrites lines */
extern const char *const ipsecmss_src_name[IPSECMSS_SRC_NUM];

/* the smallest MTU seen on one direction of the path, and its source */
struct ipsecmss_path {
	unsigned int mtu;	/* bytes; 0 while none is known */
	u8 src;			/* enum ipsecmss_src */
	bool ipsec;		/* an SA was found on this direction */
	__be32 spi;		/* the deciding SA's SPI, 0 if none */
	bool deferred;		/* an xfrm interface's lookup left to the late hook */
};

/* what decided the value of a derived mode, for the counters and the log */
struct ipsecmss_why {
	struct ipsecmss_path fwd, rev;
	const struct ipsecmss_path *chosen;	/* NULL: not --auto */
	u32 events;	/* counted with the segment's verdict, BIT(counter) */
};

/* a route the module may read: not a metadata dst, with a device */
static inline bool ipsecmss_real_route(const struct dst_entry *dst)
{
	return dst && !(dst->flags & DST_METADATA) && dst->dev;
}

/*
 * ipsecmss_auto_mtu() - the --auto path MTU of one segment, in bytes
 * @skb:   the segment; its route and secpath are read, never changed
 * @par:   the rule's hook, family and netns
 * @rc:    that netns's route and mirror caches (ipsecmss_routes()), NULL
 *         for none (every lookup is then made afresh)
 * @cap:   the rule's --mtu cap on the underlay (576..65535), 0 for none
 * @why:   filled with both directions and the one that decided
 *
 * The smaller of the forward path (the segment's own route, bundle or the
 * SA behind its device; in OUTPUT routed again as ip_route_me_harder()
 * will) and the reverse path (the SA it was decrypted with, capped by the
 * plain route back; or the route back and the SA behind its device).
 * Adds auto_ipsec or auto_route and one from_* counter to why->events
 * (the caller counts them with the verdict).  Returns 0 when
 * no MTU is known.  Never sleeps, never starts an IKE negotiation where
 * the kernel offers a way to know (see the man page).
 */
unsigned int ipsecmss_auto_mtu(struct sk_buff *skb,
			       const struct xt_action_param *par,
			       struct ipsecmss_route_cache *rc, unsigned int cap,
			       struct ipsecmss_why *why);

/*
 * ipsecmss_late_path() - one direction of a segment's path at the late
 * hook (POSTROUTING after source NAT), with the lookups that
 * ipsecmss_auto_mtu() deferred there: the xfrm interface's bundle, as
 * xfrmi_xmit2() is about to resolve it for this very packet (forward) or
 * for the reply to it (@reverse).
 */
void ipsecmss_late_path(struct net *net, struct sk_buff *skb, u8 family,
			bool reverse, unsigned int cap,
			struct ipsecmss_path *p);

/* count the from_* counter of an enum ipsecmss_src */
void ipsecmss_count_src(const struct net *net, u8 src);

/*
 * ipsecmss_take_bundle() - an xfrm_lookup() bundle's MTU into @p
 * @hdr: tunnel headers inside the bundle to take off, bytes
 * @cap: the underlay cap, 0 for none
 * @src: the enum ipsecmss_src to record (from_bundle, from_device)
 */
void ipsecmss_take_bundle(struct ipsecmss_path *p, const struct dst_entry *dst,
			  unsigned int hdr, unsigned int cap, u8 src);

/*
 * ipsecmss_plain_mtu() - the plain route MTU --esp and --overhead build on:
 * the smaller of the segment's route below any bundle and the route back
 * (through @rc, as for ipsecmss_auto_mtu()).
 */
unsigned int ipsecmss_plain_mtu(struct net *net,
				struct ipsecmss_route_cache *rc,
				const struct sk_buff *skb, u8 family);

#endif /* _IPSECMSS_KMOD_H */
