#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Feature probes for xt_ipsecmss, run by Kbuild against the kernel tree the
# module is built for:
#
#   ipsecmss-probe.sh SRCTREE OBJTREE
#
# What the tree declares (its headers, under SRCTREE or OBJTREE: Debian
# splits them) and exports (OBJTREE/Module.symvers) decides, never its
# version number: a distribution kernel with backports gets what it has.
# Prints one line: the -D flags for ccflags-y, then "|", then the results
# in words for the build log.  A missing necessity is printed as
# "missing=WHAT", which Kbuild turns into an error.

src=$1
obj=$2

# the first of SRCTREE/OBJTREE that has header $1, joined into one line
flat() {
	for t in "$src" "$obj"; do
		if [ -f "$t/$1" ]; then
			tr '\n\t' '  ' <"$t/$1" | tr -s ' '
			return
		fi
	done
}

has() { # text regex
	printf '%s' "$1" | grep -Eq "$2"
}

xfrm=$(flat include/net/xfrm.h)
uxfrm=$(flat include/uapi/linux/xfrm.h)
dst=$(flat include/net/dst.h)
skbuff=$(flat include/linux/skbuff.h)
attrs=$(flat include/linux/compiler_attributes.h)
flags=
words=
missing=

# Below every probe, the floor: xfrm_lookup_with_ifid() (v4.19, with
# xfrm interfaces, f203b76d7809 "xfrm: Add virtual xfrm interfaces") and
# skb_sec_path() on a const skb (v5.0, when the secpath moved into an
# skb extension).
has "$dst" 'xfrm_lookup_with_ifid ?\(' ||
	missing="$missing,xfrm_lookup_with_ifid"
has "$skbuff" 'skb_sec_path ?\( ?const struct sk_buff' ||
	missing="$missing,skb_sec_path"

# The ESP arithmetic, usable = declared and exported.  v5.14-rc1,
# b515d2637276 "xfrm: xfrm_state_mtu should return at least 1280 for
# ipv6", renamed it __xfrm_state_mtu() (exported, same signature) and
# left xfrm_state_mtu() an unexported wrapper clamping IPv6 to 1280;
# a6d95c5a628a, the revert, restored the export for v5.17 (stable: the
# gap is 5.10.50-5.10.104 and 5.15.0-5.15.27).  In the gap,
# __xfrm_state_mtu() is the plain arithmetic that xfrm_state_mtu() is
# before and after it.  Without Module.symvers a declaration is taken as
# exported, __xfrm_state_mtu() first (declared only in the gap).
sig='\(struct xfrm_state \*x, int mtu\);'
syms=$obj/Module.symvers
exported() {
	[ -s "$syms" ] || return 0
	awk -F '\t' -v s="$1" '$2 == s { f = 1 } END { exit !f }' "$syms"
}
state_mtu=
for f in __xfrm_state_mtu xfrm_state_mtu; do
	if has "$xfrm" "u32 $f ?$sig" && exported "$f"; then
		state_mtu=$f
		break
	fi
done
if [ -n "$state_mtu" ]; then
	flags="$flags -DIPSECMSS_STATE_MTU=$state_mtu"
	[ -s "$syms" ] || state_mtu="$state_mtu(no-Module.symvers)"
	words="$words state_mtu=$state_mtu"
else
	missing="$missing,xfrm_state_mtu(exported)"
fi

# v6.7, 2b1dc6285c3f "xfrm: pass struct net to xfrm_decode_session
# wrappers": both decoders take the namespace first.
v=0
has "$xfrm" 'int xfrm_decode_session ?\( ?struct net \*' && v=1
[ $v = 1 ] && flags="$flags -DIPSECMSS_HAVE_DECODE_SESSION_NET=1"
words="$words decode_net=$v"
v=0
has "$xfrm" 'int xfrm_decode_session_reverse ?\( ?struct net \*' && v=1
[ $v = 1 ] && flags="$flags -DIPSECMSS_HAVE_DECODE_SESSION_REVERSE_NET=1"
words="$words decode_reverse_net=$v"

# v6.1, abc340b38ba2 "xfrm: interface: support collect metadata mode":
# struct xfrm_if_parms gains collect_md.
v=0
parms=$(printf '%s' "$xfrm" | sed -n 's/.*struct xfrm_if_parms {\([^}]*\)}.*/\1/p')
has "$parms" 'bool collect_md;' && v=1
[ $v = 1 ] && flags="$flags -DIPSECMSS_HAVE_XFRMI_COLLECT_MD=1"
words="$words xfrmi_collect_md=$v"

# v6.14, IP-TFS SAs (RFC 9347, Christian Hopps' series: "xfrm: add
# mode_cbs module functionality", "xfrm: iptfs: add new iptfs xfrm mode
# impl"): XFRM_MODE_IPTFS in the UAPI header, and struct xfrm_mode_cbs
# whose get_inner_mtu() xfrm_state_mtu() calls for such an SA.
v=0
has "$uxfrm" 'define XFRM_MODE_IPTFS ' && has "$xfrm" 'get_inner_mtu' && v=1
[ $v = 1 ] && flags="$flags -DIPSECMSS_HAVE_IPTFS=1"
words="$words iptfs=$v"

# v6.9, "Compiler Attributes: Add __uninitialized macro" (Heiko
# Carstens; also in 6.1.y stable, where Debian's 6.1 has it).  Reported
# only: the compat header sees the macro itself, and defines it the same
# way where the tree does not.
v=0
has "$attrs" 'define __uninitialized ' && v=1
words="$words uninitialized=$v"

[ -n "$missing" ] && words=" missing=${missing#,}"
echo "$flags |$words"
