/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel compatibility for xt_ipsecmss.  Built and tested: Debian's 6.1
 * (generic, cloud, rt).  The floor is 5.10, the oldest long-term kernel
 * still maintained; every gate below names the change that forced it.
 */
#ifndef _IPSECMSS_COMPAT_H
#define _IPSECMSS_COMPAT_H

#include <linux/version.h>
#include <net/xfrm.h>

/*
 * Below the floor, and so not gated: the secpath as an skb extension
 * read through skb_sec_path() (v5.0), xfrm_lookup_with_ifid() (v4.19,
 * with xfrm interfaces) and the export of xfrm_state_mtu() (v5.3).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 10, 0)
#error "xt_ipsecmss needs Linux 5.10 or later"
#endif

/*
 * v6.0, "xfrm: interface: support collect metadata mode": an xfrm
 * interface may carry no if_id of its own (the SA comes with each
 * packet); there is then nothing to resolve ahead of time.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
#define ipsecmss_xfrmi_collect_md(xi) ((xi)->p.collect_md)
#else
#define ipsecmss_xfrmi_collect_md(xi) false
#endif

/*
 * v6.7, "xfrm: pass struct net to xfrm_decode_session wrappers": the
 * decoder takes the namespace (for the flow dissector's netns).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
#define ipsecmss_decode_session(net, skb, fl, family) \
	xfrm_decode_session(net, skb, fl, family)
#define ipsecmss_decode_session_reverse(net, skb, fl, family) \
	xfrm_decode_session_reverse(net, skb, fl, family)
#else
#define ipsecmss_decode_session(net, skb, fl, family) \
	xfrm_decode_session(skb, fl, family)
#define ipsecmss_decode_session_reverse(net, skb, fl, family) \
	xfrm_decode_session_reverse(skb, fl, family)
#endif

/*
 * With CONFIG_INIT_STACK_ALL_ZERO (Debian's default) every local is
 * zeroed on entry, on every packet.  The header copy and the walk are
 * always written before they are read, so they opt out where the
 * kernel's compiler_attributes.h offers __uninitialized (it arrived with
 * the KMSAN work); without it they are zeroed, which is only slower.
 */
#ifndef __uninitialized
#define __uninitialized
#endif

#endif /* _IPSECMSS_COMPAT_H */
