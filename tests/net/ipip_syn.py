#!/usr/bin/python3 -S
# SPDX-License-Identifier: GPL-2.0
#
# ipip_syn.py: one hand-built TCP SYN (MSS 1460) sent into a device or
# IPIP-encapsulated over loopback, and what arrived at the receiver, for
# tests/net/52-route-hooks.sh.
#
#   ipip_syn.py dev --ns NS --dev IF [--dmac MAC] --fam 4|6 --src A --dst A
#               --recv-ns NS [--count-ns NS] [--mss N] [--wait S] [--dport N]
#       Sends the IP packet as an AF_PACKET SOCK_DGRAM frame on IF inside
#       NS: on a veth (with --dmac) it leaves as Ethernet, on a plain
#       ipip/ip6tnl/gretap/vxlan device the device encapsulates it toward
#       its remote (the device under test then receives it through its own
#       decapsulation path, with whatever dst that path attaches).
#   ipip_syn.py route --ns NS --dev IF --fam 4|6 --src A --dst A ...
#       The same through NS's routing: a raw IP socket (header included)
#       bound to IF.  For tunnel devices whose address is longer than an
#       AF_PACKET sockaddr_ll holds (ip6tnl: 16 bytes).
#   ipip_syn.py serve
#       One command per stdin line (the words of one of the commands
#       above, without ipip_syn.py), one answer line each: python starts
#       slowly under emulation, so a script keeps one process.
#   ipip_syn.py lo-ipip --src A --dst A [--mss N] [--wait S]
#       In the current namespace (no setns: runs unprivileged inside a
#       user namespace): a raw IPPROTO_IPIP socket sends the inner SYN to
#       127.0.0.1, the kernel adds the outer IPv4 header.
#
# The receiver is a raw TCP socket in --recv-ns (lo-ipip: the current
# namespace): the kernel hands it a copy of every TCP segment it delivers
# locally, after the LOCAL_IN hook, so the MSS read there is what the
# receiving stack saw, after every rule on the way.  --count-ns NS (and
# lo-ipip always) also reads NS's /proc/net/stat/ipsecmss before and after.
#
# Answer: one line of key=value words:
#   arrived=0|1 mss=N (or mss=none) d.COUNTER=N for each counter that
#   moved (delta=none when none did), or error=WHY.

import ctypes
import os
import random
import select
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
IPPROTO_IPIP = 4

libc = ctypes.CDLL(None, use_errno=True)
HOME_NS = os.open('/proc/self/ns/net', os.O_RDONLY)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, 'setns: ' + os.strerror(err))


class Netns:
    """Inside a named network namespace for a with block (None: stay)."""

    fds = {}

    def __init__(self, name):
        if name and name not in Netns.fds:
            Netns.fds[name] = os.open('/run/netns/' + name, os.O_RDONLY)
        self.fd = Netns.fds[name] if name else None

    def __enter__(self):
        if self.fd is not None:
            setns(self.fd)
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            setns(HOME_NS)
        return False


def sum16(data):
    if len(data) % 2:
        data = bytes(data) + b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def syn_packet(fam, src, dst, sport, dport, mss):
    """An IPv4/IPv6 packet holding a TCP SYN with one MSS option."""
    af = socket.AF_INET if fam == 4 else socket.AF_INET6
    s = socket.inet_pton(af, src)
    d = socket.inet_pton(af, dst)
    opts = struct.pack('!BBH', 2, 4, mss)
    tcp = bytearray(struct.pack('!HHIIBBHHH', sport, dport,
                                random.getrandbits(32), 0,
                                (5 + len(opts) // 4) << 4, 0x02, 64240,
                                0, 0) + opts)
    if fam == 4:
        ph = s + d + struct.pack('!BBH', 0, 6, len(tcp))
    else:
        ph = s + d + struct.pack('!IxxxB', len(tcp), 6)
    struct.pack_into('!H', tcp, 16, ~sum16(ph + bytes(tcp)) & 0xFFFF)
    if fam == 4:
        ip = bytearray(struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp),
                                   random.getrandbits(16), 0x4000, 64, 6, 0,
                                   s, d))
        struct.pack_into('!H', ip, 10, ~sum16(bytes(ip)) & 0xFFFF)
        return bytes(ip) + bytes(tcp)
    return struct.pack('!IHBB16s16s', 6 << 28, len(tcp), 6, 64, s, d) + \
        bytes(tcp)


def tcp_mss(seg):
    """The value of the first MSS option of a TCP header, or None."""
    if len(seg) < 20:
        return None
    doff = (seg[12] >> 4) * 4
    i = 20
    while i < min(doff, len(seg)):
        kind = seg[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(seg) or seg[i + 1] < 2:
            break
        if kind == 2 and seg[i + 1] == 4 and i + 4 <= len(seg):
            return struct.unpack('!H', seg[i + 2:i + 4])[0]
        i += seg[i + 1]
    return None


def receiver(fam):
    """A raw TCP socket: a copy of each TCP segment delivered locally."""
    af = socket.AF_INET if fam == 4 else socket.AF_INET6
    return socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_TCP)


def wait_syn(sock, fam, src, sport, dport, wait):
    """MSS of our SYN as delivered (None: no option), or 'absent'."""
    want = socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6,
                            src)
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 'absent'
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            return 'absent'
        data, addr = sock.recvfrom(65535)
        if fam == 4:
            if len(data) < 20:
                continue
            if data[12:16] != want:
                continue
            seg = data[(data[0] & 15) * 4:]
        else:
            # IPv6 raw sockets get the payload only; the source in addr
            if socket.inet_pton(socket.AF_INET6, addr[0].split('%')[0]) != want:
                continue
            seg = data
        if len(seg) < 20:
            continue
        sp, dp = struct.unpack('!HH', seg[:4])
        if sp != sport or dp != dport or not (seg[13] & 0x02):
            continue
        return tcp_mss(seg)


def counters(ns):
    with Netns(ns):
        try:
            with open('/proc/self/net/stat/ipsecmss') as f:
                lines = f.read().split('\n')
        except OSError:
            return {}
    out = {}
    for line in lines:
        w = line.split()
        if len(w) == 2 and w[1].isdigit():
            out[w[0]] = int(w[1])
    return out


def deltas(before, after):
    words = ['d.%s=%d' % (k, after[k] - before.get(k, 0))
             for k in after if after[k] != before.get(k, 0)]
    return words or ['delta=none']


def main(argv):
    if len(argv) == 2 and argv[1] == 'serve':
        for line in sys.stdin:
            try:
                one(['ipip_syn.py'] + line.split())
            except (OSError, ValueError, KeyError) as e:
                print('error=%s' % str(e).replace(' ', '_'))
            sys.stdout.flush()
        return 0
    return one(argv)


def one(argv):
    if len(argv) < 2 or argv[1] not in ('dev', 'route', 'lo-ipip'):
        print('error=usage')
        return 2
    cmd = argv[1]
    a = {'mss': '1460', 'wait': '2', 'fam': '4', 'dmac': '', 'ns': None,
         'recv-ns': None, 'count-ns': None}
    words = argv[2:]
    i = 0
    while i < len(words):
        k = words[i]
        if not k.startswith('--'):
            print('error=bad-arg:' + k)
            return 2
        # an option without a value (the next word is an option) is empty
        if i + 1 < len(words) and not words[i + 1].startswith('--'):
            a[k[2:]] = words[i + 1]
            i += 2
        else:
            a[k[2:]] = ''
            i += 1
    fam = int(a['fam'])
    mss = int(a['mss'])
    sport = random.randint(20000, 60000)
    dport = int(a['dport']) if a.get('dport') else \
        random.randint(20000, 60000)
    pkt = syn_packet(fam, a['src'], a['dst'], sport, dport, mss)
    if cmd == 'lo-ipip':
        a['count-ns'] = ''
        a['recv-ns'] = None
        a['ns'] = None
    with Netns(a['recv-ns']):
        rx = receiver(fam)
    before = counters(a['count-ns']) if a['count-ns'] is not None else {}

    if cmd == 'dev':
        proto = ETH_P_IP if fam == 4 else ETH_P_IPV6
        with Netns(a['ns']):
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                               socket.htons(proto))
        mac = bytes.fromhex(a['dmac'].replace(':', '')) if a['dmac'] else b''
        tx.sendto(pkt, (a['dev'], proto, 0, 0, mac))
    elif cmd == 'route':
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        with Netns(a['ns']):
            tx = socket.socket(af, socket.SOCK_RAW, socket.IPPROTO_RAW)
        tx.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                      a['dev'].encode())
        tx.sendto(pkt, (a['dst'], 0))
    else:
        tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
        tx.sendto(pkt, ('127.0.0.1', 0))
    tx.close()

    got = wait_syn(rx, fam, a['src'], sport, dport, float(a['wait']))
    rx.close()
    words = []
    if got == 'absent':
        words += ['arrived=0']
    else:
        words += ['arrived=1', 'mss=%s' % ('none' if got is None else got)]
    if a['count-ns'] is not None:
        words += deltas(before, counters(a['count-ns']))
    print(' '.join(words))
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError, KeyError) as e:
        print('error=%s' % str(e).replace(' ', '_'))
        sys.exit(0)
