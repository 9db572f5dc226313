#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""IP-TFS SAs and policies over a raw NETLINK_XFRM socket.

Debian 12's iproute2 (6.1) knows no "mode iptfs" (XFRM_MODE_IPTFS, Linux
6.14, RFC 9347): this adds such SAs and the policies that select them the
way "ip xfrm state/policy add" would.  Run inside the namespace; reads
commands from stdin, one per line:

  sa SRC DST SPI REQID in|out SEL-SRC SEL-DST AEAD-NAME KEY ICV-BITS [dont-frag]
      an ESP SA in mode iptfs with XFRMA_SA_DIR (IP-TFS requires a
      direction) and an AEAD; "dont-frag" sets XFRMA_IPTFS_DONT_FRAG
      (out only: inner packets are never fragmented across ESP packets)
  policy in|out|fwd SEL-SRC SEL-DST TMPL-SRC TMPL-DST REQID
      a policy whose template asks for an ESP SA in mode iptfs
  show
      one line per SA: "spi=0x... mode=N dir=D iptfs=yes|no dont_frag=0|1";
      iptfs=yes when the dump carries XFRMA_IPTFS_* attributes, which
      only the kernel's IP-TFS code (xfrm_iptfs.c) adds
  probe
      "iptfs" if an IP-TFS SA can be added and the kernel sizes it (the
      SA is deleted again), else "none: <why>"

Prints "ok" per sa/policy line; on a refusal "error: <cmd>: <errno>
<the kernel's extack message>" and exits 1.  Layouts: <linux/xfrm.h>.
"""
import errno
import os
import socket
import struct
import sys

NETLINK_XFRM = 6
SOL_NETLINK = 270
NETLINK_CAP_ACK, NETLINK_EXT_ACK = 10, 11
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLMSGERR_ATTR_MSG = 1

XFRM_MSG_NEWSA, XFRM_MSG_DELSA, XFRM_MSG_GETSA = 0x10, 0x11, 0x12
XFRM_MSG_NEWPOLICY = 0x13
XFRMA_TMPL, XFRMA_SA, XFRMA_ALG_AEAD, XFRMA_SA_DIR = 5, 6, 18, 33
XFRMA_IPTFS_DONT_FRAG, XFRMA_IPTFS_MAX_QSIZE, XFRMA_IPTFS_PKT_SIZE = 38, 40, 41
XFRM_MODE_IPTFS = 5
XFRM_SA_DIR = {"in": 1, "out": 2}
XFRM_POLICY_DIR = {"in": 0, "out": 1, "fwd": 2}
IPPROTO_ESP = 50
INF = 0xFFFFFFFFFFFFFFFF


def addr(text):
    """(family, 16-byte xfrm_address_t, prefix length) of "A[/LEN]"."""
    a, _, plen = text.partition("/")
    fam = socket.AF_INET6 if ":" in a else socket.AF_INET
    raw = socket.inet_pton(fam, a).ljust(16, b"\0")
    full = 128 if fam == socket.AF_INET6 else 32
    return fam, raw, int(plen) if plen else full


def selector(src, dst):
    """struct xfrm_selector (56 bytes): any port, any protocol."""
    fam, s, ps = addr(src)
    _, d, pd = addr(dst)
    return struct.pack("=16s16sHHHHHBBBxxxiI", d, s, 0, 0, 0, 0, fam,
                       pd, ps, 0, 0, 0)


def xfrm_id(dst, spi):
    """struct xfrm_id (24 bytes): daddr, spi (network order), proto."""
    return struct.pack("=16s4sBxxx", addr(dst)[1], spi.to_bytes(4, "big"),
                       IPPROTO_ESP)


# xfrm_lifetime_cfg as ip sets it: no byte or packet limit, and 0 (never)
# for the times (~0 seconds would expire at once)
LIFETIME = struct.pack("=8Q", INF, INF, INF, INF, 0, 0, 0, 0)
LIFETIME_CUR = bytes(32)                          # xfrm_lifetime_cur
STATS = bytes(12)                                 # xfrm_stats


def attr(kind, data=b""):
    """One netlink attribute, padded to 4 bytes."""
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + bytes(-n % 4)


def attrs(data):
    """{type: payload} of a run of netlink attributes."""
    out = {}
    while len(data) >= 4:
        n, kind = struct.unpack_from("=HH", data)
        if n < 4:
            break
        out[kind & 0x3FFF] = data[4:n]
        data = data[(n + 3) & ~3:]
    return out


class Xfrm:
    def __init__(self):
        self.s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW,
                               NETLINK_XFRM)
        # errors come back with the kernel's message, without our request
        self.s.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
        self.s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
        self.s.bind((0, 0))
        self.seq = 0

    def send(self, kind, flags, body):
        self.seq += 1
        msg = struct.pack("=IHHII", 16 + len(body), kind,
                          NLM_F_REQUEST | flags, self.seq, 0) + body
        self.s.send(msg)

    def request(self, kind, flags, body):
        """Send, wait for the ack: (0, "") or (errno, the extack message)."""
        self.send(kind, flags | NLM_F_ACK, body)
        while True:
            data = self.s.recv(65536)
            while len(data) >= 16:
                n, t, fl, seq, _ = struct.unpack_from("=IHHII", data)
                if t == NLMSG_ERROR and seq == self.seq:
                    err = -struct.unpack_from("=i", data, 16)[0]
                    tlv = attrs(data[36:n]) if fl & 0x200 else {}
                    msg = tlv.get(NLMSGERR_ATTR_MSG, b"").rstrip(b"\0")
                    return err, msg.decode(errors="replace")
                data = data[(n + 3) & ~3:]

    def dump_sa(self):
        """[(xfrm_usersa_info bytes, {attr: payload})] of every SA."""
        self.send(XFRM_MSG_GETSA, NLM_F_DUMP, b"")    # no filter
        out = []
        while True:
            data = self.s.recv(1 << 16)
            while len(data) >= 16:
                n, t, _, _, _ = struct.unpack_from("=IHHII", data)
                if t in (NLMSG_DONE, NLMSG_ERROR):
                    return out
                out.append((data[16:240], attrs(data[240:n])))
                data = data[(n + 3) & ~3:]

    def add_sa(self, w):
        """sa SRC DST SPI REQID DIR SEL-SRC SEL-DST AEAD KEY ICV-BITS [dont-frag]"""
        src, dst, spi, reqid, sadir, ssrc, sdst, alg, key, icv = w[:10]
        flags = w[10:]
        fam = addr(src)[0]
        info = (selector(ssrc, sdst) + xfrm_id(dst, int(spi, 0)) +
                addr(src)[1] + LIFETIME + LIFETIME_CUR + STATS +
                struct.pack("=IIHBBBxxxxxxx", 0, int(reqid, 0), fam,
                            XFRM_MODE_IPTFS,
                            32 if sadir == "in" else 0,  # replay window
                            0))
        assert len(info) == 224
        k = bytes.fromhex(key[2:] if key.startswith("0x") else key)
        aead = struct.pack("=64sII", alg.encode(), len(k) * 8,
                           int(icv)) + k
        body = (info + attr(XFRMA_ALG_AEAD, aead) +
                attr(XFRMA_SA_DIR, bytes([XFRM_SA_DIR[sadir]])))
        if "dont-frag" in flags:
            body += attr(XFRMA_IPTFS_DONT_FRAG)
        return self.request(XFRM_MSG_NEWSA, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_policy(self, w):
        """policy DIR SEL-SRC SEL-DST TMPL-SRC TMPL-DST REQID"""
        pdir, ssrc, sdst, tsrc, tdst, reqid = w[:6]
        info = (selector(ssrc, sdst) + LIFETIME + LIFETIME_CUR +
                struct.pack("=IIBBBBxxxx", 0, 0, XFRM_POLICY_DIR[pdir],
                            0, 0, 0))
        assert len(info) == 168
        tmpl = (xfrm_id(tdst, 0) +
                struct.pack("=Hxx16sIBBBxIII", addr(tsrc)[0], addr(tsrc)[1],
                            int(reqid, 0), XFRM_MODE_IPTFS, 0, 0,
                            0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF))
        assert len(tmpl) == 64
        return self.request(XFRM_MSG_NEWPOLICY, NLM_F_CREATE | NLM_F_EXCL,
                            info + attr(XFRMA_TMPL, tmpl))

    def show(self):
        for info, a in self.dump_sa():
            spi = int.from_bytes(info[72:76], "big")
            mode = info[214]
            sadir = {1: "in", 2: "out"}.get(a.get(XFRMA_SA_DIR, b"\0")[0],
                                            "-")
            tfs = XFRMA_IPTFS_MAX_QSIZE in a or 36 in a   # out / in
            print("spi=0x%x mode=%d dir=%s iptfs=%s dont_frag=%d" %
                  (spi, mode, sadir, "yes" if tfs else "no",
                   XFRMA_IPTFS_DONT_FRAG in a))

    def probe(self):
        """Can this kernel add and size an IP-TFS SA?"""
        w = ["192.0.2.1", "192.0.2.2", "0x7f000001", "1", "out",
             "10.0.0.0/8", "10.0.0.0/8", "rfc4106(gcm(aes))",
             "0x" + "11" * 20, "128"]
        err, msg = self.add_sa(w)
        if err:
            return "none: XFRM_MSG_NEWSA mode iptfs refused: %s%s" % (
                os.strerror(err), " (%s)" % msg if msg else "")
        found = [a for _, a in self.dump_sa() if XFRMA_SA_DIR in a]
        # struct xfrm_usersa_id: daddr, spi, family, proto
        self.request(XFRM_MSG_DELSA, 0, struct.pack(
            "=16s4sHBx", addr("192.0.2.2")[1], (0x7f000001).to_bytes(4, "big"),
            socket.AF_INET, IPPROTO_ESP))
        if not any(XFRMA_IPTFS_MAX_QSIZE in a for a in found):
            return ("none: a mode iptfs SA is accepted but has no IP-TFS "
                    "state (CONFIG_XFRM_IPTFS off)")
        return "iptfs"


def main():
    x = Xfrm()
    for line in sys.stdin:
        w = line.split()
        if not w or w[0].startswith("#"):
            continue
        if w[0] == "show":
            x.show()
            continue
        if w[0] == "probe":
            print(x.probe())
            continue
        err, msg = x.add_sa(w[1:]) if w[0] == "sa" else x.add_policy(w[1:])
        if err:
            print("error: %s: %s %s" % (line.strip(),
                                        errno.errorcode.get(err, err), msg))
            sys.exit(1)
        print("ok")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
