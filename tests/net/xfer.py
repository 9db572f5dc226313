#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Tiny traffic tool for the tests/net IPsec scenes (stdlib only).  Named
# xfer.py, not http.py, so that it never shadows Python's own http package.
#
#   xfer.py serve PORT [--iface IF --log FILE] [--ready FILE]
#       TCP server on [::]:PORT (IPv4 too).  "GET /N" gets an HTTP/1.0
#       reply with N body bytes; "PUT /N" sends N bytes, answered with the
#       count received.  With --iface, a SYN sniffer on that interface
#       appends one line per SYN or SYN-ACK seen there to FILE:
#           syn in|out S|SA SRC SPORT DST DPORT MSS|-
#   xfer.py sniff IF FILE [--ready FILE]      the same sniffer alone
#   xfer.py fetch HOST PORT BYTES TIMEOUT [--src ADDR]
#   xfer.py push  HOST PORT BYTES TIMEOUT [--src ADDR]
#       Download (fetch) or upload (push) BYTES, giving up TIMEOUT seconds
#       after the start.  Prints one line:
#           BYTES-DELIVERED SECONDS LOCAL-PORT STATUS
#       STATUS: ok, stalled (connected, then timed out), connect-timeout,
#       or error:ERRNO-NAME.  The socket is closed with a reset so that the
#       peer does not keep retransmitting into a black hole.
#   xfer.py natt [--v4] [--v6] [--port 4500] [--ready FILE]
#       Holds UDP sockets with UDP_ENCAP_ESPINUDP set (what an IKE daemon
#       does), so the kernel takes ESP-in-UDP in; runs until killed.
#   xfer.py agent
#       All of the above in one long-lived process per network namespace,
#       so a test pays Python's start-up (seconds under TCG) once: reads
#       one command per line on stdin, answers one line on stdout
#       ("ready" first, "ERR ..." on failure):
#           serve PORT [IF LOG]      -> ok      (server + sniffer threads)
#           sniff IF LOG             -> ok
#           fetch|push HOST PORT BYTES TIMEOUT [SRC]  -> the client's line
#           natt v4|v6|off [PORT]    -> ok      (UDP_ENCAP sockets)
#           sysctl NAME VALUE        -> ok      (net.ipv4.ip_forward ...)
#           quit

import argparse
import ctypes
import errno
import os
import signal
import socket
import struct
import sys
import threading
import time

SOL_UDP = 17
UDP_ENCAP = 100
UDP_ENCAP_ESPINUDP = 2
SO_ATTACH_FILTER = 26
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
CHUNK = b"x" * 65536


def ready(path):
    if path:
        with open(path + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(path + ".tmp", path)


# --- SYN sniffer -------------------------------------------------------

def syn_filter():
    """Classic BPF keeping TCP segments with SYN set (IPv4 first fragments,
    IPv6 with TCP right after the fixed header) plus any IPv6 packet with
    extension headers, which the Python side parses itself."""
    prog = [
        ("ldh", 12),                    # ethertype
        ("jeq", 0x0800, None, "v6"),
        ("ldb", 23),                    # IPv4 protocol
        ("jeq", 6, None, "drop"),
        ("ldh", 20),                    # flags + fragment offset
        ("jset", 0x1FFF, "drop", None),
        ("ldxmsh", 14),                 # X = IPv4 header length
        ("ldbx", 14 + 13),              # TCP flags
        ("jset", 0x02, "accept", "drop"),
        ("label", "v6"),
        ("jeq", 0x86DD, None, "drop"),
        ("ldb", 20),                    # IPv6 next header
        ("jeq", 6, None, "accept"),
        ("ldb", 14 + 40 + 13),
        ("jset", 0x02, "accept", "drop"),
        ("label", "accept"),
        ("ret", 0xFFFF),
        ("label", "drop"),
        ("ret", 0),
    ]
    labels, n = {}, 0
    for ins in prog:
        if ins[0] == "label":
            labels[ins[1]] = n
        else:
            n += 1
    code = {"ldh": 0x28, "ldb": 0x30, "ldxmsh": 0xB1, "ldbx": 0x50,
            "jeq": 0x15, "jset": 0x45, "ret": 0x06}
    out, pc = b"", 0
    for ins in prog:
        if ins[0] == "label":
            continue
        jt = jf = 0
        if ins[0] in ("jeq", "jset"):
            jt = labels[ins[2]] - pc - 1 if ins[2] else 0
            jf = labels[ins[3]] - pc - 1 if ins[3] else 0
        out += struct.pack("HBBI", code[ins[0]], jt, jf, ins[1])
        pc += 1
    return pc, out


def tcp_mss(tcp):
    """MSS option value of a TCP header (bytes), or None."""
    doff = (tcp[12] >> 4) * 4
    opts, i = tcp[20:doff], 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if kind == 2 and opts[i + 1] == 4 and i + 4 <= len(opts):
            return struct.unpack("!H", opts[i + 2:i + 4])[0]
        i += opts[i + 1]
    return None


def parse_syn(frame):
    """(flags, src, sport, dst, dport, mss) of a SYN in an Ethernet frame."""
    etype = struct.unpack("!H", frame[12:14])[0]
    p = frame[14:]
    if etype == 0x0800 and len(p) >= 20:
        ihl = (p[0] & 15) * 4
        if p[9] != 6 or struct.unpack("!H", p[6:8])[0] & 0x1FFF:
            return None
        src, dst = socket.inet_ntop(socket.AF_INET, p[12:16]), \
            socket.inet_ntop(socket.AF_INET, p[16:20])
        tcp = p[ihl:]
    elif etype == 0x86DD and len(p) >= 40:
        src, dst = socket.inet_ntop(socket.AF_INET6, p[8:24]), \
            socket.inet_ntop(socket.AF_INET6, p[24:40])
        nh, off = p[6], 40
        while nh in (0, 43, 60) and off + 8 <= len(p):   # hbh, rt, dst
            nh, off = p[off], off + (p[off + 1] + 1) * 8
        if nh != 6:
            return None
        tcp = p[off:]
    else:
        return None
    if len(tcp) < 20 or not tcp[13] & 0x02:
        return None
    sport, dport = struct.unpack("!HH", tcp[0:4])
    flags = "SA" if tcp[13] & 0x10 else "S"
    return flags, src, sport, dst, dport, tcp_mss(tcp)


def sniffer(iface, logpath):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    n, prog = syn_filter()
    buf = ctypes.create_string_buffer(prog)
    s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                 struct.pack("HL", n, ctypes.addressof(buf)))
    s.bind((iface, ETH_P_ALL))
    log = open(logpath, "a", buffering=1)

    def loop():
        while True:
            frame, addr = s.recvfrom(65535)
            try:
                syn = parse_syn(frame)
            except (IndexError, struct.error, ValueError):
                syn = None
            if syn:
                d = "out" if addr[2] == PACKET_OUTGOING else "in"
                f, src, sp, dst, dp, mss = syn
                log.write("syn %s %s %s %d %s %d %s\n" %
                          (d, f, src, sp, dst, dp, "-" if mss is None else mss))
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


# --- server ------------------------------------------------------------

def handle(conn):
    conn.settimeout(120)
    try:
        req = b""
        while b"\r\n\r\n" not in req and len(req) < 4096:
            d = conn.recv(4096)
            if not d:
                return
            req += d
        head, _, rest = req.partition(b"\r\n\r\n")
        words = head.split()
        method, n = words[0], int(words[1].lstrip(b"/"))
        if method == b"GET":
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % n)
            left = n
            while left > 0:
                k = min(left, len(CHUNK))
                conn.sendall(CHUNK[:k])
                left -= k
        elif method == b"PUT":
            got = len(rest)
            while got < n:
                d = conn.recv(65536)
                if not d:
                    break
                got += len(d)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n%d\n" % got)
    except (OSError, ValueError, IndexError):
        pass
    finally:
        conn.close()


def start_server(port, iface=None, log="/dev/null"):
    if iface:
        sniffer(iface, log)
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", port))
    ls.listen(64)

    def loop():
        while True:
            conn, _ = ls.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


# --- clients -----------------------------------------------------------

def bytes_acked(s):
    # struct tcp_info: tcpi_bytes_acked is the u64 at offset 120.
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 136)
    return struct.unpack_from("Q", info, 120)[0] if len(info) >= 128 else 0


def client(host, port, nbytes, timeout, src, upload):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((src or "", 0))
    sport = s.getsockname()[1]
    t0 = time.monotonic()
    deadline = t0 + timeout
    got, status, connected, hdr = 0, "ok", False, b""

    def left():
        r = deadline - time.monotonic()
        if r <= 0:
            raise socket.timeout()
        return r
    try:
        s.settimeout(left())
        s.connect((host, port))
        connected = True
        if upload:
            hdr = b"PUT /%d HTTP/1.0\r\n\r\n" % nbytes
            s.sendall(hdr)
            n = nbytes
            while n > 0:
                k = min(n, len(CHUNK))
                s.settimeout(left())
                s.sendall(CHUNK[:k])
                n -= k
            reply = b""
            while True:
                s.settimeout(left())
                d = s.recv(4096)
                if not d:
                    break
                reply += d
            got = int(reply.partition(b"\r\n\r\n")[2] or b"0")
        else:
            s.sendall(b"GET /%d HTTP/1.0\r\n\r\n" % nbytes)
            buf, body = b"", False
            while True:
                s.settimeout(left())
                d = s.recv(65536)
                if not d:
                    break
                if body:
                    got += len(d)
                else:
                    buf += d
                    i = buf.find(b"\r\n\r\n")
                    if i >= 0:
                        body, got = True, len(buf) - i - 4
    except socket.timeout:
        status = "stalled" if connected else "connect-timeout"
        if upload and connected:
            got = max(0, bytes_acked(s) - len(hdr) - 1)
    except OSError as e:
        status = "error:" + errno.errorcode.get(e.errno, str(e.errno))
    secs = time.monotonic() - t0
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()
    return "%d %.2f %d %s" % (got, secs, sport, status)


def natt_open(fam, port=4500):
    if fam == socket.AF_INET6:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::", port))
    else:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
    s.setsockopt(SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)
    return s


def agent():
    os.closerange(3, 1024)      # FIFOs of other agents inherited from bash
    natt_socks = []
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        try:
            if w[0] == "quit":
                break
            elif w[0] == "serve":
                start_server(int(w[1]), *w[2:4])
                r = "ok"
            elif w[0] == "sniff":
                sniffer(w[1], w[2])
                r = "ok"
            elif w[0] in ("fetch", "push"):
                r = client(w[1], int(w[2]), int(w[3]), float(w[4]),
                           w[5] if len(w) > 5 else None, w[0] == "push")
            elif w[0] == "natt":
                for s in natt_socks:
                    s.close()
                natt_socks = []
                port = int(w[2]) if len(w) > 2 else 4500
                if w[1] == "v4":
                    natt_socks.append(natt_open(socket.AF_INET, port))
                elif w[1] == "v6":
                    natt_socks.append(natt_open(socket.AF_INET6, port))
                r = "ok"
            elif w[0] == "sysctl":
                with open("/proc/sys/" + w[1].replace(".", "/"), "w") as f:
                    f.write(w[2])
                r = "ok"
            else:
                r = "ERR unknown command " + w[0]
        except (OSError, ValueError, IndexError) as e:
            r = "ERR %s: %s" % (w[0], e)
        out.write(r + "\n")
        out.flush()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("serve")
    sp.add_argument("port", type=int)
    sp.add_argument("--iface")
    sp.add_argument("--log", default="/dev/null")
    sp.add_argument("--ready")
    sp = sub.add_parser("sniff")
    sp.add_argument("iface")
    sp.add_argument("log")
    sp.add_argument("--ready")
    for c in ("fetch", "push"):
        sp = sub.add_parser(c)
        sp.add_argument("host")
        sp.add_argument("port", type=int)
        sp.add_argument("bytes", type=int)
        sp.add_argument("timeout", type=float)
        sp.add_argument("--src")
    sp = sub.add_parser("natt")
    sp.add_argument("--v4", action="store_true")
    sp.add_argument("--v6", action="store_true")
    sp.add_argument("--port", type=int, default=4500)
    sp.add_argument("--ready")
    sub.add_parser("agent")
    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if a.cmd == "agent":
        agent()
    elif a.cmd in ("fetch", "push"):
        print(client(a.host, a.port, a.bytes, a.timeout, a.src, a.cmd == "push"))
    else:
        socks = []
        if a.cmd == "serve":
            start_server(a.port, a.iface, a.log)
        elif a.cmd == "sniff":
            sniffer(a.iface, a.log)
        else:
            if a.v4 or not a.v6:
                socks.append(natt_open(socket.AF_INET, a.port))
            if a.v6:
                socks.append(natt_open(socket.AF_INET6, a.port))
        ready(a.ready)
        while True:
            signal.pause()


if __name__ == "__main__":
    main()
