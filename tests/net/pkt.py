#!/usr/bin/python3 -S
# SPDX-License-Identifier: GPL-2.0
#
# pkt.py: hand-built TCP segments through the gateway, and what arrived.
#
#   pkt.py serve --client NS --gw NS --server NS --client-if IF --server-if IF
#                --client-mac MAC --gw-mac MAC --c4 A --s4 A --p4 A
#                --c6 A --s6 A --p6 A
#
# One process per test script (python starts slowly under emulation): it
# reads one command per line on stdin and answers each with exactly one
# line of space-separated key=value words on stdout.  Sockets are opened
# inside the namespaces with setns(2), so no `ip netns exec` per packet.
#
# Commands
#   send  [fam=4|6] [flags=S] [opts=LIST] [doff=N] [payload=N|fakesyn]
#         [trunc=N] [ipopts=LIST] [ext=LIST] [frag=SPLIT] [only=1|2]
#         [dport=N]
#       Builds one segment from the phantom client address (--p4/--p6:
#       routed to the client's link, owned by nobody, so the client's stack
#       never answers), sends it as an Ethernet frame on the client's
#       interface, then a UDP sentinel, and captures at the server's
#       interface until the sentinel is in.
#       opts:   comma list of nop, eol, mss:V, ws:V, sackok, ts, raw:HEX
#       ipopts: (IPv4) comma list of nop, eol, raw:HEX
#       ext:    (IPv6) comma list of hbh, dst, rt, frag (atomic fragment)
#       frag:   split the TCP segment into two fragments at byte SPLIT
#               (a multiple of 8); only=1|2 sends just one of them
#       payload=fakesyn: 24 payload bytes that look like a TCP SYN header
#               with MSS 1460 (to show a non-first fragment is not parsed)
#   connect [fam=4|6] [cmss=N] [smss=N] [up=BYTES] [down=BYTES]
#       A real connection client -> server (sockets in the namespaces),
#       both directions of data; the client's SYN as captured at the
#       server, the server's SYN-ACK as captured at the client.
#   handshake [fam=4|6]
#       A crafted SYN without options from the phantom address to a
#       listening server socket, the crafted ACK to its SYN-ACK, and the
#       MSS the server's accepted socket ended up with.
#   counters                  the gateway's /proc/net/stat/ipsecmss
#   txcsum ns=client|server dev=IF on|off   (ETHTOOL_STXCSUM, no ethtool here)
#   quit
#
# Answer words (send): arrived= sent= same= sentinel= and, when something
# arrived: flags= doff= mss= opts= others= payload= pdata= csum= csumstate=
# ipcsum= iplen= iprest= rest= growth=, then delta= (the counters that
# moved, in file order, name:amount, or none) and d.NAME= for each counter.
#
# Checksums are verified here from the bytes captured, never trusted from
# the kernel.  A segment captured as CHECKSUM_PARTIAL (the stack left the
# sum to the "hardware") holds only the pseudo-header sum; it is valid when
# completing it as the hardware would gives a correct checksum.

import ctypes
import fcntl
import os
import random
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_CSUMNOTREADY = 1 << 3
CLONE_NEWNET = 0x40000000
SIOCETHTOOL = 0x8946
ETHTOOL_STXCSUM = 0x00000017

FLAG_BITS = {'F': 0x01, 'S': 0x02, 'R': 0x04, 'P': 0x08, 'A': 0x10,
             'U': 0x20, 'E': 0x40, 'C': 0x80}

libc = ctypes.CDLL(None, use_errno=True)
HOME_NS = os.open('/proc/self/ns/net', os.O_RDONLY)


class Netns:
    """Enter a named network namespace for the duration of a with block."""

    def __init__(self, name):
        self.fd = os.open('/run/netns/' + name, os.O_RDONLY)

    def __enter__(self):
        _setns(self.fd)
        return self

    def __exit__(self, *exc):
        _setns(HOME_NS)
        return False


def _setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, 'setns: ' + os.strerror(err))


# ---------------------------------------------------------------- checksums

def sum16(data):
    """Ones' complement sum of 16-bit words, folded to 16 bits."""
    if len(data) % 2:
        data = bytes(data) + b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo(fam, src, dst, length):
    if fam == 4:
        return src + dst + struct.pack('!BBH', 0, 6, length)
    return src + dst + struct.pack('!IxxxB', length, 6)


def tcp_checksum(fam, src, dst, seg):
    """The checksum field value for seg (whose own field must be zero)."""
    return ~sum16(pseudo(fam, src, dst, len(seg)) + seg) & 0xFFFF


def verify_tcp(fam, src, dst, seg, partial):
    """'ok' or 'bad' for the TCP checksum of seg as captured."""
    if len(seg) < 18:
        return 'short'
    seg = bytearray(seg)
    if partial:
        # The field holds the pseudo-header sum; the hardware would store
        # the complement of the sum of the segment including that field.
        seg[16:18] = struct.pack('!H', ~sum16(seg) & 0xFFFF)
    return 'ok' if sum16(pseudo(fam, src, dst, len(seg)) + seg) == 0xFFFF else 'bad'


# ---------------------------------------------------------------- building

def parse_list(spec, what):
    """TCP or IPv4 option list (comma words) to bytes."""
    out = b''
    if not spec:
        return out
    for item in spec.split(','):
        name, _, arg = item.partition(':')
        if name == 'nop':
            out += b'\x01'
        elif name == 'eol':
            out += b'\x00'
        elif name == 'raw':
            out += bytes.fromhex(arg)
        elif what == 'tcp' and name == 'mss':
            out += struct.pack('!BBH', 2, 4, int(arg))
        elif what == 'tcp' and name == 'ws':
            out += struct.pack('!BBB', 3, 3, int(arg))
        elif what == 'tcp' and name == 'sackok':
            out += b'\x04\x02'
        elif what == 'tcp' and name == 'ts':
            out += struct.pack('!BBII', 8, 10, 0x01020304, 0)
        else:
            raise ValueError('unknown %s option %r' % (what, item))
    return out


def build_tcp(sport, dport, seq, ack, flags, opts, payload, doff=None):
    if doff is None:
        if len(opts) % 4:
            raise ValueError('options not a multiple of 4 bytes; give doff=')
        doff = 5 + len(opts) // 4
    fl = 0
    for c in flags:
        fl |= FLAG_BITS[c]
    hdr = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, (doff & 0xF) << 4,
                      fl, 65535, 0, 0)
    return bytearray(hdr + opts + payload)


def ipv4_header(src, dst, proto, l4len, ident, frag_field, ipopts):
    ihl = 5 + len(ipopts) // 4
    hdr = bytearray(struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, ihl * 4 + l4len,
                                ident, frag_field, 64, proto, 0, src, dst) + ipopts)
    hdr[10:12] = struct.pack('!H', ~sum16(hdr) & 0xFFFF)
    return bytes(hdr)


def ipv6_ext(kind, nexthdr):
    """One 8-byte extension header; returns (its protocol number, bytes)."""
    padn = b'\x01\x04\x00\x00\x00\x00'
    if kind == 'hbh':
        return 0, bytes([nexthdr, 0]) + padn
    if kind == 'dst':
        return 60, bytes([nexthdr, 0]) + padn
    if kind == 'rt':
        # type 0, no addresses, segments left 0: the destination is final
        return 43, bytes([nexthdr, 0, 0, 0]) + b'\0' * 4
    raise ValueError('unknown extension header %r' % kind)


def fragment_header(nexthdr, offset, more, ident):
    return struct.pack('!BBHI', nexthdr, 0, offset | (1 if more else 0), ident)


def ipv6_packet(src, dst, chain, proto, l4):
    """chain: list of ext kinds (the last one first in the packet order)."""
    nh = proto
    exts = b''
    for kind in reversed(chain):
        nh, b = ipv6_ext(kind, nh)
        exts = b + exts
    plen = len(exts) + len(l4)
    return struct.pack('!IHBB16s16s', 0x60000000, plen, nh, 64, src, dst) + exts + l4


def udp_packet(fam, src, dst, sport, dport, data):
    seg = bytearray(struct.pack('!HHHH', sport, dport, 8 + len(data), 0) + data)
    if fam == 4:
        ph = src + dst + struct.pack('!BBH', 0, 17, len(seg))
    else:
        ph = src + dst + struct.pack('!IxxxB', len(seg), 17)
    c = ~sum16(ph + seg) & 0xFFFF
    seg[6:8] = struct.pack('!H', c or 0xFFFF)
    if fam == 4:
        return ipv4_header(src, dst, 17, len(seg), 0, 0x4000, b'') + bytes(seg)
    return struct.pack('!IHBB16s16s', 0x60000000, len(seg), 17, 64, src, dst) + bytes(seg)


# ---------------------------------------------------------------- parsing

def parse_ip(pkt):
    """Dict of what an IP packet holds, or None if it is not IPv4/IPv6."""
    if not pkt:
        return None
    ver = pkt[0] >> 4
    if ver == 4 and len(pkt) >= 20:
        ihl = (pkt[0] & 0xF) * 4
        tot, ident, ff = struct.unpack('!HHH', pkt[2:8])
        return {'fam': 4, 'src': pkt[12:16], 'dst': pkt[16:20], 'proto': pkt[9],
                'hlen': ihl, 'l4': pkt[ihl:tot], 'id': ident,
                'fragoff': (ff & 0x1FFF) * 8, 'more': bool(ff & 0x2000),
                'isfrag': bool(ff & 0x3FFF),
                'iplen': 'ok' if tot == len(pkt) else 'bad',
                'ipcsum': 'ok' if sum16(pkt[:ihl]) == 0xFFFF else 'bad'}
    if ver == 6 and len(pkt) >= 40:
        plen = struct.unpack('!H', pkt[4:6])[0]
        nh = pkt[6]
        off = 40
        info = {'fam': 6, 'src': pkt[8:24], 'dst': pkt[24:40], 'fragoff': 0,
                'more': False, 'isfrag': False, 'id': None,
                'iplen': 'ok' if plen + 40 == len(pkt) else 'bad', 'ipcsum': '-'}
        while nh in (0, 43, 44, 60) and off + 8 <= len(pkt):
            if nh == 44:
                fo, fid = struct.unpack('!HI', pkt[off + 2:off + 8])
                info.update(fragoff=fo & 0xFFF8, more=bool(fo & 1), id=fid,
                            isfrag=bool(fo & 0xFFF9))
                nh, off = pkt[off], off + 8
            else:
                nh, off = pkt[off], off + (pkt[off + 1] + 1) * 8
        info.update(proto=nh, hlen=off, l4=pkt[off:40 + plen])
        return info
    return None


def walk_options(opts):
    """RFC 9293 option walk: (status, [(offset, mss)], [other kinds])."""
    i, mss, others = 0, [], []
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts):
            return 'cut', mss, others
        ln = opts[i + 1]
        if ln < 2:
            return 'badlen', mss, others
        if i + ln > len(opts):
            return 'overrun', mss, others
        if k == 2:
            if ln != 4:
                return 'msslen', mss, others
            mss.append((i, struct.unpack('!H', opts[i + 2:i + 4])[0]))
        else:
            others.append(k)
        i += ln
    return 'ok', mss, others


def flag_letters(b):
    return ''.join(c for c in 'FSRPAUEC' if b & FLAG_BITS[c]) or '-'


def describe_tcp(fam, src, dst, seg, partial, sent_seg=None):
    """key=value words about one (reassembled) TCP segment."""
    w = {}
    if len(seg) < 20:
        w['tcp'] = 'short%d' % len(seg)
        return w
    doff = seg[12] >> 4
    w['flags'] = flag_letters(seg[13])
    w['doff'] = doff
    hl = doff * 4
    if doff < 5 or hl > len(seg):
        w['tcp'] = 'baddoff'
        return w
    status, mss, others = walk_options(bytes(seg[20:hl]))
    w['mss'] = ','.join(str(v) for _, v in mss) or 'none'
    w['opts'] = status
    w['others'] = ','.join(str(k) for k in others) or '-'
    w['payload'] = len(seg) - hl
    w['csum'] = verify_tcp(fam, src, dst, seg, partial)
    w['csumstate'] = 'partial' if partial else 'full'
    if sent_seg is not None and len(sent_seg) >= 20:
        shl = (sent_seg[12] >> 4) * 4
        w['pdata'] = 'ok' if bytes(seg[hl:]) == bytes(sent_seg[shl:]) else 'bad'
        if len(sent_seg) == len(seg):
            # Put back the MSS values the sender wrote and forget the
            # checksum: anything still different was changed by someone.
            a, b = bytearray(sent_seg), bytearray(seg)
            a[16:18] = b[16:18] = b'\0\0'
            _, smss, _ = walk_options(bytes(sent_seg[20:shl]))
            for off, _ in smss:
                p = 20 + off + 2
                b[p:p + 2] = a[p:p + 2]
            w['rest'] = 'same' if a == b else 'diff'
        else:
            w['rest'] = 'n/a'
    return w


def normalized(pkt):
    """The packet with what a router may change (TTL/hop limit, IPv4 header
    checksum) blanked, to compare sent with received."""
    b = bytearray(pkt)
    if b and b[0] >> 4 == 4:
        b[8] = 0
        b[10:12] = b'\0\0'
    elif b and b[0] >> 4 == 6:
        b[7] = 0
    return bytes(b)


def ip_header_rest(pkt):
    """The IP header (and IPv6 extension headers) with TTL/hop limit,
    checksum and length fields blanked."""
    info = parse_ip(pkt)
    b = bytearray(pkt[:info['hlen']])
    if info['fam'] == 4:
        b[2:4] = b'\0\0'
        b[8] = 0
        b[10:12] = b'\0\0'
    else:
        b[4:6] = b'\0\0'
        b[7] = 0
    return bytes(b)


# ---------------------------------------------------------------- the tool

class Tool:
    def __init__(self, a):
        self.a = a
        self.cns = Netns(a['client'])
        self.gns = Netns(a['gw'])
        self.sns = Netns(a['server'])
        self.cmac = bytes.fromhex(a['client-mac'].replace(':', ''))
        self.gmac = bytes.fromhex(a['gw-mac'].replace(':', ''))
        self.addr = {}
        for fam, af in ((4, socket.AF_INET), (6, socket.AF_INET6)):
            for role in 'csp':
                self.addr[(fam, role)] = socket.inet_pton(af, a['%s%d' % (role, fam)])
        with self.cns:
            self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
            self.tx.bind((a['client-if'], 0))
            self.ccap = self._capsock(a['client-if'])
        with self.sns:
            self.scap = self._capsock(a['server-if'])
        self.sport = random.randint(20000, 30000)
        self.ident = random.randint(1, 30000)
        self.port = 5201
        self.nsent = 0

    @staticmethod
    def _capsock(ifname):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((ifname, ETH_P_ALL))
        s.setblocking(False)
        return s

    # -- capture

    @staticmethod
    def _recv(sock, timeout):
        """One incoming IP packet: (bytes, partial) or None on timeout."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                return None
            try:
                data, anc, _, addr = sock.recvmsg(70000, 256)
            except BlockingIOError:
                continue
            if addr[2] == PACKET_OUTGOING or len(data) < 14:
                continue
            etype = struct.unpack('!H', data[12:14])[0]
            if etype not in (ETH_P_IP, ETH_P_IPV6):
                continue
            partial = False
            for level, typ, val in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA and len(val) >= 4:
                    partial = bool(struct.unpack('=I', val[:4])[0] & TP_STATUS_CSUMNOTREADY)
            return data[14:], partial

    def _drain(self, sock):
        while self._recv(sock, 0.001) is not None:
            pass

    def _send_frame(self, ippkt):
        etype = ETH_P_IP if ippkt[0] >> 4 == 4 else ETH_P_IPV6
        self.tx.send(self.gmac + self.cmac + struct.pack('!H', etype) + ippkt)

    # -- counters

    def counters(self):
        out = []
        try:
            with self.gns:
                with open('/proc/self/net/stat/ipsecmss') as f:
                    text = f.read()
        except OSError:
            return out
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                out.append((parts[0], int(parts[1])))
        return out

    @staticmethod
    def delta_words(before, after):
        b = dict(before)
        moved, words = [], []
        for name, val in after:
            d = val - b.get(name, 0)
            words.append('d.%s=%d' % (name, d))
            if d:
                moved.append('%s:%d' % (name, d))
        if not after:
            return ['delta=unreadable']
        return ['delta=' + (','.join(moved) or 'none')] + words

    # -- commands

    def cmd_counters(self, kv):
        return ' '.join('%s=%d' % nv for nv in self.counters()) or 'error=no-counters'

    def cmd_txcsum(self, kv, onoff):
        ns = {'client': self.cns, 'server': self.sns, 'gw': self.gns}[kv['ns']]
        with ns:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            buf = ctypes.create_string_buffer(struct.pack('=II', ETHTOOL_STXCSUM,
                                                          1 if onoff == 'on' else 0))
            ifr = struct.pack('16sP', kv['dev'].encode(), ctypes.addressof(buf))
            ifr += b'\0' * (40 - len(ifr))
            fcntl.ioctl(s, SIOCETHTOOL, ifr)
        finally:
            s.close()
        return 'ok'

    def _build(self, kv):
        """The IP packets of one crafted case, and the TCP segment."""
        fam = int(kv.get('fam', 4))
        src, dst = self.addr[(fam, 'p')], self.addr[(fam, 's')]
        self.sport = self.sport + 1 if self.sport < 60000 else 20000
        self.ident = self.ident + 1 if self.ident < 65000 else 1
        sport, dport = self.sport, int(kv.get('dport', 5001))
        pl = kv.get('payload', '0')
        if pl == 'fakesyn':
            payload = bytes(build_tcp(4242, 80, 7, 0, 'S', struct.pack('!BBH', 2, 4, 1460), b''))
        else:
            payload = bytes((i * 7 + 1) & 0xFF for i in range(int(pl)))
        opts = parse_list(kv.get('opts', ''), 'tcp')
        doff = int(kv['doff']) if 'doff' in kv else None
        seg = build_tcp(sport, dport, random.randint(0, 1 << 31),
                        0 if 'A' not in kv.get('flags', 'S') else 12345,
                        kv.get('flags', 'S'), opts, payload, doff)
        seg[16:18] = struct.pack('!H', tcp_checksum(fam, src, dst, seg))
        if 'trunc' in kv:
            seg = seg[:int(kv['trunc'])]
        seg = bytes(seg)
        ipopts = parse_list(kv.get('ipopts', ''), 'ip')
        if len(ipopts) % 4:
            raise ValueError('IP options not a multiple of 4 bytes')
        chain = [e for e in kv.get('ext', '').split(',') if e]
        atomic = 'frag' in chain
        chain = [e for e in chain if e != 'frag']
        pieces = []  # (fragment offset, more, bytes of L4)
        if 'frag' in kv:
            split = int(kv['frag'])
            if split % 8 or not 0 < split < len(seg):
                raise ValueError('frag= must be a multiple of 8 inside the segment')
            pieces = [(0, True, seg[:split]), (split, False, seg[split:])]
        packets = []
        if fam == 4:
            if atomic or chain:
                raise ValueError('ext= is IPv6 only')
            if pieces:
                for off, more, part in pieces:
                    ff = (off // 8) | (0x2000 if more else 0)
                    packets.append(ipv4_header(src, dst, 6, len(part), self.ident, ff, ipopts) + part)
            else:
                packets.append(ipv4_header(src, dst, 6, len(seg), self.ident, 0x4000, ipopts) + seg)
        else:
            if ipopts:
                raise ValueError('ipopts= is IPv4 only')
            if pieces:
                for off, more, part in pieces:
                    packets.append(ipv6_packet(src, dst, chain, 44,
                                               fragment_header(6, off, more, self.ident) + part))
            elif atomic:
                packets.append(ipv6_packet(src, dst, chain, 44,
                                           fragment_header(6, 0, False, self.ident) + seg))
            else:
                packets.append(ipv6_packet(src, dst, chain, 6, seg))
        if 'only' in kv:
            packets = [packets[int(kv['only']) - 1]]
        return fam, src, dst, sport, dport, seg, packets

    def cmd_send(self, kv):
        fam, src, dst, sport, dport, seg, packets = self._build(kv)
        self._drain(self.scap)
        before = self.counters()
        for p in packets:
            self._send_frame(p)
        self.nsent += 1
        token = b'IPSECMSS-SENTINEL-%d' % self.nsent
        self._send_frame(udp_packet(fam, src, dst, 40000, 9, token))
        got, sentinel = [], 'lost'
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            r = self._recv(self.scap, end - time.monotonic())
            if r is None:
                break
            pkt, partial = r
            info = parse_ip(pkt)
            if not info or info['src'] != src or info['dst'] != dst:
                continue
            if info['proto'] == 17 and token in pkt:
                sentinel = 'ok'
                break
            if info['isfrag'] and info['id'] == self.ident:
                got.append((pkt, partial, info))
            elif info['proto'] == 6 and not info['isfrag'] and len(info['l4']) >= 4 and \
                    struct.unpack('!HH', info['l4'][:4]) == (sport, dport):
                got.append((pkt, partial, info))
        if sentinel == 'ok':
            time.sleep(0.01)  # another CPU may still hold one; be fair to it
            while True:
                r = self._recv(self.scap, 0.001)
                if r is None:
                    break
                info = parse_ip(r[0])
                if info and info['src'] == src and info['dst'] == dst and info['proto'] != 17 and \
                        ((info['isfrag'] and info['id'] == self.ident) or
                         (len(info['l4']) >= 4 and struct.unpack('!HH', info['l4'][:4]) == (sport, dport))):
                    got.append((r[0], r[1], info))
        after = self.counters()
        words = ['arrived=%d' % len(got), 'sent=%d' % len(packets)]
        norm = [normalized(g[0]) for g in got]
        words.append('same=' + ','.join('1' if normalized(p) in norm else '0' for p in packets))
        words.append('sentinel=' + sentinel)
        if got:
            words += self._describe(fam, src, dst, seg, packets, got)
        words += self.delta_words(before, after)
        return ' '.join(words)

    def _describe(self, fam, src, dst, seg, packets, got):
        words = []
        infos = [g[2] for g in got]
        partial = any(g[1] for g in got)
        if any(i['isfrag'] for i in infos):
            parts = sorted((i['fragoff'], i['l4'], i['more']) for i in infos)
            data, ok = b'', True
            for off, l4, _ in parts:
                if off != len(data):
                    ok = False
                    break
                data += bytes(l4)
            if ok and parts[-1][2]:
                ok = False
            words.append('reasm=' + ('ok' if ok else 'incomplete'))
            l4 = data if ok else None
        else:
            l4 = infos[0]['l4']
        if l4 is not None:
            w = describe_tcp(fam, src, dst, l4, partial,
                             seg if len(packets) == len(got) else None)
            words += ['%s=%s' % kv for kv in w.items()]
        words.append('ipcsum=' + ('ok' if all(i['ipcsum'] in ('ok', '-') for i in infos) else 'bad'))
        words.append('iplen=' + ('ok' if all(i['iplen'] == 'ok' for i in infos) else 'bad'))
        # The header of the first packet sent against the one that arrived
        # at the same fragment offset (or the only one).
        first = got[0][0]
        for g in got:
            if g[2]['fragoff'] == 0:
                first = g[0]
        words.append('iprest=' + ('same' if ip_header_rest(first) == ip_header_rest(packets[0]) else 'diff'))
        if len(packets) == 1 and len(got) == 1:
            words.append('growth=%d' % (len(got[0][0]) - len(packets[0])))
        return words

    def _tcp_from(self, sock, fam, want, timeout):
        """First captured TCP segment for which want(src, dst, seg) holds."""
        end = time.monotonic() + timeout
        while True:
            r = self._recv(sock, max(0.0, end - time.monotonic()))
            if r is None:
                return None
            info = parse_ip(r[0])
            if info and info['fam'] == fam and info['proto'] == 6 and not info['isfrag'] \
                    and len(info['l4']) >= 20 and want(info['src'], info['dst'], info['l4']):
                return info, r[1]

    def _seg_words(self, prefix, fam, found):
        if not found:
            return ['%s=0' % prefix]
        info, partial = found
        w = describe_tcp(fam, info['src'], info['dst'], info['l4'], partial)
        return ['%s=1' % prefix] + ['%s.%s=%s' % (prefix, k, v) for k, v in w.items()]

    def cmd_connect(self, kv):
        fam = int(kv.get('fam', 4))
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        caddr = socket.inet_ntop(af, self.addr[(fam, 'c')])
        saddr = socket.inet_ntop(af, self.addr[(fam, 's')])
        self.port += 1
        port = self.port
        up, down = int(kv.get('up', 20000)), int(kv.get('down', 100000))
        self._drain(self.scap)
        self._drain(self.ccap)
        before = self.counters()
        with self.sns:
            ls = socket.socket(af, socket.SOCK_STREAM)
        with self.cns:
            cs = socket.socket(af, socket.SOCK_STREAM)
        words = []
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if int(kv.get('smss', 0)):
                ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, int(kv['smss']))
            ls.bind((saddr, port))
            ls.listen(4)
            if int(kv.get('cmss', 0)):
                cs.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, int(kv['cmss']))
            cs.bind((caddr, 0))
            cport = cs.getsockname()[1]
            cs.settimeout(10)
            ls.settimeout(10)
            try:
                cs.connect((saddr, port))
                conn, _ = ls.accept()
            except OSError as e:
                return 'connected=no error=%s' % e.__class__.__name__
            words.append('connected=yes')
            upd = bytes((i * 13 + 5) & 0xFF for i in range(up))
            downd = bytes((i * 11 + 3) & 0xFF for i in range(down))
            got_up, got_down = self._pump(cs, conn, upd, downd)
            words.append('up=' + ('ok' if got_up == upd else 'bad%d' % len(got_up)))
            words.append('down=' + ('ok' if got_down == downd else 'bad%d' % len(got_down)))
            words.append('cmaxseg=%d' % cs.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
            words.append('smaxseg=%d' % conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
            conn.close()
        finally:
            cs.close()
            ls.close()
        after = self.counters()
        syn = self._tcp_from(self.scap, fam, lambda s, d, t: struct.unpack('!HH', t[:4]) == (cport, port)
                             and t[13] & 0x12 == 0x02, 1.0)
        synack = self._tcp_from(self.ccap, fam, lambda s, d, t: struct.unpack('!HH', t[:4]) == (port, cport)
                                and t[13] & 0x12 == 0x12, 1.0)
        words += self._seg_words('syn', fam, syn) + self._seg_words('synack', fam, synack)
        return ' '.join(words + self.delta_words(before, after))

    @staticmethod
    def _pump(cs, conn, upd, downd):
        """Client sends upd, server sends downd, both at once; returns what
        each side received."""
        cs.setblocking(False)
        conn.setblocking(False)
        out = {cs: [upd, 0, False], conn: [downd, 0, False]}
        got = {cs: bytearray(), conn: bytearray()}
        eof = {cs: False, conn: False}
        end = time.monotonic() + 30
        while not all(eof.values()) and time.monotonic() < end:
            r = [s for s in eof if not eof[s]]
            w = [s for s in out if not out[s][2]]
            rr, ww, _ = select.select(r, w, [], 1.0)
            for s in ww:
                data, off, _ = out[s]
                try:
                    if off < len(data):
                        off += s.send(data[off:off + 65536])
                except BlockingIOError:
                    pass
                out[s][1] = off
                if off >= len(data):
                    s.shutdown(socket.SHUT_WR)
                    out[s][2] = True
            for s in rr:
                try:
                    chunk = s.recv(262144)
                except BlockingIOError:
                    continue
                if chunk:
                    got[s] += chunk
                else:
                    eof[s] = True
        return bytes(got[conn]), bytes(got[cs])

    def cmd_handshake(self, kv):
        fam = int(kv.get('fam', 4))
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        src, dst = self.addr[(fam, 'p')], self.addr[(fam, 's')]
        self.port += 1
        port = self.port
        self.sport = self.sport + 1 if self.sport < 60000 else 20000
        sport = self.sport
        self._drain(self.scap)
        self._drain(self.ccap)
        before = self.counters()
        with self.sns:
            ls = socket.socket(af, socket.SOCK_STREAM)
        words = []
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((socket.inet_ntop(af, dst), port))
            ls.listen(4)
            ls.settimeout(5)
            isn = random.randint(0, 1 << 31)
            seg = build_tcp(sport, port, isn, 0, 'S', b'', b'')
            seg[16:18] = struct.pack('!H', tcp_checksum(fam, src, dst, seg))
            if fam == 4:
                pkt = ipv4_header(src, dst, 6, len(seg), 1, 0x4000, b'') + bytes(seg)
            else:
                pkt = ipv6_packet(src, dst, [], 6, bytes(seg))
            self._send_frame(pkt)
            synack = self._tcp_from(self.ccap, fam, lambda s, d, t: struct.unpack('!HH', t[:4]) == (port, sport)
                                    and t[13] & 0x12 == 0x12, 3.0)
            if synack:
                sseq = struct.unpack('!I', synack[0]['l4'][4:8])[0]
                ack = build_tcp(sport, port, isn + 1, (sseq + 1) & 0xFFFFFFFF, 'A', b'', b'')
                ack[16:18] = struct.pack('!H', tcp_checksum(fam, src, dst, ack))
                if fam == 4:
                    pkt = ipv4_header(src, dst, 6, len(ack), 2, 0x4000, b'') + bytes(ack)
                else:
                    pkt = ipv6_packet(src, dst, [], 6, bytes(ack))
                self._send_frame(pkt)
                try:
                    conn, _ = ls.accept()
                    words.append('accepted=yes')
                    words.append('smaxseg=%d' % conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
                    after = self.counters()
                    conn.close()
                except OSError:
                    words.append('accepted=no')
                    after = self.counters()
            else:
                after = self.counters()
        finally:
            ls.close()
        syn = self._tcp_from(self.scap, fam, lambda s, d, t: struct.unpack('!HH', t[:4]) == (sport, port)
                             and t[13] & 0x12 == 0x02, 1.0)
        words += self._seg_words('syn', fam, syn) + self._seg_words('synack', fam, synack)
        return ' '.join(words + self.delta_words(before, after))

    def run(self, line):
        words = line.split()
        if not words:
            return 'error=empty-command'
        cmd, kv, bare = words[0], {}, []
        for w in words[1:]:
            if '=' in w:
                k, v = w.split('=', 1)
                kv[k] = v
            else:
                bare.append(w)
        if cmd == 'send':
            return self.cmd_send(kv)
        if cmd == 'connect':
            return self.cmd_connect(kv)
        if cmd == 'handshake':
            return self.cmd_handshake(kv)
        if cmd == 'counters':
            return self.cmd_counters(kv)
        if cmd == 'txcsum':
            return self.cmd_txcsum(kv, bare[0] if bare else 'on')
        return 'error=unknown-command:' + cmd


def main(argv):
    if len(argv) < 2 or argv[1] != 'serve':
        sys.stderr.write(__doc__ if __doc__ else 'usage: pkt.py serve --client NS ...\n')
        return 2
    a, i = {}, 2
    while i + 1 < len(argv):
        a[argv[i].lstrip('-')] = argv[i + 1]
        i += 2
    tool = Tool(a)
    for line in sys.stdin:
        line = line.strip()
        if line == 'quit':
            break
        try:
            answer = tool.run(line)
        except Exception as e:  # one bad command must not end the script
            answer = 'error=%s:%s' % (e.__class__.__name__, str(e).replace(' ', '_'))
        sys.stdout.write(answer + '\n')
        sys.stdout.flush()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
