#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Host side of `make bench`: how much CPU time the emulated CPUs really
# got during each measured window.
#
#   cpuwatch.py RAW OUT
#
# RAW is the file QEMU writes the guest's third serial port to (the
# guest's data lines); the QEMU process is the one whose command line
# names RAW, started with `-name ...,debug-threads=on` so its vCPU threads
# are called "CPU n/TCG".  Whenever a line "mark ID start|end" appears in
# RAW, appends to OUT:
#
#   ID start|end HOST-MONOTONIC-NS CPU0-NS CPU1-NS
#
# with the run time of each vCPU thread (schedstat, in ns).  Another VM on
# the same two host cores takes CPU away from ours at random; a rate per
# second of CPU time the vCPU got is steady where a rate per wall-clock
# second is not.  Exits when that QEMU has gone (or after 60 s without it).

import os
import sys
import time


def find_qemu(raw):
    needle = raw.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if cmd.startswith(b"qemu-system") and needle in cmd:
            return int(pid)
    return None


def vcpu_threads(pid):
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm.startswith("CPU ") and comm.endswith("/TCG"):
            out[int(comm[4:].split("/")[0])] = "/proc/%d/task/%s/schedstat" % (pid, tid)
    return out


def runtime(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return -1


def main():
    raw, outpath = os.path.abspath(sys.argv[1]), sys.argv[2]
    t_end = time.monotonic() + 60
    pid = None
    while pid is None:
        pid = find_qemu(raw)
        if pid is None:
            if time.monotonic() > t_end:
                return 1
            time.sleep(0.2)
    threads = {}
    out = open(outpath, "a", buffering=1)
    fd = None
    buf = b""
    idle = 0
    while True:
        if fd is None:
            try:
                fd = os.open(raw, os.O_RDONLY)
            except OSError:
                time.sleep(0.05)
                continue
        chunk = os.read(fd, 65536)
        if not chunk:
            idle += 1
            if idle % 200 == 0 and not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.003)
            continue
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            w = line.replace(b"\r", b"").split()
            if len(w) == 3 and w[0] == b"mark":
                now = time.monotonic_ns()
                if len(threads) < 2:
                    threads = vcpu_threads(pid)
                c0 = runtime(threads[0]) if 0 in threads else -1
                c1 = runtime(threads[1]) if 1 in threads else -1
                out.write("%s %s %d %d %d\n" % (w[1].decode(), w[2].decode(), now, c0, c1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
