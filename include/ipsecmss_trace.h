/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of xt_ipsecmss: one event per SYN or SYN-ACK a rule decided
 * on, with the flow, the MSS before and after, and for --auto the MTU of
 * each direction and where it came from.  Read them from tracefs
 * (events/ipsecmss/), perf or bpftrace (tracepoint:ipsecmss:mss).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ipsecmss

#ifndef _IPSECMSS_TRACE_DEFS
#define _IPSECMSS_TRACE_DEFS
/* what the rule did to the segment (the event's action field) */
enum ipsecmss_action {
	IPSECMSS_ACT_UNCHANGED,	/* every MSS option already small enough */
	IPSECMSS_ACT_REWRITTEN,	/* lowered by the rule */
	IPSECMSS_ACT_INSERTED,	/* an MSS option added */
	IPSECMSS_ACT_AFTER_NAT,	/* lowered again after source NAT */
	IPSECMSS_ACT_NO_VALUE,	/* no value derived: left alone */
};
#endif

#if !defined(_IPSECMSS_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _IPSECMSS_TRACE_H

#include <linux/tracepoint.h>
#include <linux/ipv6.h>
#include <linux/ip.h>
#include <linux/skbuff.h>
#include <linux/netfilter.h>
#include <net/ipv6.h>
#include "ipsecmss_kmod.h"

TRACE_EVENT(mss,
	TP_PROTO(const struct sk_buff *skb, u8 family, const u8 *th,
		 unsigned int old_mss, unsigned int new_mss, u8 action,
		 u8 mode, const struct ipsecmss_why *why),

	TP_ARGS(skb, family, th, old_mss, new_mss, action, mode, why),

	TP_STRUCT__entry(
		__field(u8, family)
		__array(u8, saddr, 16)
		__array(u8, daddr, 16)
		__field(u16, sport)
		__field(u16, dport)
		__field(u16, old_mss)
		__field(u16, new_mss)
		__field(u8, action)
		__field(u8, mode)
		__field(u32, fwd_mtu)
		__field(u8, fwd_src)
		__field(u32, rev_mtu)
		__field(u8, rev_src)
		__field(u8, src)
		__field(u32, spi)
	),

	TP_fast_assign(
		struct in6_addr *s = (struct in6_addr *)__entry->saddr;
		struct in6_addr *d = (struct in6_addr *)__entry->daddr;

		__entry->family = family == NFPROTO_IPV4 ? 4 : 6;
		/* IPv4 as v4-mapped IPv6: one format for both families */
		if (family == NFPROTO_IPV4) {
			ipv6_addr_set_v4mapped(ip_hdr(skb)->saddr, s);
			ipv6_addr_set_v4mapped(ip_hdr(skb)->daddr, d);
		} else {
			*s = ipv6_hdr(skb)->saddr;
			*d = ipv6_hdr(skb)->daddr;
		}
		__entry->sport = th[0] << 8 | th[1];
		__entry->dport = th[2] << 8 | th[3];
		__entry->old_mss = old_mss;
		__entry->new_mss = new_mss;
		__entry->action = action;
		__entry->mode = mode;
		/* for --auto; zero for the other modes */
		__entry->fwd_mtu = why->chosen ? why->fwd.mtu : 0;
		__entry->fwd_src = why->chosen ? why->fwd.src : 0;
		__entry->rev_mtu = why->chosen ? why->rev.mtu : 0;
		__entry->rev_src = why->chosen ? why->rev.src : 0;
		__entry->src = why->chosen ? why->chosen->src : 0;
		__entry->spi = why->chosen ? ntohl(why->chosen->spi) : 0;
	),

	TP_printk("family=%u saddr=%pI6c sport=%u daddr=%pI6c dport=%u old_mss=%u new_mss=%u action=%s mode=%s fwd_mtu=%u fwd_src=%s rev_mtu=%u rev_src=%s src=%s spi=0x%08x",
		  __entry->family, __entry->saddr, __entry->sport,
		  __entry->daddr, __entry->dport, __entry->old_mss,
		  __entry->new_mss,
		  __print_symbolic(__entry->action,
				   { 0, "unchanged" }, { 1, "rewritten" },
				   { 2, "inserted" }, { 3, "after_nat" },
				   { 4, "no_value" }),
		  __print_symbolic(__entry->mode,
				   { 1, "set-mss" }, { 2, "auto" },
				   { 3, "overhead" }, { 4, "esp" }),
		  __entry->fwd_mtu,
		  /* enum ipsecmss_src (ipsecmss_kmod.h) by name */
		  __print_symbolic(__entry->fwd_src,
				   { 0, "none" }, { 1, "route" },
				   { 2, "bundle" }, { 3, "secpath" },
				   { 4, "device" }, { 5, "cap" }),
		  __entry->rev_mtu,
		  __print_symbolic(__entry->rev_src,
				   { 0, "none" }, { 1, "route" },
				   { 2, "bundle" }, { 3, "secpath" },
				   { 4, "device" }, { 5, "cap" }),
		  __print_symbolic(__entry->src,
				   { 0, "none" }, { 1, "route" },
				   { 2, "bundle" }, { 3, "secpath" },
				   { 4, "device" }, { 5, "cap" }),
		  __entry->spi)
);

#endif /* _IPSECMSS_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE ipsecmss_trace
#include <trace/define_trace.h>
