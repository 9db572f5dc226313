// SPDX-License-Identifier: GPL-2.0
/*
 * IPSECMSS: the path resolution of --auto.
 *
 * Every lookup here is one the kernel itself makes for this segment or
 * for its reply, with the same keys, at the same point; every path MTU is
 * the smallest of what the packet crosses: the SA (xfrm_state_mtu()), the
 * device, a locked route MTU, a learnt PMTU exception, the rule's cap.
 * Only real routes are read: a metadata dst (collect_md tunnels, tc
 * tunnel_key) has no device and no MTU.
 */
#include <linux/skbuff.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/netfilter.h>
#include <linux/netfilter/x_tables.h>
#include <net/dst.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/xfrm.h>
#include <net/route.h>
#include <net/ip_tunnels.h>
#include <net/ip6_route.h>
#include <net/ip_fib.h>
#include <net/ip6_fib.h>
#include <net/addrconf.h>
#include <net/udp.h>
#include <net/vxlan.h>
#include <net/ip6_tunnel.h>
#include <net/dst_cache.h>
#include <linux/hash.h>

#include "ipsecmss_compat.h"
#include "ipsecmss_kmod.h"

const char *const ipsecmss_src_name[IPSECMSS_SRC_NUM] = {
	[IPSECMSS_SRC_NONE]	= "none",
	[IPSECMSS_SRC_ROUTE]	= "route",
	[IPSECMSS_SRC_BUNDLE]	= "bundle",
	[IPSECMSS_SRC_SECPATH]	= "secpath",
	[IPSECMSS_SRC_DEVICE]	= "device",
	[IPSECMSS_SRC_CAP]	= "cap",
};

static void ipsecmss_take(struct ipsecmss_path *p, unsigned int mtu, u8 src,
			  __be32 spi)
{
	if (!mtu || (p->mtu && p->mtu <= mtu))
		return;
	p->mtu = mtu;
	p->src = src;
	p->spi = spi;
}

/*
 * The route cache.  The two routes --auto looks up for every SYN, the
 * plain route back to its source and the route toward the peer of the SA
 * it came through, are kept the way ip_tunnel_xmit() keeps its underlay
 * route: in a dst_cache, per CPU, and every use passes the route's own
 * ->check() (ipv4_dst_check(), ip6_dst_check() with the fib6 cookie),
 * which fails after a route change, a new or changed PMTU exception, or
 * the device going away; then the route is looked up again.  A netns has
 * IPSECMSS_ROUTE_SLOTS caches for each of the two lookups (so the two of
 * one SYN never evict each other), picked by a hash of the lookup's keys
 * (its destination, source and mark), each with the keys its route was
 * looked up for; a different flow in the same slot looks up and replaces
 * it.
 */
#define IPSECMSS_ROUTE_SLOT_BITS 4
#define IPSECMSS_ROUTE_SLOTS BIT(IPSECMSS_ROUTE_SLOT_BITS)

enum ipsecmss_route_kind {
	IPSECMSS_ROUTE_BACK,	/* the plain route back to the source */
	IPSECMSS_ROUTE_PEER,	/* the route toward an SA's peer */
	IPSECMSS_ROUTE_KINDS,
};

struct ipsecmss_route_key {
	xfrm_address_t daddr, saddr;
	u32 mark;
	u32 family;
};

/*
 * The mirror cache.  xfrm_stateonly_find() walks the state table under
 * the netns-wide state lock for every SYN that came out of IPsec.  Each
 * CPU keeps, per slot, the mirror it last found for an inbound SA's keys
 * (the SPI and genid of that mirror).  A hit looks the SA up again by its
 * SPI, with xfrm_state_lookup() (RCU, no lock), and keeps it only while
 * the kernel would keep a bundle over it, as xfrm_bundle_ok() tests: still
 * XFRM_STATE_VALID, the same genid.  __xfrm_state_bump_genids() bumps that
 * genid when an SA of the same reqid, addresses, mark and if_id is
 * inserted with XFRM_MSG_NEWSA (a rekey, as strongSwan and libreswan
 * install it), so a rekey, a deleted or expired mirror, or a new SA of the
 * same CHILD_SA sends the next SYN back to xfrm_stateonly_find().  Not
 * seen: an outbound SA completed from a larval one by XFRM_MSG_UPDSA
 * (xfrm_state_update() inserts it without bumping), a newer SA that only
 * another CPU's per-CPU SAs (7.x pcpu_num) or another mark mask would
 * match; the old SA then stands until it is deleted or expires.  Only a
 * reqid match is kept, never a miss: the any-SA fallback has no genid that
 * follows its rekeys.
 */
#define IPSECMSS_MIRROR_SLOT_BITS 4
#define IPSECMSS_MIRROR_SLOTS BIT(IPSECMSS_MIRROR_SLOT_BITS)

/* what xfrm_stateonly_find() is asked for an inbound SA's mirror */
struct ipsecmss_mirror_key {
	xfrm_address_t peer, local;	/* the mirror's daddr, saddr */
	u32 mark, if_id, reqid;
	u16 family;
	u8 mode, proto;
};

struct ipsecmss_mirror {
	struct ipsecmss_mirror_key key;
	__be32 spi;	/* the mirror found for key; 0: none yet */
	u32 genid;	/* its genid then */
};

/* a CPU's own part: the keys of its dst[] entries, its mirrors */
struct ipsecmss_route_cpu {
	struct ipsecmss_route_key k[IPSECMSS_ROUTE_KINDS * IPSECMSS_ROUTE_SLOTS];
	struct ipsecmss_mirror m[IPSECMSS_MIRROR_SLOTS];
};

struct ipsecmss_route_cache {
	struct dst_cache dst[IPSECMSS_ROUTE_KINDS * IPSECMSS_ROUTE_SLOTS];
	struct ipsecmss_route_cpu __percpu *cpu;
};

void ipsecmss_routes_free(struct ipsecmss_route_cache *rc)
{
	unsigned int i;

	if (!IS_ENABLED(CONFIG_DST_CACHE) || !rc)
		return;
	for (i = 0; i < ARRAY_SIZE(rc->dst); i++)
		dst_cache_destroy(&rc->dst[i]);
	free_percpu(rc->cpu);
	kfree(rc);
}

struct ipsecmss_route_cache *ipsecmss_routes_alloc(void)
{
	struct ipsecmss_route_cache *rc;
	unsigned int i;

	if (!IS_ENABLED(CONFIG_DST_CACHE))
		return NULL;
	rc = kzalloc(sizeof(*rc), GFP_KERNEL);
	if (!rc)
		return NULL;
	rc->cpu = alloc_percpu(struct ipsecmss_route_cpu);
	if (!rc->cpu)
		goto fail;
	for (i = 0; i < ARRAY_SIZE(rc->dst); i++)
		if (dst_cache_init(&rc->dst[i], GFP_KERNEL))
			goto fail;
	return rc;
fail:
	ipsecmss_routes_free(rc);	/* dst_cache_destroy() takes unset ones */
	return NULL;
}

/*
 * The slot of a lookup's keys (@words of them, fully set, no holes): the
 * words folded, then hash_32() to @bits.  Cheap on purpose (it runs for
 * every SYN); a collision only costs a lookup.
 */
static unsigned int ipsecmss_slot(const u32 *w, unsigned int words,
				  unsigned int bits)
{
	unsigned int i;
	u32 h = 0;

	for (i = 0; i < words; i++)
		h = h * 31 + w[i];
	return hash_32(h, bits);
}

static unsigned int ipsecmss_route_slot(const struct ipsecmss_route_key *k)
{
	BUILD_BUG_ON(sizeof(*k) % sizeof(u32));
	return ipsecmss_slot((const u32 *)k, sizeof(*k) / sizeof(u32),
			     IPSECMSS_ROUTE_SLOT_BITS);
}

/* two keys of @words words alike?  Inline: memcmp() is a call per SYN */
static bool ipsecmss_keys_equal(const u32 *a, const u32 *b,
				unsigned int words)
{
	unsigned int i;
	u32 d = 0;

	for (i = 0; i < words; i++)
		d |= a[i] ^ b[i];
	return !d;
}

/*
 * A plain route (never through xfrm: no protocol in the flow) for @fl,
 * which holds only a destination, a source and a mark, the way nf_route()
 * and xfrm4/6_dst_lookup() make it: referenced, or NULL when there is no
 * real one.  Through @net's route cache @rc when it has one.
 */
static struct dst_entry *ipsecmss_route(struct net *net,
					struct ipsecmss_route_cache *rc,
					struct flowi *fl, u8 family,
					enum ipsecmss_route_kind kind)
{
	/* set before any use, only with a cache: no zeroing on entry */
	struct ipsecmss_route_key key __uninitialized;
	struct dst_entry *dst = NULL;
	unsigned int slot = 0;

	/* without CONFIG_DST_CACHE there is none, and no dst_cache call */
	if (!IS_ENABLED(CONFIG_DST_CACHE))
		rc = NULL;
	if (rc) {
		memset(&key, 0, sizeof(key));
		key.family = family;
		if (family == NFPROTO_IPV4) {
			key.daddr.a4 = fl->u.ip4.daddr;
			key.saddr.a4 = fl->u.ip4.saddr;
			key.mark = fl->u.ip4.flowi4_mark;
		} else {
			key.daddr.in6 = fl->u.ip6.daddr;
			key.saddr.in6 = fl->u.ip6.saddr;
			key.mark = fl->u.ip6.flowi6_mark;
		}
		slot = kind * IPSECMSS_ROUTE_SLOTS + ipsecmss_route_slot(&key);
		/*
		 * The per-CPU slot is this context's alone with BHs off.  Ask
		 * the cache even for another flow's slot: a miss is what
		 * dates it (refresh_ts) so that the route set next is good.
		 */
		local_bh_disable();
		dst = dst_cache_get(&rc->dst[slot]);
		if (dst && !ipsecmss_keys_equal((const u32 *)
						this_cpu_ptr(&rc->cpu->k[slot]),
						(const u32 *)&key,
						sizeof(key) / sizeof(u32))) {
			dst_release(dst);
			dst = NULL;
		}
		local_bh_enable();
		if (dst)
			return dst;
	}
	if (nf_route(net, &dst, fl, false, family) || !dst)
		return NULL;
	if (!ipsecmss_real_route(dst)) {
		dst_release(dst);
		return NULL;
	}
	if (rc) {
		local_bh_disable();
		if (family == NFPROTO_IPV4)
			dst_cache_set_ip4(&rc->dst[slot], dst, key.saddr.a4);
#if IS_ENABLED(CONFIG_IPV6)
		else
			dst_cache_set_ip6(&rc->dst[slot], dst, &key.saddr.in6);
#endif
		*this_cpu_ptr(&rc->cpu->k[slot]) = key;
		local_bh_enable();
	}
	return dst;
}

/* ipsecmss_route()'s MTU, 0 if there is no route */
static unsigned int ipsecmss_flow_mtu(struct net *net,
				      struct ipsecmss_route_cache *rc,
				      struct flowi *fl, u8 family)
{
	struct dst_entry *dst = ipsecmss_route(net, rc, fl, family,
					       IPSECMSS_ROUTE_PEER);
	unsigned int mtu = 0;

	if (dst) {
		mtu = dst_mtu(dst);
		dst_release(dst);
	}
	return mtu;
}

/*
 * The plain route back to the segment's source, as a reply finds it:
 * referenced, or NULL when there is no real one.
 */
static struct dst_entry *ipsecmss_reverse_route(struct net *net,
						struct ipsecmss_route_cache *rc,
						const struct sk_buff *skb,
						u8 family)
{
	struct flowi fl;

	memset(&fl, 0, sizeof(fl));
	if (family == NFPROTO_IPV4)
		fl.u.ip4.daddr = ip_hdr(skb)->saddr;
	else
		fl.u.ip6.daddr = ipv6_hdr(skb)->saddr;
	return ipsecmss_route(net, rc, &fl, family, IPSECMSS_ROUTE_BACK);
}

/*
 * Can xfrm_state_mtu() size @x (without a warning)?  Tunnel and transport
 * mode; and an IP-TFS SA (v6.14, RFC 9347), through its mode's
 * get_inner_mtu(), iptfs_get_inner_mtu(): with "dont-frag" the ESP
 * arithmetic less the 4-byte AGGFRAG header, as for its bundle; without,
 * IP_MAX_MTU (IP6_MAX_MTU), since the SA splits an inner packet across
 * ESP packets (iptfs_copy_create_frags()): then only the routes bound it,
 * here the plain route back, in xfrm_init_pmtu() the bundle's inner route.
 */
static bool ipsecmss_sa_sized(const struct xfrm_state *x)
{
	return x->props.mode == XFRM_MODE_TUNNEL ||
	       x->props.mode == XFRM_MODE_TRANSPORT || ipsecmss_iptfs_sized(x);
}

/*
 * The MTU left inside @n SAs (@x[0] the one next to the underlay) over an
 * underlay of @under bytes: xfrm_init_pmtu()'s chain of xfrm_state_mtu().
 * A @cap below the underlay replaces it and sets *capped.
 */
static unsigned int ipsecmss_sa_chain_mtu(struct xfrm_state *const *x, int n,
					  unsigned int under, unsigned int cap,
					  bool *capped)
{
	int i;

	if (!under)
		return 0;
	if (cap && cap < under) {
		under = cap;
		*capped = true;
	}
	for (i = 0; i < n && under; i++) {
		u32 m;

		if (!ipsecmss_sa_sized(x[i]))
			return 0;
		m = ipsecmss_state_mtu(x[i], under);
		under = (int)m > 0 ? m : 0;
	}
	return under;
}

/*
 * An IPsec bundle made by xfrm_lookup(): its MTU, less @hdr bytes of
 * tunnel headers inside it, into @p.  With a cap, the chain of its SAs is
 * sized again over the capped path route.
 */
void ipsecmss_take_bundle(struct ipsecmss_path *p, const struct dst_entry *dst,
			  unsigned int hdr, unsigned int cap, u8 src)
{
	struct xfrm_state *x[XFRM_MAX_DEPTH];
	const struct dst_entry *d = dst;
	unsigned int mtu = dst_mtu(dst), m = 0;
	bool capped = false;
	int n = 0, i;

	p->ipsec = true;
	/* the chain from the innermost SA toward the path route */
	while (d && d->xfrm && n < XFRM_MAX_DEPTH) {
		x[n++] = d->xfrm;
		d = xfrm_dst_child(d);
	}
	if (cap && ipsecmss_real_route(d) && !d->xfrm) {
		for (i = 0; i < n / 2; i++)
			swap(x[i], x[n - 1 - i]);
		m = ipsecmss_sa_chain_mtu(x, n, dst_mtu(d), cap, &capped);
	}
	if (capped && m > hdr && m < mtu) {
		ipsecmss_take(p, m - hdr, IPSECMSS_SRC_CAP, dst->xfrm->id.spi);
		return;
	}
	if (mtu > hdr)
		ipsecmss_take(p, mtu - hdr, src, dst->xfrm->id.spi);
}

/* could @x still be what xfrm_stateonly_find() gave for @k, @genid ago? */
static bool ipsecmss_mirror_stands(const struct xfrm_state *x,
				   const struct ipsecmss_mirror_key *k,
				   u32 genid)
{
	return READ_ONCE(x->km.state) == XFRM_STATE_VALID &&
	       READ_ONCE(x->genid) == genid && x->props.reqid == k->reqid &&
	       x->if_id == k->if_id && x->props.mode == k->mode &&
	       x->props.family == k->family &&
	       !(x->props.flags & XFRM_STATE_WILDRECV) &&
	       xfrm_state_addr_check(x, &k->peer, &k->local, k->family);
}

/*
 * The mirror of the inbound SA @in, referenced, or NULL: the SA of the
 * same CHILD_SA (IKE daemons give both directions one reqid), same mode,
 * if_id, mark and protocol, peer and local swapped, as
 * xfrm_stateonly_find() finds it, through the mirror cache above; else
 * any SA between the two (xfrm_state_lookup_byaddr()).  Both take the
 * state lock with spin_lock_bh: softirq or process context.
 */
static struct xfrm_state *ipsecmss_mirror(struct net *net,
					  struct ipsecmss_route_cache *rc,
					  const struct xfrm_state *in)
{
	struct ipsecmss_mirror_key key __uninitialized;	/* memset below */
	struct ipsecmss_mirror *m;
	struct xfrm_state *out;
	unsigned int slot = 0;
	u32 genid = 0;
	__be32 spi = 0;

	BUILD_BUG_ON(sizeof(key) % sizeof(u32));
	memset(&key, 0, sizeof(key));
	key.peer = in->props.saddr;
	key.local = in->id.daddr;
	key.mark = in->mark.v & in->mark.m;
	key.if_id = in->if_id;
	key.reqid = in->props.reqid;
	key.family = in->props.family;
	key.mode = in->props.mode;
	key.proto = in->id.proto;
	if (rc) {
		slot = ipsecmss_slot((const u32 *)&key, sizeof(key) / sizeof(u32),
				     IPSECMSS_MIRROR_SLOT_BITS);
		local_bh_disable();	/* the CPU's slot is this context's */
		m = this_cpu_ptr(&rc->cpu->m[slot]);
		if (m->spi && ipsecmss_keys_equal((const u32 *)&m->key,
						  (const u32 *)&key,
						  sizeof(key) / sizeof(u32))) {
			spi = m->spi;
			genid = m->genid;
		}
		local_bh_enable();
	}
	if (spi) {
		out = xfrm_state_lookup(net, key.mark, &key.peer, spi, key.proto,
					key.family);
		if (out && ipsecmss_mirror_stands(out, &key, genid))
			return out;
		if (out)
			xfrm_state_put(out);
	}
	out = xfrm_stateonly_find(net, key.mark, key.if_id, &key.peer,
				  &key.local, key.family, key.mode, key.proto,
				  key.reqid);
	if (!out)
		return xfrm_state_lookup_byaddr(net, key.mark, &key.peer,
						&key.local, key.proto,
						key.family);
	if (rc) {
		struct xfrm_state *again;

		/*
		 * The genid is read after the lock was dropped: a rekey in
		 * between would leave the old SA cached with the bumped one.
		 * Kept only if the state table still gives this SA after the
		 * read (a rekey after it bumps what is kept).
		 */
		genid = READ_ONCE(out->genid);
		again = xfrm_stateonly_find(net, key.mark, key.if_id, &key.peer,
					    &key.local, key.family, key.mode,
					    key.proto, key.reqid);
		if (again == out) {
			local_bh_disable();
			m = this_cpu_ptr(&rc->cpu->m[slot]);
			m->key = key;
			m->spi = out->id.spi;
			m->genid = genid;
			local_bh_enable();
		}
		if (again)
			xfrm_state_put(again);
	}
	return out;
}

/*
 * Reverse path of a segment that came out of IPsec.  The reply leaves by
 * the inbound SA's mirror (the SA from this host to the same peer), over
 * the route xfrm_bundle_create() makes for it: toward the peer, from the
 * SA's local address, with the SA's output mark.  Taken from the skb's
 * own secpath and the state table, so it never triggers an IKE
 * negotiation, never blocks and is exact from the first SYN on.
 */
static void ipsecmss_secpath_path(struct net *net,
				  struct ipsecmss_route_cache *rc,
				  const struct sk_buff *skb, unsigned int cap,
				  struct ipsecmss_path *p)
{
	const struct sec_path *sp = skb_sec_path(skb);
	/* set before any use: not zeroed on entry (INIT_STACK_ALL_ZERO) */
	struct xfrm_state *x[XFRM_MAX_DEPTH] __uninitialized;
	struct flowi fl __uninitialized;
	struct xfrm_state *in, *out;
	bool capped = false;
	unsigned int mtu;
	u8 family;
	int i;

	if (!sp || sp->len <= 0 || sp->len > XFRM_MAX_DEPTH)
		return;
	for (i = 0; i < sp->len; i++)
		x[i] = sp->xvec[i];
	in = x[0];
	p->ipsec = true;
	family = in->props.family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	out = ipsecmss_mirror(net, rc, in);
	if (out)
		x[0] = out;

	memset(&fl, 0, sizeof(fl));
	if (family == NFPROTO_IPV4) {
		fl.u.ip4.daddr = in->props.saddr.a4;
		fl.u.ip4.saddr = in->id.daddr.a4;
		/* xfrm_bundle_create(): no mark unless the SA sets one */
		if (out && (out->props.smark.v || out->props.smark.m))
			fl.u.ip4.flowi4_mark = xfrm_smark_get(0, out);
	} else {
		fl.u.ip6.daddr = in->props.saddr.in6;
		fl.u.ip6.saddr = in->id.daddr.in6;
		if (out && (out->props.smark.v || out->props.smark.m))
			fl.u.ip6.flowi6_mark = xfrm_smark_get(0, out);
	}
	mtu = ipsecmss_flow_mtu(net, rc, &fl, family);
	mtu = ipsecmss_sa_chain_mtu(x, sp->len, mtu, cap, &capped);
	ipsecmss_take(p, mtu, capped ? IPSECMSS_SRC_CAP : IPSECMSS_SRC_SECPATH,
		      x[0]->id.spi);
	if (out)
		xfrm_state_put(out);
}

/*
 * Is there an SA from @saddr to @daddr?  Without one, xfrm_lookup() for
 * a flow between them would send an ACQUIRE (start an IKE negotiation)
 * on the module's behalf: the device lookups below are skipped then.
 */
static bool ipsecmss_sa_exists(struct net *net, u32 mark,
			       const xfrm_address_t *daddr,
			       const xfrm_address_t *saddr, unsigned short af)
{
	static const u8 protos[] = { IPPROTO_ESP, IPPROTO_AH };
	struct xfrm_state *x;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(protos); i++) {
		x = xfrm_state_lookup_byaddr(net, mark, daddr, saddr,
					     protos[i], af);
		if (x) {
			xfrm_state_put(x);
			return true;
		}
	}
	return false;
}

/*
 * Devices that hide the SA.  A route "dev ipsec0" (xfrm interface), "dev
 * vti0", or "dev gre1" whose outer packets an ESP transport SA protects,
 * has the device's MTU (1500, 1480), which knows nothing of ESP.  Resolve
 * the bundle the device's own transmit path resolves (xfrmi_xmit2(),
 * vti_xmit(), ip_tunnel_xmit()), for this very flow, and take its MTU:
 * exact from the first SYN, before any PMTU exception.  A policy with no
 * SA yet gives no bundle and the plain route stands.
 */

/*
 * xfrm interfaces and vti: the policy matches the inner flow, tagged with
 * the interface's if_id or the vti's output key as mark.  @route is the
 * route through the device; @reverse selects the reply's flow.
 *
 * An xfrm interface names no endpoints, so whether an SA exists for the
 * flow cannot be known without the lookup itself, which sends an ACQUIRE
 * when there is none.  With @defer, the lookup is left to the module's
 * late hook (after the filter table and source NAT, just before
 * xfrmi_xmit() makes the same lookup for this very packet, or the reply
 * to it): p->deferred.
 */
static void ipsecmss_inner_dev_path(struct net_device *dev,
				    struct dst_entry *route,
				    struct sk_buff *skb, u8 family,
				    bool reverse, bool defer, unsigned int cap,
				    struct ipsecmss_path *p)
{
	unsigned short af = family == NFPROTO_IPV4 ? AF_INET : AF_INET6;
	const char *kind = dev->rtnl_link_ops->kind;
	struct dst_entry *dst;
	struct net *net;
	struct flowi fl;
	u32 if_id = 0;
	int err;

	memset(&fl, 0, sizeof(fl));
	if (reverse)
		err = ipsecmss_decode_session_reverse(dev_net(dev), skb, &fl, af);
	else
		err = ipsecmss_decode_session(dev_net(dev), skb, &fl, af);
	if (err)
		return;

	if (!strcmp(kind, "xfrm")) {
		const struct xfrm_if *xi = netdev_priv(dev);

		if (ipsecmss_xfrmi_collect_md(xi))
			return;
		if (defer) {
			p->ipsec = true;
			p->deferred = true;
			return;
		}
		net = xi->net;
		fl.flowi_oif = xi->p.link;
		if_id = xi->p.if_id;
	} else if (!strcmp(kind, "vti")) {
		const struct ip_tunnel *t = netdev_priv(dev);
		xfrm_address_t d = { .a4 = t->parms.iph.daddr };
		xfrm_address_t s = { .a4 = t->parms.iph.saddr };

		net = t->net;
		fl.flowi_mark = be32_to_cpu(t->parms.o_key);
		if (d.a4 && !ipsecmss_sa_exists(net, fl.flowi_mark, &d, &s,
						AF_INET))
			return;
#if IS_ENABLED(CONFIG_IPV6)
	} else if (!strcmp(kind, "vti6")) {
		const struct ip6_tnl *t = netdev_priv(dev);
		xfrm_address_t d = { .in6 = t->parms.raddr };
		xfrm_address_t s = { .in6 = t->parms.laddr };

		net = t->net;
		fl.flowi_mark = be32_to_cpu(t->parms.o_key);
		if (!ipv6_addr_any(&t->parms.raddr) &&
		    !ipsecmss_sa_exists(net, fl.flowi_mark, &d, &s, AF_INET6))
			return;
#endif
	} else {
		return;
	}
	/* no SA in this netns: the lookup could only send an ACQUIRE */
	if (!READ_ONCE(net->xfrm.state_num))
		return;
	/*
	 * The lookup consumes a reference.  A forwarded or output skb holds
	 * its route without one (skb_dst_set_noref), and another CPU may be
	 * dropping the route's last reference right now: take one only if
	 * it is still alive, as __xfrm_route_forward() does by forcing it.
	 */
	if (!dst_hold_safe(route))
		return;
	dst = xfrm_lookup_with_ifid(net, route, &fl, NULL, 0, if_id);
	if (IS_ERR_OR_NULL(dst))
		return;
	if (dst->xfrm && (!if_id || dst->xfrm->if_id == if_id))
		ipsecmss_take_bundle(p, dst, 0, cap, IPSECMSS_SRC_DEVICE);
	dst_release(dst);
}

/*
 * The outer route of a tunnel device, as its transmit path makes it
 * (ip_route_output_flow() and ip6_dst_lookup_flow(): the plain route,
 * then xfrm_lookup() with the outer flow), asking xfrm only when an SA
 * between the endpoints exists.  Returns a referenced dst or NULL.
 */
static struct dst_entry *ipsecmss_outer_route4(struct net *net,
					       struct flowi4 *fl4)
{
	xfrm_address_t d = {}, s = {};
	struct dst_entry *dst;
	struct rtable *rt;

	rt = __ip_route_output_key(net, fl4);	/* fills in the source */
	if (IS_ERR(rt))
		return NULL;
	d.a4 = fl4->daddr;
	s.a4 = fl4->saddr;
	if (!ipsecmss_sa_exists(net, fl4->flowi4_mark, &d, &s, AF_INET)) {
		ip_rt_put(rt);
		return NULL;
	}
	dst = xfrm_lookup(net, &rt->dst, flowi4_to_flowi(fl4), NULL, 0);
	return IS_ERR_OR_NULL(dst) ? NULL : dst;
}

#if IS_ENABLED(CONFIG_IPV6)
static struct dst_entry *ipsecmss_outer_route6(struct net *net,
					       struct flowi6 *fl6)
{
	xfrm_address_t d = {}, s = {};
	struct dst_entry *dst;

	dst = ip6_route_output(net, NULL, fl6);
	if (dst->error || !dst->dev)
		goto out;
	if (ipv6_addr_any(&fl6->saddr) &&
	    ipv6_dev_get_saddr(net, dst->dev, &fl6->daddr, 0, &fl6->saddr))
		goto out;
	d.in6 = fl6->daddr;
	s.in6 = fl6->saddr;
	if (!ipsecmss_sa_exists(net, fl6->flowi6_mark, &d, &s, AF_INET6))
		goto out;
	dst = xfrm_lookup(net, dst, flowi6_to_flowi(fl6), NULL, 0);
	return IS_ERR_OR_NULL(dst) ? NULL : dst;
out:
	dst_release(dst);
	return NULL;
}
#endif

/*
 * VXLAN over IPsec: the outer flow is UDP between the endpoints, from the
 * source port vxlan_xmit_one() hashes from the inner flow to the
 * device's port; its headers (vxlan_headroom()) come off the bundle.
 */
static struct dst_entry *ipsecmss_vxlan_route(struct net_device *dev,
					      struct sk_buff *skb,
					      unsigned int *hdr)
{
#if IS_ENABLED(CONFIG_VXLAN)
	const struct vxlan_dev *vx = netdev_priv(dev);
	const struct vxlan_rdst *rd = &vx->default_dst;
	__be16 dport = rd->remote_port ? rd->remote_port : vx->cfg.dst_port;
	__be16 sport = udp_flow_src_port(vx->net, skb, vx->cfg.port_min,
					 vx->cfg.port_max, true);

	if (vx->cfg.flags & VXLAN_F_COLLECT_METADATA)
		return NULL;
	*hdr = vxlan_headroom(vx->cfg.flags);
	if (rd->remote_ip.sa.sa_family == AF_INET) {
		struct flowi4 fl4;

		if (!rd->remote_ip.sin.sin_addr.s_addr ||
		    ipv4_is_multicast(rd->remote_ip.sin.sin_addr.s_addr))
			return NULL;
		memset(&fl4, 0, sizeof(fl4));
		fl4.daddr = rd->remote_ip.sin.sin_addr.s_addr;
		fl4.saddr = vx->cfg.saddr.sin.sin_addr.s_addr;
		fl4.flowi4_oif = rd->remote_ifindex;
		fl4.flowi4_mark = skb->mark;
		fl4.flowi4_proto = IPPROTO_UDP;
		fl4.fl4_dport = dport;
		fl4.fl4_sport = sport;
		return ipsecmss_outer_route4(vx->net, &fl4);
	}
#if IS_ENABLED(CONFIG_IPV6)
	if (rd->remote_ip.sa.sa_family == AF_INET6) {
		struct flowi6 fl6;

		if (ipv6_addr_any(&rd->remote_ip.sin6.sin6_addr) ||
		    ipv6_addr_is_multicast(&rd->remote_ip.sin6.sin6_addr))
			return NULL;
		memset(&fl6, 0, sizeof(fl6));
		fl6.daddr = rd->remote_ip.sin6.sin6_addr;
		fl6.saddr = vx->cfg.saddr.sin6.sin6_addr;
		fl6.flowi6_oif = rd->remote_ifindex;
		fl6.flowi6_mark = skb->mark;
		fl6.flowi6_proto = IPPROTO_UDP;
		fl6.fl6_dport = dport;
		fl6.fl6_sport = sport;
		return ipsecmss_outer_route6(vx->net, &fl6);
	}
#endif
#endif
	return NULL;
}

/*
 * IP-in-IP, SIT, GRE and GRETAP over IPsec (typically ESP transport
 * between the tunnel's endpoints): the policy matches the outer flow
 * between the endpoints, which ip_tunnel_xmit() and ip6_tnl_xmit() key
 * with the tunnel's protocol, GRE key, link and fwmark.  The MTU left for
 * the inner packet is the bundle's, less the outer IP header, the
 * tunnel's own header and, for an L2 tunnel, the inner Ethernet header.
 * Returns false for a device kind it does not know.
 */
static bool ipsecmss_outer_dev_path(struct net_device *dev,
				    struct sk_buff *skb, u8 family,
				    unsigned int cap, struct ipsecmss_path *p)
{
	const char *kind = dev->rtnl_link_ops->kind;
	u8 proto = family == NFPROTO_IPV4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	struct dst_entry *dst = NULL;
	unsigned int hdr = 0;

	if (!strcmp(kind, "ipip") || !strcmp(kind, "sit") ||
	    !strcmp(kind, "gre") || !strcmp(kind, "gretap")) {
		const struct ip_tunnel *t = netdev_priv(dev);
		bool gre = kind[0] == 'g';
		struct flowi4 fl4;

		if (t->collect_md || !t->parms.iph.daddr ||
		    ipv4_is_multicast(t->parms.iph.daddr))
			return true;
		memset(&fl4, 0, sizeof(fl4));
		fl4.daddr = t->parms.iph.daddr;
		fl4.saddr = t->parms.iph.saddr;
		fl4.flowi4_proto = gre ? IPPROTO_GRE : proto;
		fl4.fl4_gre_key = gre ? t->parms.o_key : 0;
		fl4.flowi4_oif = t->parms.link;
		fl4.flowi4_mark = t->fwmark;
		dst = ipsecmss_outer_route4(t->net, &fl4);
		hdr = sizeof(struct iphdr) + t->hlen +
		      (kind[3] == 't' ? ETH_HLEN : 0);
#if IS_ENABLED(CONFIG_IPV6)
	} else if (!strcmp(kind, "ip6tnl") || !strcmp(kind, "ip6gre") ||
		   !strcmp(kind, "ip6gretap")) {
		const struct ip6_tnl *t = netdev_priv(dev);
		bool gre = kind[3] == 'g';
		struct flowi6 fl6;

		if (t->parms.collect_md || ipv6_addr_any(&t->parms.raddr) ||
		    ipv6_addr_is_multicast(&t->parms.raddr))
			return true;
		memset(&fl6, 0, sizeof(fl6));
		fl6.daddr = t->parms.raddr;
		fl6.saddr = t->parms.laddr;
		fl6.flowi6_proto = gre ? IPPROTO_GRE : proto;
		fl6.fl6_gre_key = gre ? t->parms.o_key : 0;
		fl6.flowi6_oif = t->parms.link;
		fl6.flowi6_mark = t->parms.fwmark;
		dst = ipsecmss_outer_route6(t->net, &fl6);
		/* the encapsulation limit option: 8 bytes unless disabled */
		hdr = sizeof(struct ipv6hdr) + t->hlen +
		      (t->parms.flags & IP6_TNL_F_IGN_ENCAP_LIMIT ? 0 : 8) +
		      (!strcmp(kind, "ip6gretap") ? ETH_HLEN : 0);
#endif
	} else if (!strcmp(kind, "vxlan")) {
		dst = ipsecmss_vxlan_route(dev, skb, &hdr);
	} else {
		return false;
	}
	if (!dst)
		return true;
	if (dst->xfrm && ipsecmss_real_route(xfrm_dst_path(dst)))
		ipsecmss_take_bundle(p, dst, hdr, cap, IPSECMSS_SRC_DEVICE);
	dst_release(dst);
	return true;
}

/*
 * Device kinds that carry the packet as it is, with no header of their
 * own on the path: no SA can hide behind them.
 */
static bool ipsecmss_plain_kind(const char *kind)
{
	static const char *const plain[] = {
		"veth", "bridge", "vlan", "macvlan", "macvtap", "ipvlan",
		"ipvtap", "bond", "team", "dummy", "vrf", "ifb", "nlmon",
		"netkit", "hsr", "virt_wifi",
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(plain); i++)
		if (!strcmp(kind, plain[i]))
			return true;
	return false;
}

/* the IPsec MTU behind the device @route leads to, into @p */
static void ipsecmss_dev_path(struct net *net, struct dst_entry *route,
			      struct sk_buff *skb, u8 family, bool reverse,
			      bool defer, unsigned int cap,
			      struct ipsecmss_path *p)
{
	struct net_device *dev = route->dev;
	const char *kind;

	if (!dev->rtnl_link_ops || !dev->rtnl_link_ops->kind)
		return;
	/* no policy at all: nothing the device's xmit could find */
	if (!READ_ONCE(dev_net(dev)->xfrm.policy_count[XFRM_POLICY_OUT]))
		return;
	kind = dev->rtnl_link_ops->kind;
	if (ipsecmss_plain_kind(kind))
		return;
	if (!strcmp(kind, "xfrm") || !strcmp(kind, "vti") ||
	    !strcmp(kind, "vti6"))
		ipsecmss_inner_dev_path(dev, route, skb, family, reverse,
					defer, cap, p);
	else if (!ipsecmss_outer_dev_path(dev, skb, family, cap, p))
		ipsecmss_count(net, IPSECMSS_C_DEVICE_UNKNOWN);
}

/* a plain route's MTU into @p, capped */
static void ipsecmss_take_route(struct ipsecmss_path *p, unsigned int mtu,
				unsigned int cap)
{
	if (mtu && cap && cap < mtu)
		ipsecmss_take(p, cap, IPSECMSS_SRC_CAP, 0);
	else
		ipsecmss_take(p, mtu, IPSECMSS_SRC_ROUTE, 0);
}

/*
 * The reply's path: with a secpath, the SA's arithmetic capped by the
 * plain route back (the device it leaves by, a locked route MTU, a learnt
 * PMTU exception); without one (the SYN came in through a vti or an IP
 * tunnel, which drop it, or in clear), the route back and the IPsec MTU
 * behind its device.
 */
static void ipsecmss_reverse_path(struct net *net,
				  struct ipsecmss_route_cache *rc,
				  struct sk_buff *skb, u8 family, bool defer,
				  unsigned int cap, struct ipsecmss_path *p)
{
	struct dst_entry *dst;

	/* its locals are not zeroed (INIT_STACK_ALL_ZERO) for a clear SYN */
	if (skb_sec_path(skb))
		ipsecmss_secpath_path(net, rc, skb, cap, p);
	dst = ipsecmss_reverse_route(net, rc, skb, family);
	if (!dst)
		return;
	ipsecmss_take_route(p, dst_mtu(dst), cap);
	if (!p->ipsec)
		ipsecmss_dev_path(net, dst, skb, family, true, defer, cap, p);
	dst_release(dst);
}

/* the segment's own path: its route, a bundle, or the SA behind its device */
static void ipsecmss_forward_path(struct net *net, struct dst_entry *dst,
				  struct sk_buff *skb, u8 family, bool defer,
				  unsigned int cap, struct ipsecmss_path *p)
{
	if (dst->xfrm) {
		ipsecmss_take_bundle(p, dst, 0, cap, IPSECMSS_SRC_BUNDLE);
		return;
	}
	ipsecmss_take_route(p, dst_mtu(dst), cap);
	ipsecmss_dev_path(net, dst, skb, family, false, defer, cap, p);
}

void ipsecmss_late_path(struct net *net, struct sk_buff *skb, u8 family,
			bool reverse, unsigned int cap,
			struct ipsecmss_path *p)
{
	if (reverse)
		ipsecmss_reverse_path(net, ipsecmss_routes(net), skb, family,
				      false, cap, p);
	else
		ipsecmss_forward_path(net, skb_dst(skb), skb, family, false,
				      cap, p);
}

/*
 * In OUTPUT the segment still has the route its socket chose.  A mark,
 * address or TOS that the mangle or nat chains change makes the kernel
 * route it again after the chain (ipt_mangle_out() and
 * nf_nat_ipv4_local_fn() call ip_route_me_harder()).  Route it here the
 * way ip_route_me_harder() and ip6_route_me_harder() will, with the
 * segment's keys as they stand at this rule, through xfrm_lookup() too.
 * Not mirrored: a TOS-keyed route and a VRF's l3mdev key.  Returns a
 * referenced route, or NULL (then the segment's own route stands).
 */
static struct dst_entry *ipsecmss_output_route(struct net *net,
					       struct sk_buff *skb,
					       const struct xt_action_param *par)
{
	struct sock *sk = par->state->sk ? sk_to_full_sk(par->state->sk) : NULL;
	struct net_device *dev = skb_dst(skb)->dev;
	struct flow_keys flkeys;
	struct dst_entry *dst;
	bool transformed;
	struct flowi fl;

	memset(&fl, 0, sizeof(fl));
	if (xt_family(par) == NFPROTO_IPV4) {
		const struct iphdr *iph = ip_hdr(skb);
		struct flowi4 *fl4 = &fl.u.ip4;
		unsigned int type;
		struct rtable *rt;

		fl4->flowi4_flags = sk ? inet_sk_flowi_flags(sk) : 0;
		type = inet_addr_type_dev_table(net, dev, iph->saddr);
		if (type == RTN_LOCAL || type == RTN_UNICAST) {
			fl4->saddr = iph->saddr;
			fl4->flowi4_flags |= FLOWI_FLAG_ANYSRC;
		}
		fl4->daddr = iph->daddr;
		fl4->flowi4_oif = sk ? sk->sk_bound_dev_if : 0;
		fl4->flowi4_mark = skb->mark;
		fib4_rules_early_flow_dissect(net, skb, fl4, &flkeys);
		rt = ip_route_output_key(net, fl4);
		if (IS_ERR(rt))
			return NULL;
		dst = &rt->dst;
		transformed = IPCB(skb)->flags & IPSKB_XFRM_TRANSFORMED;
#if IS_ENABLED(CONFIG_IPV6)
	} else {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);
		struct flowi6 *fl6 = &fl.u.ip6;

		fl6->flowi6_mark = skb->mark;
		fl6->flowi6_uid = sock_net_uid(net, sk);
		fl6->daddr = ip6h->daddr;
		fl6->saddr = ip6h->saddr;
		if (sk && sk->sk_bound_dev_if)
			fl6->flowi6_oif = sk->sk_bound_dev_if;
		else if (ipv6_addr_type(&ip6h->daddr) &
			 (IPV6_ADDR_MULTICAST | IPV6_ADDR_LINKLOCAL))
			fl6->flowi6_oif = dev->ifindex;
		fib6_rules_early_flow_dissect(net, skb, fl6, &flkeys);
		dst = ip6_route_output(net, sk, fl6);
		transformed = IP6CB(skb)->flags & IP6SKB_XFRM_TRANSFORMED;
#else
	} else {
		return NULL;
#endif
	}
	if (dst->error || !ipsecmss_real_route(dst)) {
		dst_release(dst);
		return NULL;
	}
	if (transformed)
		return dst;
	if (ipsecmss_decode_session(net, skb, &fl, xt_family(par) ==
				    NFPROTO_IPV4 ? AF_INET : AF_INET6))
		return dst;
	/* the decoder keys the old route's device: the new one goes out */
	fl.flowi_oif = dst->dev->ifindex;
	dst = xfrm_lookup(net, dst, &fl, sk, 0);
	if (IS_ERR_OR_NULL(dst))
		return NULL;
	if (!ipsecmss_real_route(dst)) {
		dst_release(dst);
		return NULL;
	}
	return dst;
}

/* the underlay MTU the --esp and --overhead modes build on */
unsigned int ipsecmss_plain_mtu(struct net *net,
				struct ipsecmss_route_cache *rc,
				const struct sk_buff *skb, u8 family)
{
	unsigned int fwd = dst_mtu(xfrm_dst_path(skb_dst(skb)));
	struct dst_entry *rev = ipsecmss_reverse_route(net, rc, skb, family);

	if (rev) {
		if (dst_mtu(rev))
			fwd = min(fwd, dst_mtu(rev));
		dst_release(rev);
	}
	return fwd;
}

static const enum ipsecmss_counter ipsecmss_src_counter[] = {
	[IPSECMSS_SRC_NONE]	= IPSECMSS_C_AUTO_FAILED,
	[IPSECMSS_SRC_ROUTE]	= IPSECMSS_C_FROM_ROUTE,
	[IPSECMSS_SRC_BUNDLE]	= IPSECMSS_C_FROM_BUNDLE,
	[IPSECMSS_SRC_SECPATH]	= IPSECMSS_C_FROM_SECPATH,
	[IPSECMSS_SRC_DEVICE]	= IPSECMSS_C_FROM_DEVICE,
	[IPSECMSS_SRC_CAP]	= IPSECMSS_C_FROM_CAP,
};

/* the smaller of both directions; the forward one wins a tie */
unsigned int ipsecmss_auto_mtu(struct sk_buff *skb,
			       const struct xt_action_param *par,
			       struct ipsecmss_route_cache *rc, unsigned int cap,
			       struct ipsecmss_why *why)
{
	struct net *net = xt_net(par);
	const struct ipsecmss_path *c;
	struct dst_entry *dst = NULL;

	memset(why, 0, sizeof(*why));
	if (xt_hooknum(par) == NF_INET_LOCAL_OUT)
		dst = ipsecmss_output_route(net, skb, par);
	ipsecmss_forward_path(net, dst ? dst : skb_dst(skb), skb,
			      xt_family(par), true, cap, &why->fwd);
	dst_release(dst);
	ipsecmss_reverse_path(net, rc, skb, xt_family(par), true, cap,
			      &why->rev);
	if (!why->rev.mtu || (why->fwd.mtu && why->fwd.mtu <= why->rev.mtu))
		c = &why->fwd;
	else
		c = &why->rev;
	why->chosen = c;
	if (!c->mtu)
		return 0;
	why->events |= BIT(why->fwd.ipsec || why->rev.ipsec ?
			   IPSECMSS_C_AUTO_IPSEC : IPSECMSS_C_AUTO_ROUTE);
	/* a deferred lookup counts where the value is final: the late hook */
	if (!why->fwd.deferred && !why->rev.deferred)
		why->events |= BIT(ipsecmss_src_counter[c->src]);
	return c->mtu;
}

void ipsecmss_count_src(const struct net *net, u8 src)
{
	if (src < ARRAY_SIZE(ipsecmss_src_counter))
		ipsecmss_count(net, ipsecmss_src_counter[src]);
}
