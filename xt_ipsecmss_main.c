// SPDX-License-Identifier: GPL-2.0
/*
 * IPSECMSS: lower the TCP MSS of SYN and SYN-ACK segments
 * so that full-size segments still fit after IPsec encapsulation.
 *
 * The option walk, the rewrite with its checksum update and the ESP
 * arithmetic live in the pure core (include/ipsecmss_core.h), the path
 * MTU of --auto in ipsecmss_path.c; this file is the glue: it bounds the
 * TCP header inside the skb, makes it writable only when a byte has to
 * change, sizes the derived modes, lowers the MSS again after source NAT,
 * checks rules, and keeps per-netns, per-CPU counters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/skbuff.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/percpu.h>
#include <linux/hash.h>
#include <linux/spinlock.h>
#include <linux/preempt.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/netfilter/x_tables.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/dst.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/xfrm.h>

#include "xt_ipsecmss.h"
#include "ipsecmss_core.h"
#include "ipsecmss_compat.h"
#include "ipsecmss_kmod.h"

#define CREATE_TRACE_POINTS
#include "ipsecmss_trace.h"

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
	/* set once by the first route-derived rule, under the mutex */
	struct ipsecmss_route_cache *routes;
	unsigned int auto_rules;	/* --auto rules here, under the mutex */
	bool nat_hooks;			/* the after-NAT hooks are registered */
};

/* serialises auto_rules and the hook registration of every netns */
static DEFINE_MUTEX(ipsecmss_nat_mutex);

static unsigned int ipsecmss_net_id __read_mostly;

/* count @events, BIT(counter) each, in the netns whose data is @in */
static void ipsecmss_count_in(const struct ipsecmss_net *in, u32 events)
{
	BUILD_BUG_ON(IPSECMSS_C_NUM > 32);
	while (events) {
		this_cpu_inc(in->stats->c[__ffs(events)]);
		events &= events - 1;
	}
}

void ipsecmss_count_events(const struct net *net, u32 events)
{
	if (events)
		ipsecmss_count_in(net_generic(net, ipsecmss_net_id), events);
}

void ipsecmss_count(const struct net *net, enum ipsecmss_counter c)
{
	ipsecmss_count_events(net, BIT(c));
}

/* @in's route and mirror caches, NULL if it has none */
static struct ipsecmss_route_cache *
ipsecmss_in_routes(const struct ipsecmss_net *in)
{
	/* pairs with ipsecmss_routes_get(): its per-CPU parts are set */
	return smp_load_acquire(&in->routes);
}

struct ipsecmss_route_cache *ipsecmss_routes(const struct net *net)
{
	return ipsecmss_in_routes(net_generic(net, ipsecmss_net_id));
}

/* a route cache for a netns that gets a route-derived rule */
static void ipsecmss_routes_get(struct net *net)
{
	struct ipsecmss_net *in = net_generic(net, ipsecmss_net_id);

	mutex_lock(&ipsecmss_nat_mutex);
	/* without one (no memory), every lookup is made afresh */
	if (!in->routes)
		/* after its per-CPU parts: readers take no lock */
		smp_store_release(&in->routes, ipsecmss_routes_alloc());
	mutex_unlock(&ipsecmss_nat_mutex);
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
	struct ipsecmss_route_cache *routes;

	/* rules may outlive this (their table goes later): hooks go now */
	mutex_lock(&ipsecmss_nat_mutex);
	ipsecmss_nat_hooks_off(net, in);
	routes = in->routes;
	WRITE_ONCE(in->routes, NULL);
	mutex_unlock(&ipsecmss_nat_mutex);
	if (routes) {
		synchronize_net();	/* no packet path holds it any more */
		ipsecmss_routes_free(routes);
	}
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
 * The target value for one segment, 0 when there is none.
 */
static unsigned int ipsecmss_floor(const struct xt_ipsecmss_tginfo *info,
				   u8 family)
{
	if (info->min_mss)
		return info->min_mss;
	return family == NFPROTO_IPV4 ? READ_ONCE(min_mss_ipv4) :
					READ_ONCE(min_mss_ipv6);
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
				    const struct ipsecmss_net *in,
				    struct ipsecmss_why *why)
{
	const struct xt_ipsecmss_tginfo *info = par->targinfo;
	u8 family = xt_family(par);
	unsigned int iph = family == NFPROTO_IPV4 ? sizeof(struct iphdr) :
						    sizeof(struct ipv6hdr);
	struct ipsecmss_route_cache *rc = ipsecmss_in_routes(in);
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
			why->events |= BIT(IPSECMSS_C_NO_ROUTE_HOOK);
			return 0;
		}
		if (!ipsecmss_real_route(skb_dst(skb))) {
			why->events |= BIT(IPSECMSS_C_NO_ROUTE);
			return 0;
		}
	}

	switch (info->mode) {
	case XT_IPSECMSS_MODE_SET:
		return info->mss;
	case XT_IPSECMSS_MODE_AUTO:
		mtu = ipsecmss_auto_mtu(skb, par, rc, info->mtu, why);
		mss = ipsecmss_mss_for_mtu(mtu, iph);
		if (!mss) {
			why->events |= BIT(IPSECMSS_C_AUTO_FAILED);
			if (!(info->flags & XT_IPSECMSS_F_FALLBACK))
				return 0;
			why->events |= BIT(IPSECMSS_C_FALLBACK);
			return info->fallback_mss;
		}
		break;
	case XT_IPSECMSS_MODE_OVERHEAD:
		mtu = info->mtu ? info->mtu : ipsecmss_plain_mtu(net, rc, skb,
								  family);
		if (mtu <= info->overhead)
			return 0;
		mss = ipsecmss_mss_for_mtu(mtu - info->overhead, iph);
		break;
	case XT_IPSECMSS_MODE_ESP: {
		unsigned int outer = info->outer ? info->outer :
				     (family == NFPROTO_IPV4 ? 4 : 6);

		if (ipsecmss_esp_suite(info->suite, &s))
			return 0;
		mtu = info->mtu ? info->mtu : ipsecmss_plain_mtu(net, rc, skb,
								  family);
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
			 info ? "auto" : why->fwd.deferred ? "auto late" :
			 "auto after nat",
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

/* the tracepoint ipsecmss:mss, for every segment a rule decided on */
static void ipsecmss_trace(const struct sk_buff *skb, u8 family, const u8 *th,
			   unsigned int old_mss, unsigned int new_mss,
			   u8 action, const struct xt_ipsecmss_tginfo *info,
			   const struct ipsecmss_why *why)
{
	trace_mss(skb, family, th, old_mss, new_mss, action,
		  info ? info->mode : XT_IPSECMSS_MODE_AUTO, why);
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
	ipsecmss_trace(skb, family, skb_network_header(skb) + thoff, 0, mss,
		       IPSECMSS_ACT_INSERTED, par->targinfo, why);
	if (READ_ONCE(log_rewrites))
		ipsecmss_log(skb, family, skb_network_header(skb) + thoff, 0,
			     mss, par->targinfo, why);
	return true;
}

/* the TCP header at @thoff: a SYN's, bounded inside the skb, or why not */
enum ipsecmss_hdr {
	IPSECMSS_HDR_SYN,	/* *copy holds *doff header bytes */
	IPSECMSS_HDR_NOT_SYN,
	IPSECMSS_HDR_BAD,	/* cut short, or a data offset out of bounds */
};

static enum ipsecmss_hdr ipsecmss_syn_header(const struct sk_buff *skb,
					     unsigned int thoff, u8 *buf,
					     const u8 **copy,
					     unsigned int *doff)
{
	const u8 *p;

	/* the fixed header first: most segments end here */
	p = skb_header_pointer(skb, thoff, IPSECMSS_TCPHDR_MIN, buf);
	if (!p)
		return IPSECMSS_HDR_BAD;
	if (!(ipsecmss_flags(p) & IPSECMSS_TCP_SYN))
		return IPSECMSS_HDR_NOT_SYN;
	*doff = ipsecmss_doff(p);
	if (*doff < IPSECMSS_TCPHDR_MIN || skb->len < thoff ||
	    *doff > skb->len - thoff)
		return IPSECMSS_HDR_BAD;
	p = skb_header_pointer(skb, thoff, *doff, buf);
	if (!p)
		return IPSECMSS_HDR_BAD;
	*copy = p;
	return IPSECMSS_HDR_SYN;
}

static void ipsecmss_note_syn(struct sk_buff *skb,
			      const struct xt_action_param *par,
			      const struct ipsecmss_net *in,
			      const u8 *th, const struct ipsecmss_why *why);

static unsigned int
ipsecmss_tg(struct sk_buff *skb, const struct xt_action_param *par)
{
	/* the netns's counters and caches, looked up once per segment */
	const struct ipsecmss_net *in = net_generic(xt_net(par),
						     ipsecmss_net_id);
	unsigned int thoff = par->thoff, doff, target;
	/* filled by skb_header_pointer() and the walk before any read */
	u8 buf[IPSECMSS_TCPHDR_MAX] __uninitialized;
	struct ipsecmss_walk w __uninitialized;
	struct ipsecmss_why why __uninitialized;
	enum ipsecmss_result r;
	const u8 *copy;
	u8 *th;

	if (par->fragoff) {
		ipsecmss_count_in(in, BIT(IPSECMSS_C_FRAGMENT));
		return XT_CONTINUE;
	}

	switch (ipsecmss_syn_header(skb, thoff, buf, &copy, &doff)) {
	case IPSECMSS_HDR_SYN:
		break;
	case IPSECMSS_HDR_NOT_SYN:
		ipsecmss_count_in(in, BIT(IPSECMSS_C_NOT_SYN));
		return XT_CONTINUE;
	default:
		goto malformed;
	}

	r = ipsecmss_walk(copy, doff, &w);
	if (r == IPSECMSS_MALFORMED)
		goto malformed;

	why.chosen = NULL;
	why.events = 0;
	target = ipsecmss_target(skb, par, in, &why);
	if (why.chosen && target)
		ipsecmss_note_syn(skb, par, in, copy, &why);
	if (!target) {
		ipsecmss_count_in(in, why.events |
				  BIT(IPSECMSS_C_UNCHANGED));
		ipsecmss_trace(skb, xt_family(par), copy, w.max_mss, w.max_mss,
			       IPSECMSS_ACT_NO_VALUE, par->targinfo, &why);
		return XT_CONTINUE;
	}

	if (r == IPSECMSS_NO_MSS) {
		ipsecmss_count_in(in, why.events);
		if (!ipsecmss_insert_mss(skb, par, doff, target, &why))
			goto drop;
		return XT_CONTINUE;
	}

	if (w.max_mss <= target) {
		ipsecmss_count_in(in, why.events |
				  BIT(IPSECMSS_C_UNCHANGED));
		ipsecmss_trace(skb, xt_family(par), copy, w.max_mss, w.max_mss,
			       IPSECMSS_ACT_UNCHANGED, par->targinfo, &why);
		return XT_CONTINUE;
	}

	if (skb_ensure_writable(skb, thoff + doff)) {
		ipsecmss_count_in(in, why.events);
		goto drop;
	}
	/* the bytes just walked; the rewrite checks each recorded offset */
	th = skb_network_header(skb) + thoff;
	r = ipsecmss_rewrite(th, doff, &w, target, ipsecmss_csum_mode(skb));
	if (r != IPSECMSS_REWRITTEN) {
		/* cannot happen: w.max_mss > target was seen in these bytes */
		ipsecmss_count_in(in, why.events |
				  BIT(IPSECMSS_C_UNCHANGED));
		return XT_CONTINUE;
	}
	ipsecmss_count_in(in, why.events | BIT(IPSECMSS_C_REWRITTEN));
	ipsecmss_trace(skb, xt_family(par), th, w.max_mss, target,
		       IPSECMSS_ACT_REWRITTEN, par->targinfo, &why);
	if (READ_ONCE(log_rewrites))
		ipsecmss_log(skb, xt_family(par), th, w.max_mss, target,
			     par->targinfo, &why);
	return XT_CONTINUE;

malformed:
	ipsecmss_count_in(in, BIT(IPSECMSS_C_MALFORMED));
drop:
	ipsecmss_count_in(in, BIT(IPSECMSS_C_DROPPED));
	return NF_DROP;
}

/* ---------------------------------------------------------------------
 * NAT before IPsec.
 *
 * Source NAT, and the reply side of a DNAT, rewrite a segment in
 * POSTROUTING after every xtables chain; nf_nat_ipv4_out() and
 * nf_nat_ipv6_out() then route it again (nf_xfrm_me_harder()) into the
 * IPsec bundle its new addresses select, which no rule sees.  An --auto
 * rule leaves a note of the SYN it handled; the module's own hook right
 * after source NAT reads the note, takes the bundle's MTU and lowers the
 * MSS further if it must (never raises it).  The note is good for the
 * same skb on the same pass only: rule and hook run back to back with no
 * queue between, so it is keyed by the skb and its netns, and the hook
 * checks that the segment is still a SYN with the noted TCP sequence
 * number (an skb freed after the rule, whose address a new one reuses,
 * finds a stale note: the sequence number tells them apart).  A miss (a
 * queued packet, a note pushed out) only leaves the rule's value.  Where
 * the note is kept depends on the context both run in:
 *  - in a softirq (a forwarded segment, a SYN-ACK sent on receipt of the
 *    SYN) nothing runs between them on that CPU: one note per CPU.  Not
 *    on PREEMPT_RT, where a softirq can be preempted by another thread
 *    serving softirqs on the same CPU;
 *  - in a task (the gateway's own connect()), and on PREEMPT_RT, the task
 *    may be preempted and move to another CPU, and other tasks and
 *    softirqs run rules, between them (seen on a PREEMPT_LAZY kernel, and
 *    with preempt=full): a table shared by all CPUs, under one lock,
 *    where a note takes a free one of IPSECMSS_TASK_PROBES slots from a
 *    hash of the skb's address, else the one whose note is oldest.
 * The hooks exist in a netns while it has --auto rules.
 */
struct ipsecmss_note {
	const struct net *net;	/* compared, never dereferenced */
	__be32 seq;		/* the SYN's sequence number */
	u16 cap;		/* the rule's --mtu cap, 0 if none */
	u16 floor;		/* the floor the rule applies */
	u32 mtu;		/* the MTU the rule chose, bytes */
	u8 src;			/* and where it came from */
	bool late_fwd;		/* an xfrm interface's lookup is left to us, */
	bool late_rev;		/* for the segment or for its reply */
};

/* a note where it is kept, with the skb it is for (NULL: none) */
struct ipsecmss_noted {
	const struct sk_buff *skb;	/* compared, never dereferenced */
	u32 gen;			/* in the table: when it was left */
	struct ipsecmss_note n;
};

static DEFINE_PER_CPU(struct ipsecmss_noted, ipsecmss_bh_note);

#define IPSECMSS_TASK_NOTE_BITS 6
#define IPSECMSS_TASK_PROBES	4

/* the table, its generation count and every note's ->gen */
static DEFINE_SPINLOCK(ipsecmss_task_lock);
static struct ipsecmss_noted ipsecmss_task_notes[1 << IPSECMSS_TASK_NOTE_BITS];
static u32 ipsecmss_task_gen;

/* one note per CPU will do: a softirq nothing can preempt */
static bool ipsecmss_note_per_cpu(void)
{
	return !IS_ENABLED(CONFIG_PREEMPT_RT) && in_serving_softirq();
}

/* probe @i from @h, hash_ptr() of the skb's address */
static struct ipsecmss_noted *ipsecmss_task_slot(u32 h, unsigned int i)
{
	return &ipsecmss_task_notes[(h + i) % ARRAY_SIZE(ipsecmss_task_notes)];
}

static void ipsecmss_note_put(const struct sk_buff *skb,
			      const struct ipsecmss_note *n)
{
	u32 h = hash_ptr(skb, IPSECMSS_TASK_NOTE_BITS);
	struct ipsecmss_noted *t, *slot = NULL;
	unsigned int i;
	u32 gen;

	if (ipsecmss_note_per_cpu()) {
		t = this_cpu_ptr(&ipsecmss_bh_note);
		t->skb = skb;
		t->n = *n;
		return;
	}
	/* _bh: a softirq on this CPU takes it too on PREEMPT_RT */
	spin_lock_bh(&ipsecmss_task_lock);
	gen = ++ipsecmss_task_gen;
	for (i = 0; i < IPSECMSS_TASK_PROBES; i++) {
		t = ipsecmss_task_slot(h, i);
		if (!t->skb || t->skb == skb) {
			slot = t;
			break;
		}
		/* the oldest: wraparound-safe */
		if (!slot || gen - t->gen > gen - slot->gen)
			slot = t;
	}
	slot->n = *n;
	slot->gen = gen;
	/* read by the hook's lockless glance */
	WRITE_ONCE(slot->skb, skb);
	spin_unlock_bh(&ipsecmss_task_lock);
}

/* the note the rule left for @skb in @net, taken into @n; false if none */
static bool ipsecmss_note_take(const struct sk_buff *skb,
			       const struct net *net, struct ipsecmss_note *n)
{
	struct ipsecmss_noted *t = NULL;
	bool found = false;
	unsigned int i;
	u32 h;

	if (ipsecmss_note_per_cpu()) {
		t = this_cpu_ptr(&ipsecmss_bh_note);
		if (likely(t->skb != skb))
			return false;
		t->skb = NULL;
		*n = t->n;
		return n->net == net;
	}
	/*
	 * Most segments: a glance, no lock.  The first match in probe order
	 * is the newest note for @skb (ipsecmss_note_put() fills the first
	 * free or same-skb slot); it is checked again under the lock.
	 */
	h = hash_ptr(skb, IPSECMSS_TASK_NOTE_BITS);
	for (i = 0; i < IPSECMSS_TASK_PROBES; i++) {
		t = ipsecmss_task_slot(h, i);
		if (READ_ONCE(t->skb) == skb)
			break;
	}
	if (likely(i == IPSECMSS_TASK_PROBES))
		return false;
	spin_lock_bh(&ipsecmss_task_lock);
	if (t->skb == skb) {
		*n = t->n;
		WRITE_ONCE(t->skb, NULL);
		found = n->net == net;
	}
	spin_unlock_bh(&ipsecmss_task_lock);
	return found;
}

static void ipsecmss_note_syn(struct sk_buff *skb,
			      const struct xt_action_param *par,
			      const struct ipsecmss_net *in,
			      const u8 *th, const struct ipsecmss_why *why)
{
	const struct xt_ipsecmss_tginfo *info = par->targinfo;
	struct ipsecmss_note n;

	/* no conntrack, no NAT: only a deferred lookup needs the hook */
	if (!skb_nfct(skb) && !why->fwd.deferred && !why->rev.deferred)
		return;
	if (!READ_ONCE(in->nat_hooks))
		return;
	n.net = xt_net(par);
	memcpy(&n.seq, th + 4, sizeof(n.seq));
	n.cap = info->mtu;
	n.floor = ipsecmss_floor(info, xt_family(par));
	n.mtu = why->chosen->mtu;
	n.src = why->chosen->src;
	n.late_fwd = why->fwd.deferred;
	n.late_rev = why->rev.deferred;
	ipsecmss_note_put(skb, &n);
}

/* did NAT change this connection's addresses or ports? */
static bool ipsecmss_nat_done(const struct sk_buff *skb)
{
#if IS_ENABLED(CONFIG_NF_CONNTRACK)
	enum ip_conntrack_info ctinfo;
	const struct nf_conn *ct = nf_ct_get(skb, &ctinfo);

	return ct && (ct->status & IPS_NAT_MASK);
#else
	return false;
#endif
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
	bool late = note->late_fwd || note->late_rev;
	const u8 *copy;
	u8 *th;

	if (!ipsecmss_real_route(dst) || (!dst->xfrm && !late))
		return;
	thoff = ipsecmss_tcp_offset(skb, family);
	if (!thoff ||
	    ipsecmss_syn_header(skb, thoff, buf, &copy, &doff) !=
	    IPSECMSS_HDR_SYN ||
	    memcmp(copy + 4, &note->seq, sizeof(note->seq)) ||
	    ipsecmss_walk(copy, doff, &w) != IPSECMSS_UNCHANGED)
		return;

	memset(&why, 0, sizeof(why));
	why.chosen = &why.fwd;
	if (late) {
		/* the rule's value, or the xfrm interface's SA below it */
		if (note->late_fwd)
			ipsecmss_late_path(net, skb, family, false, note->cap,
					   &why.fwd);
		/* the reply's flow is this one's only where NAT left it */
		if (note->late_rev && !ipsecmss_nat_done(skb))
			ipsecmss_late_path(net, skb, family, true, note->cap,
					   &why.fwd);
		if (!why.fwd.mtu || note->mtu <= why.fwd.mtu) {
			why.fwd.mtu = note->mtu;
			why.fwd.src = note->src;
			why.fwd.spi = 0;
		}
		ipsecmss_count_src(net, why.fwd.src);
		why.fwd.deferred = true;	/* for the log: the late lookup */
	} else {
		ipsecmss_take_bundle(&why.fwd, dst, 0, note->cap,
				     IPSECMSS_SRC_BUNDLE);
	}
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
	if (late)
		ipsecmss_count(net, IPSECMSS_C_REWRITTEN);
	else
		ipsecmss_count(net, IPSECMSS_C_AFTER_NAT);
	ipsecmss_trace(skb, family, th, w.max_mss, target,
		       late ? IPSECMSS_ACT_REWRITTEN :
		       IPSECMSS_ACT_AFTER_NAT, NULL, &why);
	if (READ_ONCE(log_rewrites))
		ipsecmss_log(skb, family, th, w.max_mss, target, NULL, &why);
}

static unsigned int ipsecmss_nat_hook(void *priv, struct sk_buff *skb,
				      const struct nf_hook_state *state)
{
	struct ipsecmss_note note;

	if (ipsecmss_note_take(skb, state->net, &note))
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
	if (needs_route)
		ipsecmss_routes_get(par->net);
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
