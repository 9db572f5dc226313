#!/usr/bin/python3 -S
# SPDX-License-Identifier: GPL-2.0
#
# hostile.py: random and mutated SYNs through the gateway, and a check of
# everything that came out on the other side.  Python standard library only.
#
#   hostile.py suite --seed N --count N --run "LABEL FW MODE T4 T6 OPTIONS..."...
#                  --client NS --gw NS --server NS --client-if IF
#                  --server-if IF --gw-if IF --client-mac MAC --gw-mac MAC
#                  --src4 A --dst4 A --src6 A --dst6 A [--reference none]
#   hostile.py flood --netns NS --ifname IF --src-mac MAC --dst-mac MAC
#                  --src4 A --dst4 A --src6 A --dst6 A --stop FILE
#                  [--pps N] [--seed N]
#
# suite: for each --run (FW legacy|nft, MODE set|esp|overhead|auto, T4/T6
# the MSS targets worked out by the caller, OPTIONS the IPSECMSS options),
# replaces the gateway's mangle table (iptables-FW-restore, both families)
# with three FORWARD rules: "-i IF" (counts what reaches the hook), "-i IF
# -p tcp" (what the target is handed) and "-i IF -p tcp -j IPSECMSS
# OPTIONS"; builds --count segments from seed+run (IPv4 and IPv6; random
# and mutated TCP option lists with MSS at odd offsets, duplicated, after
# EOL, with bad lengths; IPv4 options; IPv6 extension headers; fragments in
# and out of order, some missing; truncations; bad data offsets; SYNs with
# payload; bad TCP and IP checksums; trailing bytes); sends them as
# Ethernet frames on the client's interface and captures at the server's
# (AF_PACKET, sockets opened inside the namespaces with setns).  Every
# segment is tagged: IPv4 identification / IPv6 flow label (and fragment
# identification) = its number.  Then one PASS:/FAIL: line per check
# (net/hostile/LABEL/CHECK), a summary line per run and "sent=N" at the
# end.  Expected values come from what was sent and the given targets,
# never from the module.  --reference none: no IPSECMSS rule and no
# module counters (a dry run of the generator on any kernel).
#
# flood: valid SYNs (MSS 1460, both families) at about --pps per second
# until FILE exists; prints "flood sent=N" at the end.

import argparse
import ctypes
import os
import random
import re
import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
CLONE_NEWNET = 0x40000000

TCP_SYN = 0x02

# the counters that partition the segments handed to the target
DISJOINT = ('rewritten', 'unchanged', 'inserted', 'no_mss', 'not_syn',
            'fragment', 'malformed')

# option list mutations, the ones that break the list rarer
MUTATIONS = ('nop', 'nop', 'nop', 'dupmss', 'dupmss', 'twomss', 'twomss',
             'nomss', 'eol', 'eol', 'msslen', 'badlen', 'cutoff', 'unknown',
             'unknown', 'shuffle')

_libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    fd = os.open('/run/netns/' + name, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, 'setns(%s): %s' % (name, os.strerror(err)))
    finally:
        os.close(fd)


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(':'))


# --- checksums -------------------------------------------------------------

def sum16(data):
    if len(data) & 1:
        data += b'\0'
    return sum(struct.unpack('!%dH' % (len(data) // 2), data))


def fold(s):
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def pseudo(fam, src, dst, length):
    if fam == 4:
        return src + dst + struct.pack('!BBH', 0, 6, length)
    return src + dst + struct.pack('!I3xB', length, 6)


def tcp_residue(fam, src, dst, seg):
    """0 when the checksum of seg is right; preserved by any correct
    incremental update (RFC 1624), so a wrong one must stay as wrong."""
    return (sum16(pseudo(fam, src, dst, len(seg))) + sum16(seg)) % 0xffff


def tcp_fill_csum(fam, src, dst, seg):
    if len(seg) < 18:
        return seg
    seg = seg[:16] + b'\0\0' + seg[18:]
    c = ~fold(sum16(pseudo(fam, src, dst, len(seg))) + sum16(seg)) & 0xffff
    return seg[:16] + struct.pack('!H', c) + seg[18:]


def ip4_csum(hdr):
    hdr = hdr[:10] + b'\0\0' + hdr[12:]
    return hdr[:10] + struct.pack('!H', ~fold(sum16(hdr)) & 0xffff) + hdr[12:]


# --- TCP option walk, the way a receiving stack reads the list ---------------

def walk(opts):
    """('ok'|'bad'|'msslen', [(offset, value) of every MSS option])

    bad: a length byte cut off, a length below 2 or past the end.
    msslen: well-formed, but an MSS option whose length is not 4 (a
    receiver ignores it; whether a middlebox drops it is its choice)."""
    i, n, found, status = 0, len(opts), [], 'ok'
    while i < n:
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= n:
            return 'bad', found
        olen = opts[i + 1]
        if olen < 2 or olen > n - i:
            return 'bad', found
        if kind == 2:
            if olen == 4:
                found.append((i, opts[i + 2] << 8 | opts[i + 3]))
            else:
                status = 'msslen'
        i += olen
    return status, found


def expected_fate(seg):
    """What the target must do with (the first piece of) a segment:
    'pass', 'drop' or None (either is acceptable)."""
    if len(seg) < 20:
        return None
    if not seg[13] & TCP_SYN:
        return 'pass'       # only SYNs are examined
    doff = (seg[12] >> 4) * 4
    if doff < 20 or doff > len(seg):
        return 'drop'       # the option list runs past the segment
    status, _ = walk(seg[20:doff])
    if status == 'bad':
        return 'drop'
    if status == 'msslen':
        return None
    return 'pass'


# --- the generator -----------------------------------------------------------

class Gen:
    def __init__(self, seed, target4, target6):
        self.r = random.Random(seed)
        self.target = {4: target4, 6: target6}

    def rbytes(self, n):
        return bytes(self.r.getrandbits(8) for _ in range(n))

    def mss_value(self, fam):
        r = self.r
        t = self.target[fam]
        x = r.random()
        if x < 0.35:
            return max(0, min(65535, t + r.choice((-2, -1, 0, 1, 2))))
        if x < 0.75:
            return r.choice((0, 1, 88, 535, 536, 537, 1219, 1220, 1221,
                             1340, 1360, 1366, 1380, 1406, 1440, 1460,
                             1500, 8960, 9000, 65475, 65495, 65535))
        return r.randrange(65536)

    def opt_mss(self, fam):
        v = self.mss_value(fam)
        return bytes((2, 4, v >> 8, v & 0xff))

    def opt_unknown(self):
        r = self.r
        kind = r.choice((5, 9, 14, 15, 19, 27, 28, 29, 30, 34, 69, 172, 253,
                         254, r.randrange(9, 256)))
        olen = r.randrange(2, 12)
        return bytes((kind, olen)) + self.rbytes(olen - 2)

    def opt_item(self, fam):
        r = self.r
        c = r.randrange(8)
        if c == 0:
            return self.opt_mss(fam)
        if c == 1:
            return b'\x01'
        if c == 2:
            return bytes((3, 3, r.randrange(16)))
        if c == 3:
            return b'\x04\x02'
        if c == 4:
            return b'\x08\x0a' + self.rbytes(8)
        if c == 5:
            return b'\x00'
        return self.opt_unknown()

    def tcp_options(self, fam):
        r = self.r
        ts = b'\x08\x0a' + self.rbytes(8)
        ws = bytes((3, 3, r.randrange(15)))
        x = r.random()
        if x < 0.30:        # as Linux sends it
            items = [self.opt_mss(fam), b'\x04\x02', ts, b'\x01', ws]
        elif x < 0.42:      # as Windows sends it
            items = [self.opt_mss(fam), b'\x01', ws, b'\x01', b'\x01',
                     b'\x04\x02']
        elif x < 0.52:
            items = [self.opt_mss(fam)]
        elif x < 0.58:
            items = []
        else:
            items = [self.opt_item(fam) for _ in range(r.randrange(7))]
            if r.random() < 0.5:
                items.insert(r.randrange(len(items) + 1), self.opt_mss(fam))
        cutoff = False
        for _ in range(r.choice((0, 0, 1, 1, 2, 3))):
            m = r.choice(MUTATIONS)
            pos = r.randrange(len(items) + 1)
            if m == 'nop':      # what follows moves to an odd offset
                items[pos:pos] = [b'\x01' * r.randrange(1, 4)]
            elif m == 'dupmss':
                items.insert(pos, self.opt_mss(fam))
            elif m == 'twomss':
                items[pos:pos] = [b'\x01', self.opt_mss(fam), b'\x01\x01',
                                  self.opt_mss(fam)]
            elif m == 'nomss':
                items = [i for i in items if i[:1] != b'\x02']
            elif m == 'eol':    # end of list, and an MSS after it
                items[pos:pos] = [b'\x00', self.opt_mss(fam)]
            elif m == 'msslen':
                olen = r.choice((0, 1, 3, 5, 6, 255))
                items.insert(pos, bytes((2, olen)) + self.rbytes(
                    max(0, min(olen, 6) - 2)))
            elif m == 'badlen':
                items.insert(pos, bytes((r.choice((3, 8, 30, 77)),
                                         r.choice((0, 1, 41, 255)))))
            elif m == 'cutoff':
                cutoff = True
            elif m == 'unknown':
                items.insert(pos, self.opt_unknown())
            else:
                r.shuffle(items)
        raw = b''.join(items)[:40]
        if cutoff:          # a kind byte that needs a length, at the very end
            raw = raw[:39]
            raw += b'\x01' * ((3 - len(raw)) % 4)
            raw += bytes((r.choice((2, 3, 8, 30)),))
        while len(raw) % 4:
            raw += r.choice((b'\x00', b'\x01'))
        return raw

    def tcp_segment(self, fam, tag):
        r = self.r
        x = r.random()
        if x < 0.72:
            flags = TCP_SYN
        elif x < 0.85:
            flags = TCP_SYN | 0x10
        elif x < 0.90:
            flags = TCP_SYN | r.choice((0x01, 0x04, 0x08, 0x20, 0x40, 0x80,
                                        0xc0, 0x11))
        else:
            flags = r.randrange(256)
        opts = self.tcp_options(fam)
        doff = 5 + len(opts) // 4
        low = r.randrange(16) if r.random() < 0.05 else 0
        if r.random() < 0.07:
            doff = r.randrange(16)
        payload = b''
        if r.random() < 0.15:
            payload = self.rbytes(r.randrange(1, 300))
        seq = 0x5ec00000 | tag
        ack = r.getrandbits(32) if flags & 0x10 else 0
        hdr = struct.pack('!HHIIBBHHH', r.randrange(1024, 65536),
                          r.choice((80, 443, 22, r.randrange(1, 65536))),
                          seq, ack, doff << 4 | low, flags,
                          r.randrange(65536), 0,
                          r.randrange(65536) if flags & 0x20 else 0)
        seg = hdr + opts + payload
        if r.random() < 0.06:
            seg = seg[:r.randrange(len(seg))]
        return seg

    # -- IPv4 --

    def ip4_options(self, bad):
        r = self.r
        items = []
        for _ in range(r.randrange(1, 4)):
            c = r.randrange(5)
            if c == 0:
                items.append(b'\x01')
            elif c == 1:    # record route, room for 1 or 2 addresses
                n = r.choice((1, 2))
                items.append(bytes((7, 3 + 4 * n, 4)) + b'\0' * (4 * n))
            elif c == 2:    # router alert
                items.append(b'\x94\x04\x00\x00')
            else:           # unknown, not copied / copied
                olen = r.randrange(2, 9)
                items.append(bytes((r.choice((0x1e, 0x9e, 0x5f)), olen)) +
                             self.rbytes(olen - 2))
        if bad:             # a length below 2 or past the header's end
            items.append(bytes((0x9e, r.choice((0, 1, 60)))))
        raw, rr = b'', False
        for i in items:     # one record route at most
            if i[0] == 7:
                if rr:
                    continue
                rr = True
            raw += i
        raw = raw[:40]
        while len(raw) % 4:
            raw += b'\x00'
        return raw

    def ip4(self, rec, seg, src, dst):
        r = self.r
        tag = rec['tag']
        bad = None
        if r.random() < 0.06:
            bad = r.choice(('ipcsum', 'ttl', 'totlong', 'ihl', 'totshort',
                            'badopt', 'version'))
        opts = b''
        if r.random() < 0.18 or bad == 'badopt':
            opts = self.ip4_options(bad == 'badopt')
        ttl = r.choice((0, 1)) if bad == 'ttl' else r.randrange(2, 256)
        df = 0x4000 if r.random() < 0.5 else 0
        tos = r.randrange(256) if r.random() < 0.2 else 0

        def header(payload_len, frag, options):
            ihl = 5 + len(options) // 4
            h = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, tos,
                            20 + len(options) + payload_len, tag & 0xffff,
                            frag, ttl, 6, 0, src, dst) + options
            return ip4_csum(h)

        frames = []
        nfrag = len(seg) >= 16 and bad is None and r.random() < 0.09
        if nfrag:
            cuts = sorted(set(8 * r.randrange(1, (len(seg) + 7) // 8)
                              for _ in range(r.choice((1, 1, 2)))))
            bounds = [0] + [c for c in cuts if c < len(seg)] + [len(seg)]
            pieces = []
            for a, b in zip(bounds, bounds[1:]):
                mf = 0x2000 if b < len(seg) else 0
                h = header(b - a, mf | (a // 8), opts if a == 0 else b'')
                pieces.append((a, seg[a:b], bool(mf), h + seg[a:b]))
            rec['frags'] = [(a, d, mf) for a, d, mf, _ in pieces]
            order = list(range(len(pieces)))
            x = r.random()
            if x < 0.3:
                order.reverse()
            elif x < 0.45:
                r.shuffle(order)
            if r.random() < 0.15:
                order.remove(r.choice(order))   # one never sent
                rec['incomplete'] = True
            frames = [pieces[i][3] for i in order]
        else:
            pkt = header(len(seg), df, opts) + seg
            if bad == 'ipcsum':
                pkt = pkt[:10] + bytes((pkt[10] ^ 0x5a,)) + pkt[11:]
            elif bad == 'totlong':
                pkt = pkt[:2] + struct.pack('!H', len(pkt) + r.randrange(
                    1, 200)) + pkt[4:]
                pkt = ip4_csum(pkt[:20 + len(opts)]) + pkt[20 + len(opts):]
            elif bad == 'totshort':
                pkt = pkt[:2] + struct.pack('!H', r.randrange(
                    20 + len(opts))) + pkt[4:]
                pkt = ip4_csum(pkt[:20 + len(opts)]) + pkt[20 + len(opts):]
            elif bad == 'ihl':
                pkt = bytes((0x40 | r.randrange(5),)) + pkt[1:]
            elif bad == 'version':
                pkt = bytes((r.choice((0x50, 0x60, 0x00)) |
                             (pkt[0] & 0x0f),)) + pkt[1:]
                pkt = ip4_csum(pkt[:20 + len(opts)]) + pkt[20 + len(opts):]
            if r.random() < 0.05:
                pkt += self.rbytes(r.randrange(1, 24))  # trailing bytes
            frames = [pkt]
        rec['ip_invalid'] = bad
        return frames

    # -- IPv6 --

    def tlv_area(self, bad, hbh):
        """Options of a hop-by-hop or destination options header, padded
        so that 2 + len is a multiple of 8."""
        r = self.r
        opts = b''
        for _ in range(r.randrange(0, 3)):
            c = r.randrange(3)
            if c == 0 and hbh:
                opts += b'\x05\x02' + self.rbytes(2)    # router alert
            else:           # unknown, "skip over this option"
                olen = r.randrange(0, 7)
                opts += bytes((r.choice((0x1e, 0x3e, 0x23)), olen)) + \
                    self.rbytes(olen)
        if bad:
            c = r.randrange(4)
            if c == 0:      # unknown, "discard" (and maybe ICMP)
                opts += bytes((r.choice((0x5e, 0x9e, 0xde)), 2)) + b'\0\0'
            elif c == 1:    # PadN with a non-zero byte
                opts += b'\x01\x03\x00\x07\x00'
            elif c == 2:    # more than 7 bytes of padding in a row
                opts += b'\x00' * 8
            else:           # an option longer than the header
                opts += b'\x1e\x30'
        fill = (6 - len(opts)) % 8
        if fill == 1:
            opts += b'\x00'
        elif fill > 1:
            opts += bytes((1, fill - 2)) + b'\0' * (fill - 2)
        return opts

    def ext_hdr(self, kind, nxt, bad=False):
        r = self.r
        if kind in (0, 60):
            body = self.tlv_area(bad, kind == 0)
            return bytes((nxt, (2 + len(body)) // 8 - 1)) + body
        if kind == 43:      # routing header, nothing left to visit
            n = r.randrange(3)
            return bytes((nxt, n, r.choice((0, 2, 3, 4, 253)), 0)) + \
                self.rbytes(4 + 8 * n)
        raise ValueError(kind)

    def ip6(self, rec, seg, src, dst):
        r = self.r
        tag = rec['tag']
        bad = None
        if r.random() < 0.06:
            bad = r.choice(('hlim', 'plenlong', 'hbhbad', 'version'))
        hlim = r.choice((0, 1)) if bad == 'hlim' else r.randrange(2, 256)
        tc = r.randrange(256) if r.random() < 0.2 else 0
        # the chain: [HBH] [DST] [RT] [FRAG] TCP, each one by chance
        kinds = []
        if r.random() < 0.25 or bad == 'hbhbad':
            kinds = [k for k, p in ((0, 0.5), (60, 0.5), (43, 0.4))
                     if r.random() < p or (k == 0 and bad == 'hbhbad')]
        frag = None
        if bad is None and len(seg) >= 16 and r.random() < 0.09:
            frag = 'split'
        elif r.random() < 0.04:
            frag = 'atomic'
        # built back to front so each header knows the next one
        nxt = 6
        if frag:
            nxt = 44
        chain = b''
        for k in reversed(kinds):
            chain = self.ext_hdr(k, nxt, bad == 'hbhbad' and k == 0) + chain
            nxt = k
        first = nxt

        def packet(body):
            return struct.pack('!IHBB16s16s', 6 << 28 | tc << 20 | tag,
                               len(body), first, hlim, src, dst) + body

        frames = []
        if frag == 'split':
            cuts = sorted(set(8 * r.randrange(1, (len(seg) + 7) // 8)
                              for _ in range(r.choice((1, 1, 2)))))
            bounds = [0] + [c for c in cuts if c < len(seg)] + [len(seg)]
            pieces = []
            for a, b in zip(bounds, bounds[1:]):
                mf = b < len(seg)
                fh = struct.pack('!BBHI', 6, 0, a | int(mf), tag)
                pieces.append((a, seg[a:b], mf, packet(chain + fh + seg[a:b])))
            rec['frags'] = [(a, d, mf) for a, d, mf, _ in pieces]
            order = list(range(len(pieces)))
            x = r.random()
            if x < 0.3:
                order.reverse()
            elif x < 0.45:
                r.shuffle(order)
            if r.random() < 0.15:
                order.remove(r.choice(order))
                rec['incomplete'] = True
            frames = [pieces[i][3] for i in order]
        else:
            if frag == 'atomic':
                chain += struct.pack('!BBHI', 6, 0, 0, tag)
            pkt = packet(chain + seg)
            if bad == 'plenlong':
                pkt = pkt[:4] + struct.pack('!H', len(pkt) - 40 + r.randrange(
                    1, 200)) + pkt[6:]
            elif bad == 'version':
                pkt = bytes((r.choice((0x40, 0x00, 0x70)) |
                             (pkt[0] & 0x0f),)) + pkt[1:]
            if r.random() < 0.05:
                pkt += self.rbytes(r.randrange(1, 24))
            frames = [pkt]
        rec['ip_invalid'] = bad
        return frames

    def record(self, tag, fam, addrs):
        src, dst = addrs[fam]
        seg = self.tcp_segment(fam, tag)
        # a bad checksum now and then (computed over what is sent)
        seg = tcp_fill_csum(fam, src, dst, seg)
        if len(seg) >= 18 and self.r.random() < 0.10:
            seg = seg[:16] + bytes((seg[16] ^ 0x10, seg[17] ^ 0x01)) + seg[18:]
        rec = {'tag': tag, 'fam': fam, 'src': src, 'dst': dst, 'seg': seg,
               'frags': None, 'incomplete': False}
        rec['frames'] = (self.ip4 if fam == 4 else self.ip6)(rec, seg, src,
                                                             dst)
        return rec


# --- what came out -------------------------------------------------------------

def parse_frame(fr):
    """(fam, src, dst, tag, frag_offset or None, mf, tcp_bytes, ip_problem)
    of an IPv4/IPv6 frame, None if it is neither."""
    if len(fr) < 14:
        return None
    etype = struct.unpack('!H', fr[12:14])[0]
    ip = fr[14:]
    if etype == ETH_P_IP and len(ip) >= 20 and ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack('!H', ip[2:4])[0]
        problem = None
        if tot > len(ip) or tot < ihl:
            problem = 'IPv4 total length %d for %d bytes' % (tot, len(ip))
        elif fold(sum16(ip[:ihl])) != 0xffff:
            problem = 'IPv4 header checksum wrong'
        ip = ip[:tot]
        if ip[9] != 6:
            return None
        fo = struct.unpack('!H', ip[6:8])[0]
        off = (fo & 0x1fff) * 8
        mf = bool(fo & 0x2000)
        frag = off if (off or mf) else None
        return (4, ip[12:16], ip[16:20], struct.unpack('!H', ip[4:6])[0],
                frag, mf, ip[ihl:], problem)
    if etype == ETH_P_IPV6 and len(ip) >= 40 and ip[0] >> 4 == 6:
        plen = struct.unpack('!H', ip[4:6])[0]
        problem = None
        if plen + 40 > len(ip):
            problem = 'IPv6 payload length %d for %d bytes' % (plen,
                                                                len(ip) - 40)
        ip = ip[:40 + plen]
        tag = struct.unpack('!I', ip[0:4])[0] & 0xfffff
        nxt, i, frag, mf = ip[6], 40, None, False
        while nxt in (0, 43, 44, 60):
            if i + 8 > len(ip):
                return None
            if nxt == 44:
                fo = struct.unpack('!H', ip[i + 2:i + 4])[0]
                if (fo & 0xfff8) or (fo & 1):
                    frag = fo & 0xfff8
                    mf = bool(fo & 1)
                nxt, i = ip[i], i + 8
                if frag:    # a later fragment: what follows is payload
                    break
            else:
                nxt, i = ip[i], i + (ip[i + 1] + 1) * 8
        if nxt != 6 or i > len(ip):
            return None
        return (6, ip[8:24], ip[24:40], tag, frag, mf, ip[i:], problem)
    return None


class Checker:
    def __init__(self, label):
        self.label = label
        self.fails = {}

    def bad(self, check, why):
        self.fails.setdefault(check, []).append(why)

    def ok(self, check):
        self.fails.setdefault(check, [])

    def report(self):
        for check, whys in self.fails.items():
            name = 'net/hostile/%s/%s' % (self.label, check)
            if whys:
                extra = '' if len(whys) == 1 else ' (%d cases; first: ...)' \
                    % len(whys)
                print('FAIL: %s: %s%s' % (name, whys[0], extra))
                for w in whys[1:6]:
                    print('    also: %s' % w)
            else:
                print('PASS: %s' % name)


def hexs(b):
    return b.hex()


def compare(chk, rec, sent, got, target, dflt, may_insert):
    """Check one delivered piece against the piece that was sent; returns
    the counter it must have been counted under."""
    tag = rec['tag']
    ident = 'v%d tag %d' % (rec['fam'], tag)
    if len(sent) < 20 or not sent[13] & TCP_SYN or \
            not 20 <= (sent[12] >> 4) * 4 <= len(sent):
        if got != sent:
            chk.bad('integrity', '%s: not a complete SYN header, yet changed: '
                    'sent %s got %s' % (ident, hexs(sent[:64]), hexs(got[:64])))
        if len(sent) >= 20 and not sent[13] & TCP_SYN:
            return 'not_syn'
        return 'malformed-delivered'
    doff = (sent[12] >> 4) * 4
    status, mss = walk(sent[20:doff])
    if len(got) == len(sent):
        allowed = {16, 17}
        changed = False
        for off, v in mss:
            p = 20 + off + 2
            allowed |= {p, p + 1}
            nv = got[p] << 8 | got[p + 1]
            want = v if v <= target else target
            if nv != want:
                chk.bad('integrity', '%s: MSS %d at byte %d became %d, want %d'
                        % (ident, v, p - 2, nv, want))
            if nv != v:
                changed = True
        diff = [i for i in range(len(sent)) if sent[i] != got[i]
                and i not in allowed]
        if diff:
            chk.bad('integrity', '%s: bytes %s changed: sent %s got %s' % (
                ident, diff[:8], hexs(sent[:64]), hexs(got[:64])))
        if status == 'bad':
            return 'malformed-delivered'
        return 'rewritten' if changed else ('unchanged' if mss else 'no_mss')
    if len(got) == len(sent) + 4 and status == 'ok' and not mss:
        if not may_insert:
            chk.bad('integrity', '%s: an MSS option was inserted into a '
                    'fragment: sent %s got %s' % (ident, hexs(sent[:64]),
                                                  hexs(got[:64])))
        gdoff = (got[12] >> 4) * 4
        hdr_same = all(sent[i] == got[i] for i in range(20)
                       if i not in (12, 16, 17)) and \
            sent[12] & 15 == got[12] & 15
        gstatus, gmss = walk(got[20:gdoff]) if gdoff <= len(got) else \
            ('bad', [])
        found = None
        for off, v in gmss:
            p = 20 + off
            if got[20:p] + got[p + 4:] == sent[20:]:
                found = v
        if gdoff != doff + 4 or not hdr_same or found is None or \
                gstatus == 'bad':
            chk.bad('integrity', '%s: 4 bytes more, but not one MSS option '
                    'inserted into a readable list: sent %s got %s' % (
                        ident, hexs(sent[:64]), hexs(got[:64])))
        elif found > min(target, dflt):
            chk.bad('mss-bound', '%s: inserted MSS %d, above min(target %d, '
                    'default %d): it raises what the peer would assume' % (
                        ident, found, target, dflt))
        return 'inserted'
    chk.bad('integrity', '%s: length changed from %d to %d: sent %s got %s' % (
        ident, len(sent), len(got), hexs(sent[:64]), hexs(got[:64])))
    return 'malformed-delivered'


def check_mss_bound(chk, rec, got, target):
    if len(got) < 20 or not got[13] & TCP_SYN:
        return
    doff = (got[12] >> 4) * 4
    if not 20 <= doff <= len(got):
        return
    _, mss = walk(got[20:doff])
    for _, v in mss:
        if v > target:
            chk.bad('mss-bound', 'v%d tag %d: delivered SYN with MSS %d > '
                    'target %d: %s' % (rec['fam'], rec['tag'], v, target,
                                       hexs(got[:64])))


def analyse(args, recs, captured, chk):
    target = {4: args.target4, 6: args.target6}
    dflt = {4: 536, 6: 1220}
    by_key = {(r['fam'], r['tag']): r for r in recs}
    deliv = {}
    stray = 0
    for fr in captured:
        p = parse_frame(fr)
        if p is None:
            continue
        fam, src, dst, tag, frag, mf, tcp, problem = p
        rec = by_key.get((fam, tag))
        if rec is None or rec['src'] != src or rec['dst'] != dst:
            if src in (args.src4b, args.src6b):
                stray += 1
                chk.bad('integrity', 'v%d: a packet from the client with '
                        'unknown tag %d' % (fam, tag))
            continue
        if problem:
            chk.bad('integrity', 'v%d tag %d: %s' % (fam, tag, problem))
        deliv.setdefault((fam, tag), []).append((frag, mf, tcp))

    kinds = {}
    n_deliv = 0
    n_csum_bad_sent = n_csum_checked = 0
    for rec in recs:
        key = (rec['fam'], rec['tag'])
        got = deliv.get(key, [])
        fam = rec['fam']
        n_deliv += len(got)
        if rec['ip_invalid'] and got:
            chk.bad('prehook-model', 'v%d tag %d: sent with %s, yet delivered'
                    % (fam, rec['tag'], rec['ip_invalid']))
        if rec['frags'] is None:
            sent = rec['seg']
            first = sent
            if len(got) > 1:
                chk.bad('integrity', 'v%d tag %d: delivered %d times' % (
                    fam, rec['tag'], len(got)))
            if got and got[0][0] is not None:
                chk.bad('integrity', 'v%d tag %d: delivered as a fragment' %
                        (fam, rec['tag']))
            pieces = [(0, sent, g[2]) for g in got[:1]]
            whole_sent = sent
            whole_got = got[0][2] if len(got) == 1 else None
        else:
            sent_by_off = {a: d for a, d, _ in rec['frags']}
            first = sent_by_off[0]
            pieces = []
            seen = {}
            for frag, mf, tcp in got:
                off = frag or 0
                if off not in sent_by_off or off in seen:
                    chk.bad('integrity', 'v%d tag %d: fragment at %d not sent '
                            'or twice' % (fam, rec['tag'], off))
                    continue
                seen[off] = tcp
                pieces.append((off, sent_by_off[off], tcp))
            whole_sent = rec['seg']
            whole_got = None
            if not rec['incomplete'] and len(seen) == len(sent_by_off):
                whole_got = b''.join(seen[a] for a in sorted(seen))
        # what had to happen to the first piece
        if not rec['ip_invalid'] and (rec['frags'] is None or
                                      first_was_sent(rec)):
            fate = expected_fate(first)
            delivered_first = any(off == 0 for off, _, _ in pieces)
            if fate == 'pass' and not delivered_first:
                what = 'SYN' if first[13] & TCP_SYN else 'non-SYN segment'
                chk.bad('valid-delivered', 'v%d tag %d: well-formed %s '
                        'dropped: %s' % (fam, rec['tag'], what,
                                         hexs(first[:64])))
            if fate == 'drop' and delivered_first:
                chk.bad('malformed-dropped', 'v%d tag %d: SYN with a '
                        'malformed header or option list delivered: %s' % (
                            fam, rec['tag'], hexs(first[:64])))
        for off, s, g in pieces:
            if off:
                if s != g:
                    chk.bad('integrity', 'v%d tag %d: fragment at %d changed'
                            % (fam, rec['tag'], off))
                kind = 'fragment'
            else:
                kind = compare(chk, rec, s, g, target[fam], dflt[fam],
                               rec['frags'] is None)
                check_mss_bound(chk, rec, g, target[fam])
            kinds[kind] = kinds.get(kind, 0) + 1
        if whole_got is not None:
            rs = tcp_residue(fam, rec['src'], rec['dst'], whole_sent)
            rg = tcp_residue(fam, rec['src'], rec['dst'], whole_got)
            n_csum_checked += 1
            if rs:
                n_csum_bad_sent += 1
            if rs != rg:
                chk.bad('checksums', 'v%d tag %d: TCP checksum %s on the way '
                        '(sent %s, residue %d -> %d): sent %s got %s' % (
                            fam, rec['tag'], 'broken' if not rs else
                            'changed differently', 'valid' if not rs else
                            'invalid', rs, rg, hexs(whole_sent[:64]),
                            hexs(whole_got[:64])))
    for c in ('integrity', 'checksums', 'mss-bound', 'valid-delivered',
              'malformed-dropped', 'prehook-model'):
        chk.ok(c)
    return kinds, n_deliv, n_csum_checked, n_csum_bad_sent, stray


def first_was_sent(rec):
    """Whether the fragment at offset 0 was among the frames sent."""
    for fr in rec['frames']:
        if rec['fam'] == 4:
            if struct.unpack('!H', fr[6:8])[0] & 0x1fff == 0:
                return True
        else:
            p = parse_frame(b'\0' * 12 + struct.pack('!H', ETH_P_IPV6) + fr)
            if p and not p[4]:
                return True
    return False


# --- counters ----------------------------------------------------------------

def module_counters():
    """/proc/net/stat/ipsecmss of the namespace this process is in."""
    with open('/proc/net/stat/ipsecmss') as f:
        return {k: int(v) for k, v in (line.split() for line in f
                                       if line.strip())}


def rule_counters(save_cmd, iface):
    """Packets of the FORWARD rules "-i IF" (all), "-i IF -p tcp" (tcp) and
    "-j IPSECMSS" (target), from iptables-save -c in this namespace."""
    out = subprocess.run([save_cmd, '-c', '-t', 'mangle'],
                         capture_output=True, text=True, check=True).stdout
    res = {'all': 0, 'tcp': 0, 'target': 0}
    for line in out.splitlines():
        m = re.match(r'^\[(\d+):(\d+)\] -A FORWARD (.*)$', line)
        if not m or ('-i %s' % iface) not in m.group(3):
            continue
        rule = m.group(3)
        if '-j IPSECMSS' in rule:
            res['target'] += int(m.group(1))
        elif '-p tcp' in rule:
            res['tcp'] += int(m.group(1))
        else:
            res['all'] += int(m.group(1))
    return res


def restore(fw, fam, iface, target_opts):
    """Replace the mangle table of this namespace: the three rules of a run
    (target_opts None: no rule at all)."""
    cmd = '%s-%s-restore' % ('iptables' if fam == 4 else 'ip6tables', fw)
    text = '*mangle\n' + ''.join(':%s ACCEPT [0:0]\n' % c for c in (
        'PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'))
    if target_opts is not None:
        text += '-A FORWARD -i %s\n' % iface
        text += '-A FORWARD -i %s -p tcp\n' % iface
        if target_opts:
            text += '-A FORWARD -i %s -p tcp -j IPSECMSS %s\n' % (
                iface, target_opts)
    text += 'COMMIT\n'
    res = subprocess.run([cmd], input=text, capture_output=True, text=True)
    if res.returncode:
        return '%s: %s' % (cmd, (res.stderr or res.stdout).strip()
                           .replace('\n', ' '))
    return None


# --- sockets -------------------------------------------------------------------

def open_capture(ns, ifname):
    enter_netns(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


def open_sender(ns, ifname):
    enter_netns(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((ifname, 0))
    return s


def drain(cap, into):
    while True:
        try:
            data, addr = cap.recvfrom(65535)
        except BlockingIOError:
            return
        if addr[2] != PACKET_OUTGOING:
            into.append(data)


def capture_drops(cap):
    """Frames the capture socket lost since the last call."""
    raw = cap.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
    return struct.unpack('II', raw)[1]


# --- commands --------------------------------------------------------------------

def one_run(args, run, seed, cap, snd):
    """Send one run's segments through the gateway, check what came out.
    Returns the number of segments sent."""
    label, fw, mode, t4, t6 = run[:5]
    opts = ' '.join(run[5:])
    args.label, args.mode = label, mode
    args.target4, args.target6 = int(t4), int(t6)
    chk = Checker(label)
    use_module = args.reference != 'none'
    enter_netns(args.gw)
    for fam in (4, 6):
        err = restore(fw, fam, args.gw_if,
                      opts if use_module else '')
        if err:
            chk.bad('rules', err)
            chk.report()
            return 0
    addrs = {4: (socket.inet_pton(socket.AF_INET, args.src4),
                 socket.inet_pton(socket.AF_INET, args.dst4)),
             6: (socket.inet_pton(socket.AF_INET6, args.src6),
                 socket.inet_pton(socket.AF_INET6, args.dst6))}
    args.src4b, args.src6b = addrs[4][0], addrs[6][0]
    gen = Gen(seed, args.target4, args.target6)
    recs = []
    for tag in range(1, args.count + 1):
        recs.append(gen.record(tag, 4 if gen.r.random() < 0.5 else 6, addrs))
    eth = {4: mac_bytes(args.gw_mac) + mac_bytes(args.client_mac) +
           struct.pack('!H', ETH_P_IP),
           6: mac_bytes(args.gw_mac) + mac_bytes(args.client_mac) +
           struct.pack('!H', ETH_P_IPV6)}
    order = []
    for rec in recs:
        for f in rec['frames']:
            order.append(eth[rec['fam']] + f)

    before = module_counters() if use_module else {}
    captured = []
    drain(cap, captured)
    captured = []
    capture_drops(cap)
    t0 = time.monotonic()
    for i, fr in enumerate(order):
        snd.send(fr)
        if i % 16 == 15:
            drain(cap, captured)
    # forwarding runs in the sender's softirq; wait until nothing moves
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 0.7 and \
            time.monotonic() - t0 < 120:
        n = len(captured)
        select.select([cap], [], [], 0.1)
        drain(cap, captured)
        if len(captured) != n:
            idle_since = time.monotonic()
    send_secs = time.monotonic() - t0
    after = module_counters() if use_module else {}
    rules = {'all': 0, 'tcp': 0, 'target': 0}
    for fam in (4, 6):
        c = rule_counters('%s-%s-save' % ('iptables' if fam == 4 else
                                          'ip6tables', fw), args.gw_if)
        for k in rules:
            rules[k] += c[k]
    cap_drops = capture_drops(cap)

    if cap_drops:
        chk.bad('capture-complete', 'the capture socket lost %d frames: the '
                'checks below are unreliable' % cap_drops)
    else:
        chk.ok('capture-complete')

    if not use_module:
        args.target4 = args.target6 = 65535
    kinds, n_deliv, n_csum, n_csum_bad, _ = analyse(args, recs, captured, chk)

    reaching = sum(len(r['frames']) for r in recs if not r['ip_invalid'])
    n_invalid = sum(1 for r in recs if r['ip_invalid'])
    if rules['all'] != reaching:
        chk.bad('prehook-model', '%d frames reached the gateway\'s FORWARD '
                'hook, %d expected (%d segments sent IP-invalid)' % (
                    rules['all'], reaching, n_invalid))
    if rules['tcp'] != rules['all'] or (use_module and
                                        rules['target'] != rules['tcp']):
        chk.bad('prehook-model', 'rule counters: %d at "-i", %d at "-p tcp", '
                '%d at IPSECMSS; all sent frames are TCP' % (
                    rules['all'], rules['tcp'], rules['target']))

    d = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    summary = ('sent=%d frames=%d ip_invalid=%d at_target=%d delivered=%d '
               'dropped=%d csum_checked=%d csum_bad_sent=%d secs=%.1f' % (
                   len(recs), len(order), n_invalid, rules['tcp'], n_deliv,
                   d.get('dropped', 0), n_csum, n_csum_bad, send_secs))
    if use_module:
        s = sum(d.get(k, 0) for k in DISJOINT)
        if s != rules['tcp']:
            chk.bad('counters-sum', 'the disjoint counters (%s) add up to %d, '
                    'the rule saw %d segments' % (
                        ' '.join('%s=%d' % (k, d.get(k, 0)) for k in DISJOINT),
                        s, rules['tcp']))
        else:
            chk.ok('counters-sum')
        if n_deliv != rules['tcp'] - d.get('dropped', 0):
            chk.bad('delivered-eq-passed', '%d frames delivered, but the rule '
                    'saw %d and the module counted %d dropped' % (
                        n_deliv, rules['tcp'], d.get('dropped', 0)))
        else:
            chk.ok('delivered-eq-passed')
        want = {k: kinds.get(k, 0) for k in DISJOINT}
        want['malformed'] = rules['tcp'] - n_deliv
        want['dropped'] = want['malformed']
        diffs = ['%s=%d (want %d)' % (k, d.get(k, 0), v)
                 for k, v in sorted(want.items()) if d.get(k, 0) != v]
        if kinds.get('malformed-delivered'):
            diffs.append('%d delivered segments fit no counter' %
                         kinds['malformed-delivered'])
        if diffs:
            chk.bad('counters-by-kind', 'counters moved differently from what '
                    'arrived: ' + ', '.join(diffs))
        else:
            chk.ok('counters-by-kind')
        auto = {k: d.get(k, 0) for k in ('auto_ipsec', 'auto_route',
                                          'auto_failed', 'fallback')}
        if mode == 'auto':
            good = auto['auto_route'] > 0 and auto['auto_ipsec'] == 0 and \
                auto['auto_failed'] == 0 and auto['fallback'] == 0
        else:
            good = not any(auto.values())
        if good:
            chk.ok('auto-counters')
        else:
            chk.bad('auto-counters', 'mode %s, no IPsec on the path: %s' % (
                mode, ' '.join('%s=%d' % kv for kv in auto.items())))
    chk.report()
    print('hostile %s: %s kinds=%s' % (label, summary, ','.join(
        '%s:%d' % kv for kv in sorted(kinds.items()))))
    sys.stdout.flush()
    return len(recs)


def cmd_suite(args):
    cap = open_capture(args.server, args.server_if)
    snd = open_sender(args.client, args.client_if)
    runs = [r.split() for r in args.run]
    total = 0
    prev_fw = None
    for i, run in enumerate(runs):
        fw = run[1]
        if prev_fw and fw != prev_fw:
            enter_netns(args.gw)        # the other frontend's rules go
            for fam in (4, 6):
                restore(prev_fw, fam, args.gw_if, None)
        prev_fw = fw
        t0 = time.monotonic()
        n = one_run(args, run, args.seed + i, cap, snd)
        total += n
        print('hostile %s: %d segments in %.0fs' % (run[0], n,
                                                    time.monotonic() - t0))
    if prev_fw:
        enter_netns(args.gw)
        for fam in (4, 6):
            restore(prev_fw, fam, args.gw_if, None)
    print('sent=%d' % total)
    return 0


def cmd_flood(args):
    r = random.Random(args.seed)
    src4, dst4 = (socket.inet_pton(socket.AF_INET, a) for a in (args.src4,
                                                                args.dst4))
    src6, dst6 = (socket.inet_pton(socket.AF_INET6, a) for a in (args.src6,
                                                                 args.dst6))
    l2 = mac_bytes(args.dst_mac) + mac_bytes(args.src_mac)
    snd = open_sender(args.netns, args.ifname)
    # MSS 1460, SACK permitted, NOP, window scale 7, NOP, NOP: 12 bytes
    opts = bytes((2, 4, 1460 >> 8, 1460 & 0xff)) + \
        b'\x04\x02\x01\x03\x03\x07\x01\x01'
    sent = 0
    batch = max(1, args.pps // 20)
    while not os.path.exists(args.stop):
        t = time.monotonic()
        for _ in range(batch):
            fam = 4 if sent & 1 else 6
            seg = struct.pack('!HHIIBBHHH', r.randrange(1024, 65536), 80,
                              r.getrandbits(32), 0, 8 << 4, TCP_SYN, 64240,
                              0, 0) + opts
            if fam == 4:
                seg = tcp_fill_csum(4, src4, dst4, seg)
                ip = ip4_csum(struct.pack('!BBHHHBBH4s4s', 0x45, 0,
                                          20 + len(seg), sent & 0xffff,
                                          0x4000, 64, 6, 0, src4, dst4))
                fr = l2 + struct.pack('!H', ETH_P_IP) + ip + seg
            else:
                seg = tcp_fill_csum(6, src6, dst6, seg)
                ip = struct.pack('!IHBB16s16s', 6 << 28, len(seg), 6, 64,
                                 src6, dst6)
                fr = l2 + struct.pack('!H', ETH_P_IPV6) + ip + seg
            try:
                snd.send(fr)
                sent += 1
            except OSError:
                pass        # the link may go away at the very end
        left = 0.05 - (time.monotonic() - t)
        if left > 0:
            time.sleep(left)
    print('flood sent=%d' % sent)
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest='cmd', required=True)
    a = sub.add_parser('suite')
    a.add_argument('--seed', type=int, required=True)
    a.add_argument('--count', type=int, required=True)
    a.add_argument('--run', action='append', required=True,
                   help='LABEL FW MODE TARGET4 TARGET6 IPSECMSS-OPTIONS...')
    for o in ('client', 'gw', 'server', 'client-if', 'server-if', 'gw-if',
              'client-mac', 'gw-mac', 'src4', 'dst4', 'src6', 'dst6'):
        a.add_argument('--' + o, required=True)
    a.add_argument('--reference', default='module')
    f = sub.add_parser('flood')
    for o in ('netns', 'ifname', 'src-mac', 'dst-mac', 'src4', 'dst4', 'src6',
              'dst6', 'stop'):
        f.add_argument('--' + o, required=True)
    f.add_argument('--pps', type=int, default=400)
    f.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    if args.cmd == 'suite':
        return cmd_suite(args)
    return cmd_flood(args)


if __name__ == '__main__':
    sys.exit(main())
