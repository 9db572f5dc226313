/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel compatibility for xt_ipsecmss.  Built and tested: Debian's 6.1
 * (generic, cloud, rt) and 6.12.
 *
 * Nothing here compares version numbers: Kbuild runs
 * scripts/ipsecmss-probe.sh against the tree the module is built for and
 * passes what that tree declares and exports as IPSECMSS_* defines (the
 * build log prints them: "IPSECMSS probes: ...").  So a distribution
 * kernel with backports gets what it has.  The script names, for each
 * probe, the upstream change and the first version with it; it also
 * refuses trees below the floor (xfrm_lookup_with_ifid(), v4.19;
 * skb_sec_path() on a const skb, v5.0), and Kbuild refuses kernels
 * without CONFIG_XFRM or CONFIG_NETFILTER_XTABLES.
 */
#ifndef _IPSECMSS_COMPAT_H
#define _IPSECMSS_COMPAT_H

#include <net/xfrm.h>

#ifndef IPSECMSS_STATE_MTU
#error "xt_ipsecmss: built without Kbuild's probes (IPSECMSS_STATE_MTU)"
#endif

/*
 * The ESP arithmetic: xfrm_state_mtu(), or __xfrm_state_mtu() where only
 * that one is exported (v5.14-rc1 until the revert for v5.17; stable
 * 5.10.50-5.10.104 and 5.15.0-5.15.27).  The same signature, and in that
 * window the plain arithmetic (xfrm_state_mtu() clamped IPv6 to 1280).
 */
static inline u32 ipsecmss_state_mtu(struct xfrm_state *x, int mtu)
{
	return IPSECMSS_STATE_MTU(x, mtu);
}

/*
 * v6.1, collect metadata mode of xfrm interfaces: such an interface has
 * no if_id of its own (the SA comes with each packet), so there is
 * nothing to resolve ahead of time.
 */
#ifdef IPSECMSS_HAVE_XFRMI_COLLECT_MD
#define ipsecmss_xfrmi_collect_md(xi) ((xi)->p.collect_md)
#else
#define ipsecmss_xfrmi_collect_md(xi) false
#endif

/* v6.7: the decoders take the namespace (for the flow dissector) */
#ifdef IPSECMSS_HAVE_DECODE_SESSION_NET
#define ipsecmss_decode_session(net, skb, fl, family) \
	xfrm_decode_session(net, skb, fl, family)
#else
#define ipsecmss_decode_session(net, skb, fl, family) \
	xfrm_decode_session(skb, fl, family)
#endif
#ifdef IPSECMSS_HAVE_DECODE_SESSION_REVERSE_NET
#define ipsecmss_decode_session_reverse(net, skb, fl, family) \
	xfrm_decode_session_reverse(net, skb, fl, family)
#else
#define ipsecmss_decode_session_reverse(net, skb, fl, family) \
	xfrm_decode_session_reverse(skb, fl, family)
#endif

/*
 * v6.14, IP-TFS SAs: xfrm_state_mtu() sizes an SA of a mode other than
 * tunnel, transport and BEET through its mode's get_inner_mtu() and warns
 * when there is none (an IP-TFS SA on a kernel built without
 * CONFIG_XFRM_IPTFS has none).
 */
static inline bool ipsecmss_iptfs_sized(const struct xfrm_state *x)
{
#ifdef IPSECMSS_HAVE_IPTFS
	return x->props.mode == XFRM_MODE_IPTFS && x->mode_cbs &&
	       x->mode_cbs->get_inner_mtu;
#else
	return false;
#endif
}

/*
 * With CONFIG_INIT_STACK_ALL_ZERO (Debian's default) every local is
 * zeroed on entry, on every packet.  The header copy and the walk are
 * always written before they are read, so they opt out.  Where the tree's
 * compiler_attributes.h lacks __uninitialized (added for v6.9, in 6.1.y
 * too; absent from 5.15 and 6.8), it is defined the same way here: the
 * compiler, not the kernel, decides whether the attribute exists.  The
 * probe only reports which; the preprocessor sees it for itself.
 */
#ifndef __uninitialized
#if __has_attribute(__uninitialized__)
#define __uninitialized __attribute__((__uninitialized__))
#else
#define __uninitialized
#endif
#endif

#endif /* _IPSECMSS_COMPAT_H */
