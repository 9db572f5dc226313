// SPDX-License-Identifier: GPL-2.0
/*
 * IPSECMSS: lower the TCP MSS of SYN and SYN-ACK segments
 * so that full-size segments still fit after IPsec encapsulation.
 *
 * The option walk, the rewrite with its checksum update and the ESP
 * arithmetic live in the pure core (include/ipsecmss_core.h); this file
 * is the glue: it bounds the TCP header inside the skb, makes it
 * writable only when a byte has to change, finds the path MTU for the
 * derived modes, and keeps per-netns, per-CPU counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/skbuff.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/percpu.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/netfilter/x_tables.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
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

#include "xt_ipsecmss.h"
#include "ipsecmss_core.h"
#include "ipsecmss_compat.h"

#define IPSECMSS_VERSION "0.1.0"

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The IPSECMSS developers");
MODULE_DESCRIPTION("Xtables: clamp TCP MSS to what fits through IPsec");
MODULE_VERSION(IPSECMSS_VERSION);
MODULE_ALIAS("ipt_IPSECMSS");
MODULE_ALIAS("ip6t_IPSECMSS");
MODULE_ALIAS("xt_IPSECMSS");

/* ---------------------------------------------------------------------
 * Module parameters, checked on load and on every write under /sys.
 */
#define IPSECMSS_FLOOR_MIN	88	/* the stack's own TCP_MIN_MSS */

static unsigned int min_mss_ipv4 __read_mostly = 536;
static unsigned int min_mss_ipv6 __read_mostly = 1220;
static bool insert_missing __read_mostly = true;
static bool log_rewrites __read_mostly;

static int ipsecmss_set_floor(const char *val, unsigned int max,
			      const struct kernel_param *kp)
{
	unsigned int v;
	int err;

	err = kstrtouint(val, 0, &v);
	if (err)
		return err;
	if (v < IPSECMSS_FLOOR_MIN || v > max) {
		pr_err("%s=%u out of range %u..%u\n", kp->name, v,
		       IPSECMSS_FLOOR_MIN, max);
		return -ERANGE;
	}
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	return 0;
}

static int ipsecmss_set_floor4(const char *val, const struct kernel_param *kp)
{
	return ipsecmss_set_floor(val, XT_IPSECMSS_MSS_MAX4, kp);
}

static int ipsecmss_set_floor6(const char *val, const struct kernel_param *kp)
{
	return ipsecmss_set_floor(val, XT_IPSECMSS_MSS_MAX6, kp);
}

static const struct kernel_param_ops ipsecmss_floor4_ops = {
	.set = ipsecmss_set_floor4,
	.get = param_get_uint,
};

static const struct kernel_param_ops ipsecmss_floor6_ops = {
	.set = ipsecmss_set_floor6,
	.get = param_get_uint,
};

module_param_cb(min_mss_ipv4, &ipsecmss_floor4_ops, &min_mss_ipv4, 0644);
MODULE_PARM_DESC(min_mss_ipv4,
		 "Floor for derived IPv4 MSS values (88..65495, default 536)");
module_param_cb(min_mss_ipv6, &ipsecmss_floor6_ops, &min_mss_ipv6, 0644);
MODULE_PARM_DESC(min_mss_ipv6,
		 "Floor for derived IPv6 MSS values (88..65475, default 1220)");
module_param(insert_missing, bool, 0644);
MODULE_PARM_DESC(insert_missing,
		 "Insert an MSS option into SYNs that have none (default Y)");
module_param(log_rewrites, bool, 0644);
MODULE_PARM_DESC(log_rewrites,
		 "Log each rewrite, rate-limited, with old and new MSS (default N)");

/* ---------------------------------------------------------------------
 * Counters: per network namespace, per CPU on the packet path, summed
 * when /proc/net/stat/ipsecmss is read.
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

static const char *const ipsecmss_counter_name[IPSECMSS_C_NUM] = {
	[IPSECMSS_C_REWRITTEN]	 = "rewritten",
	[IPSECMSS_C_UNCHANGED]	 = "unchanged",
	[IPSECMSS_C_INSERTED]	 = "inserted",
	[IPSECMSS_C_NO_MSS]	 = "no_mss",
	[IPSECMSS_C_NOT_SYN]	 = "not_syn",
	[IPSECMSS_C_FRAGMENT]	 = "fragment",
	[IPSECMSS_C_MALFORMED]	 = "malformed",
	[IPSECMSS_C_DROPPED]	 = "dropped",
	[IPSECMSS_C_AUTO_IPSEC]	 = "auto_ipsec",
	[IPSECMSS_C_AUTO_ROUTE]	 = "auto_route",
	[IPSECMSS_C_AUTO_FAILED] = "auto_failed",
	[IPSECMSS_C_FALLBACK]	 = "fallback",
	[IPSECMSS_C_FROM_BUNDLE] = "from_bundle",
	[IPSECMSS_C_FROM_SECPATH] = "from_secpath",
	[IPSECMSS_C_FROM_DEVICE] = "from_device",
	[IPSECMSS_C_FROM_ROUTE]	 = "from_route",
	[IPSECMSS_C_FROM_CAP]	 = "from_cap",
	[IPSECMSS_C_NO_ROUTE_HOOK] = "no_route_hook",
	[IPSECMSS_C_NO_ROUTE]	 = "no_route",
	[IPSECMSS_C_AFTER_NAT]	 = "after_nat",
	[IPSECMSS_C_DEVICE_UNKNOWN] = "device_unknown",
};

struct ipsecmss_stats {
	u64 c[IPSECMSS_C_NUM];
};

struct ipsecmss_net {
	struct ipsecmss_stats __percpu *stats;
	unsigned int auto_rules;	/* --auto rules here, under the mutex */
	bool nat_hooks;			/* the after-NAT hooks are registered */
};

/* serialises auto_rules and the hook registration of every netns */
static DEFINE_MUTEX(ipsecmss_nat_mutex);

static unsigned int ipsecmss_net_id __read_mostly;

static void ipsecmss_count(const struct net *net, enum ipsecmss_counter c)
{
	struct ipsecmss_net *in = net_generic(net, ipsecmss_net_id);

	this_cpu_inc(in->stats->c[c]);
}

static int ipsecmss_stat_show(struct seq_file *seq, void *v)
{
	struct ipsecmss_net *in = net_generic(seq_file_single_net(seq),
					      ipsecmss_net_id);
	u64 sum[IPSECMSS_C_NUM] = {};
	unsigned int i;
	int cpu;

	for_each_possible_cpu(cpu) {
		const struct ipsecmss_stats *s = per_cpu_ptr(in->stats, cpu);

		for (i = 0; i < IPSECMSS_C_NUM; i++)
			sum[i] += READ_ONCE(s->c[i]);
	}
	for (i = 0; i < IPSECMSS_C_NUM; i++)
		seq_printf(seq, "%s %llu\n", ipsecmss_counter_name[i], sum[i]);
	return 0;
}

static int __net_init ipsecmss_net_init(struct net *net)
{
	struct ipsecmss_net *in = net_generic(net, ipsecmss_net_id);

	in->stats = alloc_percpu(struct ipsecmss_stats);
	if (!in->stats)
		return -ENOMEM;
	if (!proc_create_net_single("ipsecmss", 0444, net->proc_net_stat,
				    ipsecmss_stat_show, NULL)) {
		free_percpu(in->stats);
		return -ENOMEM;
	}
	return 0;
}

static void ipsecmss_nat_hooks_off(struct net *net, struct ipsecmss_net *in);

static void __net_exit ipsecmss_net_exit(struct net *net)
{
	struct ipsecmss_net *in = net_generic(net, ipsecmss_net_id);

	/* rules may outlive this (their table goes later): hooks go now */
	mutex_lock(&ipsecmss_nat_mutex);
	ipsecmss_nat_hooks_off(net, in);
	mutex_unlock(&ipsecmss_nat_mutex);
	remove_proc_entry("ipsecmss", net->proc_net_stat);
	free_percpu(in->stats);
}

static struct pernet_operations ipsecmss_net_ops = {
	.init = ipsecmss_net_init,
	.exit = ipsecmss_net_exit,
	.id   = &ipsecmss_net_id,
	.size = sizeof(struct ipsecmss_net),
};

/* ---------------------------------------------------------------------
 * Path MTUs for the derived modes.
 *
 * Every lookup here is one the kernel itself makes for this segment or
 * for its reply, with the same keys; every path MTU is the smallest of
 * what the packet crosses.  Only real routes are read: a metadata dst
 * (collect_md tunnels, tc tunnel_key) has no device and no MTU.
 */

/* where a derived MTU came from: its counter and its name in the log */
enum ipsecmss_src {
	IPSECMSS_SRC_NONE,
	IPSECMSS_SRC_ROUTE,	/* a plain route's MTU */
	IPSECMSS_SRC_BUNDLE,	/* the segment's own IPsec bundle */
	IPSECMSS_SRC_SECPATH,	/* the SA the segment was decrypted with */
	IPSECMSS_SRC_DEVICE,	/* the SA behind the route's device */
	IPSECMSS_SRC_CAP,	/* the rule's --mtu cap on the underlay */
};

static const char *const ipsecmss_src_name[] = {
	[IPSECMSS_SRC_NONE]	= "none",
	[IPSECMSS_SRC_ROUTE]	= "route",
	[IPSECMSS_SRC_BUNDLE]	= "bundle",
	[IPSECMSS_SRC_SECPATH]	= "secpath",
	[IPSECMSS_SRC_DEVICE]	= "device",
	[IPSECMSS_SRC_CAP]	= "cap",
};

/* the smallest MTU seen on one direction of the path, and its source */
struct ipsecmss_path {
	unsigned int mtu;	/* bytes; 0 while none is known */
	u8 src;			/* enum ipsecmss_src */
	bool ipsec;		/* an SA was found on this direction */
	__be32 spi;		/* the deciding SA's SPI, 0 if none */
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

/* a route the module may read: not a metadata dst, with a device */
static bool ipsecmss_real_route(const struct dst_entry *dst)
{
	return dst && !(dst->flags & DST_METADATA) && dst->dev;
}

/*
 * A plain route (never through xfrm: no protocol in the flow) for @fl,
 * the way nf_route() and xfrm4/6_dst_lookup() make it.  Returns the MTU,
 * 0 if there is none.
 */
static unsigned int ipsecmss_flow_mtu(struct net *net, struct flowi *fl,
				      u8 family)
{
	struct dst_entry *dst = NULL;
	unsigned int mtu = 0;

	if (nf_route(net, &dst, fl, false, family) == 0 && dst) {
		if (ipsecmss_real_route(dst))
			mtu = dst_mtu(dst);
		dst_release(dst);
	}
	return mtu;
}

/* the plain route back to the segment's source, as a reply finds it */
static unsigned int ipsecmss_reverse_route_mtu(struct net *net,
					       const struct sk_buff *skb,
					       u8 family)
{
	struct flowi fl;

	memset(&fl, 0, sizeof(fl));
	if (family == NFPROTO_IPV4)
		fl.u.ip4.daddr = ip_hdr(skb)->saddr;
	else
		fl.u.ip6.daddr = ipv6_hdr(skb)->saddr;
	return ipsecmss_flow_mtu(net, &fl, family);
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

		/* the modes xfrm_state_mtu() sizes without a warning */
		if (x[i]->props.mode != XFRM_MODE_TUNNEL &&
		    x[i]->props.mode != XFRM_MODE_TRANSPORT)
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
static void ipsecmss_take_bundle(struct ipsecmss_path *p,
				 const struct dst_entry *dst, unsigned int hdr,
				 unsigned int cap, u8 src)
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

/*
 * Reverse path of a segment that came out of IPsec.  The reply leaves by
 * the inbound SA's mirror (the SA from this host to the same peer), over
 * the route xfrm_bundle_create() makes for it: toward the peer, from the
 * SA's local address, with the SA's output mark.  Taken from the skb's
 * own secpath and the state table, so it never triggers an IKE
 * negotiation, never blocks and is exact from the first SYN on.
 */
static void ipsecmss_secpath_path(struct net *net, const struct sk_buff *skb,
				  unsigned int cap, struct ipsecmss_path *p)
{
	const struct sec_path *sp = skb_sec_path(skb);
	struct xfrm_state *x[XFRM_MAX_DEPTH], *in, *out;
	bool capped = false;
	unsigned int mtu;
	struct flowi fl;
	u8 family;
	int i;

	if (!sp || sp->len <= 0 || sp->len > XFRM_MAX_DEPTH)
		return;
	for (i = 0; i < sp->len; i++)
		x[i] = sp->xvec[i];
	in = x[0];
	p->ipsec = true;
	family = in->props.family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	/* spin_lock_bh inside: fine in softirq and process context */
	out = xfrm_state_lookup_byaddr(net, in->mark.v & in->mark.m,
				       &in->props.saddr, &in->id.daddr,
				       in->id.proto, in->props.family);
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
	mtu = ipsecmss_flow_mtu(net, &fl, family);
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
 */
static void ipsecmss_inner_dev_path(struct net_device *dev,
				    struct dst_entry *route,
				    struct sk_buff *skb, u8 family,
				    bool reverse, unsigned int cap,
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
			      unsigned int cap, struct ipsecmss_path *p)
{
	struct net_device *dev = route->dev;
	const char *kind;

	if (!dev->rtnl_link_ops || !dev->rtnl_link_ops->kind)
		return;
	kind = dev->rtnl_link_ops->kind;
	if (ipsecmss_plain_kind(kind))
		return;
	/* no policy at all: nothing the device's xmit could find */
	if (!READ_ONCE(dev_net(dev)->xfrm.policy_count[XFRM_POLICY_OUT]))
		return;
	if (!strcmp(kind, "xfrm") || !strcmp(kind, "vti") ||
	    !strcmp(kind, "vti6"))
		ipsecmss_inner_dev_path(dev, route, skb, family, reverse, cap,
					p);
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
static void ipsecmss_reverse_path(struct net *net, struct sk_buff *skb,
				  u8 family, unsigned int cap,
				  struct ipsecmss_path *p)
{
	struct dst_entry *dst = NULL;
	struct flowi fl;

	ipsecmss_secpath_path(net, skb, cap, p);
	memset(&fl, 0, sizeof(fl));
	if (family == NFPROTO_IPV4)
		fl.u.ip4.daddr = ip_hdr(skb)->saddr;
	else
		fl.u.ip6.daddr = ipv6_hdr(skb)->saddr;
	if (nf_route(net, &dst, &fl, false, family) || !dst)
		return;
	if (ipsecmss_real_route(dst)) {
		ipsecmss_take_route(p, dst_mtu(dst), cap);
		if (!p->ipsec)
			ipsecmss_dev_path(net, dst, skb, family, true, cap, p);
	}
	dst_release(dst);
}

/* the segment's own path: its route, a bundle, or the SA behind its device */
static void ipsecmss_forward_path(struct net *net, struct dst_entry *dst,
				  struct sk_buff *skb, u8 family,
				  unsigned int cap, struct ipsecmss_path *p)
{
	if (dst->xfrm) {
		ipsecmss_take_bundle(p, dst, 0, cap, IPSECMSS_SRC_BUNDLE);
		return;
	}
	ipsecmss_take_route(p, dst_mtu(dst), cap);
	ipsecmss_dev_path(net, dst, skb, family, false, cap, p);
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
static unsigned int ipsecmss_plain_mtu(struct net *net,
				       const struct sk_buff *skb, u8 family)
{
	unsigned int fwd = dst_mtu(xfrm_dst_path(skb_dst(skb)));
	unsigned int rev = ipsecmss_reverse_route_mtu(net, skb, family);

	return rev ? min(fwd, rev) : fwd;
}

/* ---------------------------------------------------------------------
 * The target value for one segment, 0 when there is none.
 */

/* what decided the value of a derived mode, for the counters and the log */
struct ipsecmss_why {
	struct ipsecmss_path fwd, rev;
	const struct ipsecmss_path *chosen;	/* NULL: not --auto */
};

static unsigned int ipsecmss_floor(const struct xt_ipsecmss_tginfo *info,
				   u8 family)
{
	if (info->min_mss)
		return info->min_mss;
	return family == NFPROTO_IPV4 ? READ_ONCE(min_mss_ipv4) :
					READ_ONCE(min_mss_ipv6);
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
static unsigned int ipsecmss_auto_mtu(struct sk_buff *skb,
				      const struct xt_action_param *par,
				      unsigned int cap,
				      struct ipsecmss_why *why)
{
	struct net *net = xt_net(par);
	const struct ipsecmss_path *c;
	struct dst_entry *dst = NULL;

	memset(why, 0, sizeof(*why));
	if (xt_hooknum(par) == NF_INET_LOCAL_OUT)
		dst = ipsecmss_output_route(net, skb, par);
	ipsecmss_forward_path(net, dst ? dst : skb_dst(skb), skb,
			      xt_family(par), cap, &why->fwd);
	dst_release(dst);
	ipsecmss_reverse_path(net, skb, xt_family(par), cap, &why->rev);
	if (!why->rev.mtu || (why->fwd.mtu && why->fwd.mtu <= why->rev.mtu))
		c = &why->fwd;
	else
		c = &why->rev;
	why->chosen = c;
	if (!c->mtu)
		return 0;
	ipsecmss_count(net, why->fwd.ipsec || why->rev.ipsec ?
			    IPSECMSS_C_AUTO_IPSEC : IPSECMSS_C_AUTO_ROUTE);
	ipsecmss_count(net, ipsecmss_src_counter[c->src]);
	return c->mtu;
}

/* modes that read routes: only where the skb carries a real one */
static bool ipsecmss_needs_route(const struct xt_ipsecmss_tginfo *info)
{
	return info->mode == XT_IPSECMSS_MODE_AUTO ||
	       ((info->mode == XT_IPSECMSS_MODE_OVERHEAD ||
		 info->mode == XT_IPSECMSS_MODE_ESP) && !info->mtu);
}

#define IPSECMSS_ROUTE_HOOKS ((1 << NF_INET_FORWARD) | \
			      (1 << NF_INET_LOCAL_OUT) | \
			      (1 << NF_INET_POST_ROUTING))

static unsigned int ipsecmss_target(struct sk_buff *skb,
				    const struct xt_action_param *par,
				    struct ipsecmss_why *why)
{
	const struct xt_ipsecmss_tginfo *info = par->targinfo;
	u8 family = xt_family(par);
	unsigned int iph = family == NFPROTO_IPV4 ? sizeof(struct iphdr) :
						    sizeof(struct ipv6hdr);
	struct net *net = xt_net(par);
	/* filled by ipsecmss_esp_suite() before any read */
	struct ipsecmss_esp_suite s __uninitialized;
	unsigned int mtu, mss = 0;

	if (ipsecmss_needs_route(info)) {
		/*
		 * iptables-nft checks a rule in a user chain with no hook
		 * mask, so a route-derived rule can be reached from
		 * PREROUTING or INPUT, where no route or an input route is
		 * attached: leave such segments alone.
		 */
		if (!(IPSECMSS_ROUTE_HOOKS & (1 << xt_hooknum(par)))) {
			ipsecmss_count(net, IPSECMSS_C_NO_ROUTE_HOOK);
			return 0;
		}
		if (!ipsecmss_real_route(skb_dst(skb))) {
			ipsecmss_count(net, IPSECMSS_C_NO_ROUTE);
			return 0;
		}
	}

	switch (info->mode) {
	case XT_IPSECMSS_MODE_SET:
		return info->mss;
	case XT_IPSECMSS_MODE_AUTO:
		mtu = ipsecmss_auto_mtu(skb, par, info->mtu, why);
		mss = ipsecmss_mss_for_mtu(mtu, iph);
		if (!mss) {
			ipsecmss_count(net, IPSECMSS_C_AUTO_FAILED);
			if (!(info->flags & XT_IPSECMSS_F_FALLBACK))
				return 0;
			ipsecmss_count(net, IPSECMSS_C_FALLBACK);
			return info->fallback_mss;
		}
		break;
	case XT_IPSECMSS_MODE_OVERHEAD:
		mtu = info->mtu ? info->mtu : ipsecmss_plain_mtu(net, skb, family);
		if (mtu <= info->overhead)
			return 0;
		mss = ipsecmss_mss_for_mtu(mtu - info->overhead, iph);
		break;
	case XT_IPSECMSS_MODE_ESP: {
		unsigned int outer = info->outer ? info->outer :
				     (family == NFPROTO_IPV4 ? 4 : 6);

		if (ipsecmss_esp_suite(info->suite, &s))
			return 0;
		mtu = info->mtu ? info->mtu : ipsecmss_plain_mtu(net, skb, family);
		mtu = ipsecmss_esp_inner_mtu(mtu, &s, outer == 4 ? 20 : 40,
					     info->flags & XT_IPSECMSS_F_NATT,
					     info->flags & XT_IPSECMSS_F_TRANSPORT);
		mss = ipsecmss_mss_for_mtu(mtu, iph);
		break;
	}
	default:
		return 0;
	}
	if (!mss)
		return 0;
	return max(mss, ipsecmss_floor(info, family));
}

/* ---------------------------------------------------------------------
 * The packet path.
 */
static const char *const ipsecmss_mode_name[] = {
	[XT_IPSECMSS_MODE_SET]		= "set-mss",
	[XT_IPSECMSS_MODE_AUTO]		= "auto",
	[XT_IPSECMSS_MODE_OVERHEAD]	= "overhead",
	[XT_IPSECMSS_MODE_ESP]		= "esp",
};

/*
 * One line per rewrite, rate-limited: the flow, the old and new MSS, and
 * for --auto where each direction's MTU came from and which one decided.
 */
static void ipsecmss_log(const struct sk_buff *skb, u8 family, const u8 *th,
			 unsigned int old_mss, unsigned int new_mss,
			 const struct xt_ipsecmss_tginfo *info,
			 const struct ipsecmss_why *why)
{
	unsigned int sport = th[0] << 8 | th[1], dport = th[2] << 8 | th[3];
	const struct ipsecmss_path *c = why->chosen;
	char how[128];

	if (c)
		snprintf(how, sizeof(how),
			 "%s: mtu %u from %s spi 0x%08x; forward %u %s, reverse %u %s",
			 info ? "auto" : "auto after nat",
			 c->mtu, ipsecmss_src_name[c->src], ntohl(c->spi),
			 why->fwd.mtu, ipsecmss_src_name[why->fwd.src],
			 why->rev.mtu, ipsecmss_src_name[why->rev.src]);
	else
		snprintf(how, sizeof(how), "%s",
			 info && info->mode <= XT_IPSECMSS_MODE_MAX &&
			 ipsecmss_mode_name[info->mode] ?
			 ipsecmss_mode_name[info->mode] : "?");
	if (family == NFPROTO_IPV4)
		net_info_ratelimited("%pI4:%u -> %pI4:%u MSS %u -> %u (%s)\n",
				     &ip_hdr(skb)->saddr, sport,
				     &ip_hdr(skb)->daddr, dport,
				     old_mss, new_mss, how);
	else
		net_info_ratelimited("[%pI6c]:%u -> [%pI6c]:%u MSS %u -> %u (%s)\n",
				     &ipv6_hdr(skb)->saddr, sport,
				     &ipv6_hdr(skb)->daddr, dport,
				     old_mss, new_mss, how);
}

static enum ipsecmss_csum_mode ipsecmss_csum_mode(const struct sk_buff *skb)
{
	return skb->ip_summed == CHECKSUM_PARTIAL ? IPSECMSS_CSUM_PARTIAL :
						    IPSECMSS_CSUM_FULL;
}

/*
 * The segment may grow: the IP header's own length agrees with the skb
 * (no trailer, no jumbogram), the IPv6 length field has room for 4 more
 * bytes, and it is not the first of several fragments.
 */
static bool ipsecmss_can_grow(struct sk_buff *skb, u8 family)
{
	unsigned int off = 0;

	if (family == NFPROTO_IPV4)
		return ntohs(ip_hdr(skb)->tot_len) == skb->len &&
		       !(ip_hdr(skb)->frag_off & htons(IP_MF | IP_OFFSET));
	return ipv6_hdr(skb)->payload_len &&
	       ntohs(ipv6_hdr(skb)->payload_len) <=
	       IPV6_MAXPLEN - IPSECMSS_OPTLEN_MSS &&
	       ntohs(ipv6_hdr(skb)->payload_len) + sizeof(struct ipv6hdr) ==
	       skb->len &&
	       ipv6_find_hdr(skb, &off, NEXTHDR_FRAGMENT, NULL, NULL) < 0;
}

/*
 * A SYN without MSS option and without payload: the peer would assume
 * 536 (IPv4) or 1220 (IPv6); make that explicit and no larger than the
 * target.  Returns false when the segment is to be dropped.
 */
static bool ipsecmss_insert_mss(struct sk_buff *skb,
				const struct xt_action_param *par,
				unsigned int doff, unsigned int target,
				const struct ipsecmss_why *why)
{
	struct net *net = xt_net(par);
	u8 family = xt_family(par);
	unsigned int thoff = par->thoff, mss, len;
	u8 *th;

	if (!READ_ONCE(insert_missing) || skb->len != thoff + doff ||
	    doff + IPSECMSS_OPTLEN_MSS > IPSECMSS_TCPHDR_MAX ||
	    !ipsecmss_can_grow(skb, family)) {
		ipsecmss_count(net, IPSECMSS_C_NO_MSS);
		return true;
	}
	if (skb_ensure_writable(skb, skb->len))
		return false;
	if (skb_is_nonlinear(skb)) {
		ipsecmss_count(net, IPSECMSS_C_NO_MSS);
		return true;
	}
	if (skb_tailroom(skb) < IPSECMSS_OPTLEN_MSS &&
	    pskb_expand_head(skb, 0, IPSECMSS_OPTLEN_MSS - skb_tailroom(skb),
			     GFP_ATOMIC))
		return false;

	mss = min_t(unsigned int, target, family == NFPROTO_IPV4 ? 536 : 1220);
	skb_put(skb, IPSECMSS_OPTLEN_MSS);
	th = skb_network_header(skb) + thoff;
	len = ipsecmss_insert(th, doff, mss, ipsecmss_csum_mode(skb));
	if (len != doff + IPSECMSS_OPTLEN_MSS)
		return false;	/* cannot happen: room was checked above */

	if (family == NFPROTO_IPV4) {
		struct iphdr *iph = ip_hdr(skb);
		__be16 newlen = htons(ntohs(iph->tot_len) + IPSECMSS_OPTLEN_MSS);

		csum_replace2(&iph->check, iph->tot_len, newlen);
		iph->tot_len = newlen;
	} else {
		struct ipv6hdr *ip6h = ipv6_hdr(skb);

		ip6h->payload_len = htons(ntohs(ip6h->payload_len) +
					  IPSECMSS_OPTLEN_MSS);
	}
	/* the TCP checksum field is exact; the receive sum no longer is */
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;

	ipsecmss_count(net, IPSECMSS_C_INSERTED);
	if (READ_ONCE(log_rewrites))
		ipsecmss_log(skb, family, skb_network_header(skb) + thoff, 0,
			     mss, par->targinfo, why);
	return true;
}

static void ipsecmss_note_syn(struct sk_buff *skb,
			      const struct xt_action_param *par,
			      const u8 *th);

static unsigned int
ipsecmss_tg(struct sk_buff *skb, const struct xt_action_param *par)
{
	struct net *net = xt_net(par);
	unsigned int thoff = par->thoff, doff, target;
	/* filled by skb_header_pointer() and the walk before any read */
	u8 buf[IPSECMSS_TCPHDR_MAX] __uninitialized;
	struct ipsecmss_walk w __uninitialized;
	struct ipsecmss_why why __uninitialized;
	enum ipsecmss_result r;
	const u8 *copy;
	u8 *th;

	if (par->fragoff) {
		ipsecmss_count(net, IPSECMSS_C_FRAGMENT);
		return XT_CONTINUE;
	}

	/* the fixed header first: most segments end here */
	copy = skb_header_pointer(skb, thoff, IPSECMSS_TCPHDR_MIN, buf);
	if (!copy)
		goto malformed;
	if (!(ipsecmss_flags(copy) & IPSECMSS_TCP_SYN)) {
		ipsecmss_count(net, IPSECMSS_C_NOT_SYN);
		return XT_CONTINUE;
	}
	doff = ipsecmss_doff(copy);
	if (doff < IPSECMSS_TCPHDR_MIN || skb->len < thoff ||
	    doff > skb->len - thoff)
		goto malformed;
	copy = skb_header_pointer(skb, thoff, doff, buf);
	if (!copy)
		goto malformed;

	r = ipsecmss_walk(copy, doff, &w);
	if (r == IPSECMSS_MALFORMED)
		goto malformed;

	why.chosen = NULL;
	target = ipsecmss_target(skb, par, &why);
	if (why.chosen && target)
		ipsecmss_note_syn(skb, par, copy);
	if (!target) {
		ipsecmss_count(net, IPSECMSS_C_UNCHANGED);
		return XT_CONTINUE;
	}

	if (r == IPSECMSS_NO_MSS) {
		if (!ipsecmss_insert_mss(skb, par, doff, target, &why))
			goto drop;
		return XT_CONTINUE;
	}

	if (w.max_mss <= target) {
		ipsecmss_count(net, IPSECMSS_C_UNCHANGED);
		return XT_CONTINUE;
	}

	if (skb_ensure_writable(skb, thoff + doff))
		goto drop;
	/* the bytes just walked; the rewrite checks each recorded offset */
	th = skb_network_header(skb) + thoff;
	r = ipsecmss_rewrite(th, doff, &w, target, ipsecmss_csum_mode(skb));
	if (r != IPSECMSS_REWRITTEN) {
		/* cannot happen: w.max_mss > target was seen in these bytes */
		ipsecmss_count(net, IPSECMSS_C_UNCHANGED);
		return XT_CONTINUE;
	}
	ipsecmss_count(net, IPSECMSS_C_REWRITTEN);
	if (READ_ONCE(log_rewrites))
		ipsecmss_log(skb, xt_family(par), th, w.max_mss, target,
			     par->targinfo, &why);
	return XT_CONTINUE;

malformed:
	ipsecmss_count(net, IPSECMSS_C_MALFORMED);
drop:
	ipsecmss_count(net, IPSECMSS_C_DROPPED);
	return NF_DROP;
}

/* ---------------------------------------------------------------------
 * NAT before IPsec.
 *
 * Source NAT, and the reply side of a DNAT, rewrite a segment in
 * POSTROUTING after every xtables chain; nf_nat_ipv4_out() and
 * nf_nat_ipv6_out() then route it again (nf_xfrm_me_harder()) into the
 * IPsec bundle its new addresses select, which no rule sees.  An --auto
 * rule leaves a note of the SYN it handled on this CPU; the module's own
 * hook right after source NAT reads the note, takes the bundle's MTU and
 * lowers the MSS further if it must (never raises it).  The note is good
 * for the same skb on the same pass only: rule and hook run back to back
 * with no queue between, so it is keyed by the skb and its TCP sequence
 * number, and a miss (another CPU, a queued packet) only leaves the
 * rule's value.  The hooks exist in a netns while it has --auto rules.
 */
struct ipsecmss_note {
	const struct sk_buff *skb;
	__be32 seq;		/* the SYN's sequence number */
	u16 cap;		/* the rule's --mtu cap, 0 if none */
	u16 floor;		/* the floor the rule applies */
};

static DEFINE_PER_CPU(struct ipsecmss_note, ipsecmss_note);

static void ipsecmss_note_syn(struct sk_buff *skb,
			      const struct xt_action_param *par,
			      const u8 *th)
{
	const struct xt_ipsecmss_tginfo *info = par->targinfo;
	struct ipsecmss_net *in = net_generic(xt_net(par), ipsecmss_net_id);
	struct ipsecmss_note *n;

	if (!READ_ONCE(in->nat_hooks))
		return;
	n = get_cpu_ptr(&ipsecmss_note);
	n->skb = skb;
	memcpy(&n->seq, th + 4, sizeof(n->seq));
	n->cap = info->mtu;
	n->floor = ipsecmss_floor(info, xt_family(par));
	put_cpu_ptr(&ipsecmss_note);
}

/* the TCP header offset of an unfragmented segment, 0 if none */
static unsigned int ipsecmss_tcp_offset(struct sk_buff *skb, u8 family)
{
	unsigned int thoff = 0;
	unsigned short fragoff = 0;

	if (family == NFPROTO_IPV4) {
		const struct iphdr *iph = ip_hdr(skb);

		if (iph->protocol != IPPROTO_TCP ||
		    (iph->frag_off & htons(IP_OFFSET)))
			return 0;
		return skb_network_offset(skb) + iph->ihl * 4;
	}
	if (ipv6_find_hdr(skb, &thoff, IPPROTO_TCP, &fragoff, NULL) !=
	    IPPROTO_TCP || fragoff)
		return 0;
	return thoff;
}

static void ipsecmss_after_nat(struct sk_buff *skb, struct net *net,
			       u8 family, const struct ipsecmss_note *note)
{
	unsigned int iph = family == NFPROTO_IPV4 ? sizeof(struct iphdr) :
						    sizeof(struct ipv6hdr);
	struct dst_entry *dst = skb_dst(skb);
	u8 buf[IPSECMSS_TCPHDR_MAX] __uninitialized;
	struct ipsecmss_walk w __uninitialized;
	struct ipsecmss_why why;
	unsigned int thoff, doff, target;
	const u8 *copy;
	u8 *th;

	if (!ipsecmss_real_route(dst) || !dst->xfrm)
		return;
	thoff = ipsecmss_tcp_offset(skb, family);
	if (!thoff)
		return;
	copy = skb_header_pointer(skb, thoff, IPSECMSS_TCPHDR_MIN, buf);
	if (!copy || !(ipsecmss_flags(copy) & IPSECMSS_TCP_SYN) ||
	    memcmp(copy + 4, &note->seq, sizeof(note->seq)))
		return;
	doff = ipsecmss_doff(copy);
	if (doff < IPSECMSS_TCPHDR_MIN || skb->len < thoff ||
	    doff > skb->len - thoff)
		return;
	copy = skb_header_pointer(skb, thoff, doff, buf);
	if (!copy || ipsecmss_walk(copy, doff, &w) != IPSECMSS_UNCHANGED)
		return;

	memset(&why, 0, sizeof(why));
	ipsecmss_take_bundle(&why.fwd, dst, 0, note->cap, IPSECMSS_SRC_BUNDLE);
	why.chosen = &why.fwd;
	target = ipsecmss_mss_for_mtu(why.fwd.mtu, iph);
	if (!target)
		return;
	target = max_t(unsigned int, target, note->floor);
	if (w.max_mss <= target)
		return;
	if (skb_ensure_writable(skb, thoff + doff))
		return;
	th = skb->data + thoff;
	if (ipsecmss_rewrite(th, doff, &w, target, ipsecmss_csum_mode(skb)) !=
	    IPSECMSS_REWRITTEN)
		return;
	ipsecmss_count(net, IPSECMSS_C_AFTER_NAT);
	if (READ_ONCE(log_rewrites))
		ipsecmss_log(skb, family, th, w.max_mss, target, NULL, &why);
}

static unsigned int ipsecmss_nat_hook(void *priv, struct sk_buff *skb,
				      const struct nf_hook_state *state)
{
	struct ipsecmss_note *n, note;

	n = get_cpu_ptr(&ipsecmss_note);
	if (likely(n->skb != skb)) {
		put_cpu_ptr(&ipsecmss_note);
		return NF_ACCEPT;
	}
	note = *n;
	n->skb = NULL;
	put_cpu_ptr(&ipsecmss_note);
	ipsecmss_after_nat(skb, state->net, state->pf, &note);
	return NF_ACCEPT;
}

/* right after source NAT and its re-route, in both families */
static const struct nf_hook_ops ipsecmss_nat_ops[] = {
	{
		.hook		= ipsecmss_nat_hook,
		.pf		= NFPROTO_IPV4,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP_PRI_NAT_SRC + 1,
	},
#if IS_ENABLED(CONFIG_IPV6)
	{
		.hook		= ipsecmss_nat_hook,
		.pf		= NFPROTO_IPV6,
		.hooknum	= NF_INET_POST_ROUTING,
		.priority	= NF_IP6_PRI_NAT_SRC + 1,
	},
#endif
};

static void ipsecmss_nat_hooks_off(struct net *net, struct ipsecmss_net *in)
{
	if (!in->nat_hooks)
		return;
	nf_unregister_net_hooks(net, ipsecmss_nat_ops,
				ARRAY_SIZE(ipsecmss_nat_ops));
	WRITE_ONCE(in->nat_hooks, false);
}

/* one more --auto rule in @net: the first one brings the hooks */
static int ipsecmss_auto_rule_get(struct net *net)
{
	struct ipsecmss_net *in = net_generic(net, ipsecmss_net_id);
	int err = 0;

	mutex_lock(&ipsecmss_nat_mutex);
	if (!in->auto_rules++) {
		err = nf_register_net_hooks(net, ipsecmss_nat_ops,
					    ARRAY_SIZE(ipsecmss_nat_ops));
		if (err)
			in->auto_rules--;
		else
			WRITE_ONCE(in->nat_hooks, true);
	}
	mutex_unlock(&ipsecmss_nat_mutex);
	return err;
}

static void ipsecmss_auto_rule_put(struct net *net)
{
	struct ipsecmss_net *in = net_generic(net, ipsecmss_net_id);

	mutex_lock(&ipsecmss_nat_mutex);
	if (in->auto_rules && !--in->auto_rules)
		ipsecmss_nat_hooks_off(net, in);
	mutex_unlock(&ipsecmss_nat_mutex);
}

/* ---------------------------------------------------------------------
 * Rule insertion: every field of the blob is checked.
 */
static int ipsecmss_tg_check(const struct xt_tgchk_param *par)
{
	const struct xt_ipsecmss_tginfo *info = par->targinfo;
	unsigned int mss_max = par->family == NFPROTO_IPV4 ?
			       XT_IPSECMSS_MSS_MAX4 : XT_IPSECMSS_MSS_MAX6;
	unsigned int iph = par->family == NFPROTO_IPV4 ? 20 : 40;
	struct ipsecmss_esp_suite s;
	bool needs_route = false;

	if (info->reserved0 || info->reserved[0] || info->reserved[1]) {
		pr_info_ratelimited("reserved fields must be zero\n");
		return -EINVAL;
	}
	if (info->flags & ~XT_IPSECMSS_F_MASK) {
		pr_info_ratelimited("unknown flags 0x%x\n", info->flags);
		return -EINVAL;
	}
	if (info->min_mss && (info->min_mss < IPSECMSS_FLOOR_MIN ||
			      info->min_mss > mss_max)) {
		pr_info_ratelimited("min-mss %u out of range %u..%u\n",
				    info->min_mss, IPSECMSS_FLOOR_MIN, mss_max);
		return -ERANGE;
	}
	if (info->mtu && info->mtu < XT_IPSECMSS_MTU_MIN) {
		pr_info_ratelimited("mtu %u below %u\n", info->mtu,
				    XT_IPSECMSS_MTU_MIN);
		return -ERANGE;
	}

	switch (info->mode) {
	case XT_IPSECMSS_MODE_SET:
		if (info->suite || info->outer || info->flags ||
		    info->overhead || info->mtu || info->min_mss ||
		    info->fallback_mss) {
			pr_info_ratelimited("set-mss takes no other option\n");
			return -EINVAL;
		}
		if (info->mss < XT_IPSECMSS_MSS_MIN || info->mss > mss_max) {
			pr_info_ratelimited("set-mss %u out of range %u..%u\n",
					    info->mss, XT_IPSECMSS_MSS_MIN,
					    mss_max);
			return -ERANGE;
		}
		break;
	case XT_IPSECMSS_MODE_AUTO:
		if (info->suite || info->outer || info->mss ||
		    info->overhead ||
		    (info->flags & ~XT_IPSECMSS_F_FALLBACK)) {
			pr_info_ratelimited("auto takes only mtu, min-mss and fallback-mss\n");
			return -EINVAL;
		}
		if (!!(info->flags & XT_IPSECMSS_F_FALLBACK) !=
		    !!info->fallback_mss || info->fallback_mss > mss_max) {
			pr_info_ratelimited("bad fallback-mss %u\n",
					    info->fallback_mss);
			return -EINVAL;
		}
		needs_route = true;
		break;
	case XT_IPSECMSS_MODE_OVERHEAD:
		if (!info->overhead) {
			pr_info_ratelimited("overhead must be at least 1\n");
			return -EINVAL;
		}
		if (info->suite || info->outer || info->flags || info->mss ||
		    info->fallback_mss) {
			pr_info_ratelimited("overhead takes only mtu and min-mss\n");
			return -EINVAL;
		}
		if (info->mtu &&
		    (info->mtu <= info->overhead ||
		     !ipsecmss_mss_for_mtu(info->mtu - info->overhead, iph))) {
			pr_info_ratelimited("overhead %u does not fit mtu %u\n",
					    info->overhead, info->mtu);
			return -EINVAL;
		}
		needs_route = !info->mtu;
		break;
	case XT_IPSECMSS_MODE_ESP:
		if (info->mss || info->overhead || info->fallback_mss ||
		    (info->flags & XT_IPSECMSS_F_FALLBACK) ||
		    (info->outer != XT_IPSECMSS_OUTER_RULE &&
		     info->outer != XT_IPSECMSS_OUTER_IPV4 &&
		     info->outer != XT_IPSECMSS_OUTER_IPV6)) {
			pr_info_ratelimited("bad esp options\n");
			return -EINVAL;
		}
		/* transport mode keeps the packet's own IP header */
		if ((info->flags & XT_IPSECMSS_F_TRANSPORT) && info->outer &&
		    info->outer != (par->family == NFPROTO_IPV4 ? 4 : 6)) {
			pr_info_ratelimited("transport mode: outer family must be the rule's\n");
			return -EINVAL;
		}
		if (ipsecmss_esp_suite(info->suite, &s)) {
			pr_info_ratelimited("unknown esp suite %u\n",
					    info->suite);
			return -EINVAL;
		}
		if (info->mtu) {
			unsigned int outer = info->outer ? info->outer :
				(par->family == NFPROTO_IPV4 ? 4 : 6);
			unsigned int in;

			in = ipsecmss_esp_inner_mtu(info->mtu, &s,
						    outer == 4 ? 20 : 40,
						    info->flags & XT_IPSECMSS_F_NATT,
						    info->flags & XT_IPSECMSS_F_TRANSPORT);
			if (!ipsecmss_mss_for_mtu(in, iph)) {
				pr_info_ratelimited("esp overhead does not fit mtu %u\n",
						    info->mtu);
				return -EINVAL;
			}
		}
		needs_route = !info->mtu;
		break;
	default:
		pr_info_ratelimited("unknown mode %u\n", info->mode);
		return -EINVAL;
	}

	if (needs_route && (par->hook_mask & ~IPSECMSS_ROUTE_HOOKS)) {
		pr_info_ratelimited("a route-derived MSS needs FORWARD, OUTPUT or POSTROUTING\n");
		return -EINVAL;
	}
	if (info->mode == XT_IPSECMSS_MODE_AUTO)
		return ipsecmss_auto_rule_get(par->net);
	return 0;
}

static void ipsecmss_tg_destroy(const struct xt_tgdtor_param *par)
{
	const struct xt_ipsecmss_tginfo *info = par->targinfo;

	if (info->mode == XT_IPSECMSS_MODE_AUTO)
		ipsecmss_auto_rule_put(par->net);
}

static struct xt_target ipsecmss_tg_reg[] __read_mostly = {
	{
		.name		= "IPSECMSS",
		.revision	= 0,
		.family		= NFPROTO_IPV4,
		.proto		= IPPROTO_TCP,
		.target		= ipsecmss_tg,
		.checkentry	= ipsecmss_tg_check,
		.destroy	= ipsecmss_tg_destroy,
		.targetsize	= sizeof(struct xt_ipsecmss_tginfo),
		.me		= THIS_MODULE,
	},
	{
		.name		= "IPSECMSS",
		.revision	= 0,
		.family		= NFPROTO_IPV6,
		.proto		= IPPROTO_TCP,
		.target		= ipsecmss_tg,
		.checkentry	= ipsecmss_tg_check,
		.destroy	= ipsecmss_tg_destroy,
		.targetsize	= sizeof(struct xt_ipsecmss_tginfo),
		.me		= THIS_MODULE,
	},
};

static int __init ipsecmss_tg_init(void)
{
	int err;

	BUILD_BUG_ON(sizeof(struct xt_ipsecmss_tginfo) !=
		     XT_IPSECMSS_TGINFO_SIZE);

	err = register_pernet_subsys(&ipsecmss_net_ops);
	if (err)
		return err;
	err = xt_register_targets(ipsecmss_tg_reg, ARRAY_SIZE(ipsecmss_tg_reg));
	if (err)
		unregister_pernet_subsys(&ipsecmss_net_ops);
	return err;
}

static void __exit ipsecmss_tg_exit(void)
{
	xt_unregister_targets(ipsecmss_tg_reg, ARRAY_SIZE(ipsecmss_tg_reg));
	unregister_pernet_subsys(&ipsecmss_net_ops);
}

module_init(ipsecmss_tg_init);
module_exit(ipsecmss_tg_exit);
