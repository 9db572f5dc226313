#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# The report of `make bench` (stdlib only): reads the guest's data lines
# (tests/bench/vm-bench.sh) and the host's callgrind counts, writes
# RESULTS.md and efficiency.svg, prints a summary ending with exactly
#     ratio set-mss X
#     ratio auto X
#     ratio bulk X
#     ratio auto-nat X
#     ratio auto-plain X
#
#   report.py --vm DATA --core CORE --outdir DIR [--vmlog LOG] [--start EPOCH]
#             [--others N]

import argparse
import datetime
import math
import os
import platform
import statistics
import sys
import time

TARGETS = {"set-mss": 0.95, "auto": 0.90, "auto-plain": 0.95, "bulk": 0.98}

SYN_LABEL = {
    "sink": "generator alone (frames dropped on arrival at the gateway)",
    "none": "no target (the rules' address tests only)",
    "tcpmss-set": "TCPMSS --set-mss 1360",
    "ipsecmss-set": "IPSECMSS --set-mss 1360",
    "tcpmss-clamp": "TCPMSS --clamp-mss-to-pmtu",
    "ipsecmss-auto": "IPSECMSS --auto",
    "hooked-tcpmss-clamp": "TCPMSS --clamp-mss-to-pmtu, netns with an --auto rule (after-NAT hook)",
}
SYN_ORDER = [("plain", c) for c in
             ("sink", "none", "tcpmss-set", "ipsecmss-set", "tcpmss-clamp",
              "ipsecmss-auto")] + \
            [("esp", c) for c in ("none", "tcpmss-clamp", "ipsecmss-auto")] + \
            [("nat", c) for c in ("none", "tcpmss-clamp", "ipsecmss-auto")] + \
            [("bare", c) for c in ("tcpmss-clamp", "hooked-tcpmss-clamp", "ipsecmss-auto")]


def median(v):
    return statistics.median(v) if v else float("nan")


def fmt_ratio(x):
    return "nan" if x != x else "%.2f" % x


def read_lines(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [l.rstrip("\n") for l in f]
    except OSError:
        return []


def cpu_model():
    for line in read_lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def parse(vm_lines):
    """the guest's data lines; run.sh puts "boot N" before each boot's
    lines: a SYN cycle is keyed (boot, cycle), d["syn_boots"][N] holds
    boot N's cycles, and later boots' info lines do not replace the first's"""
    d = {"info": {}, "syn": {}, "syn_reps": {}, "bulk": {}, "bulk_reps": {},
         "eff": [], "checks": [], "runs": {}, "syn_totals": {}, "syn_boots": {}}
    boot = 1
    for line in vm_lines:
        w = line.split()
        if not w or w[0].startswith("#"):
            continue
        try:
            if w[0] == "boot" and len(w) == 2:
                boot = int(w[1])
            elif w[0] == "info" and len(w) >= 2:
                if boot == 1 or w[1] not in d["info"]:
                    d["info"][w[1]] = " ".join(w[2:])
            elif w[0] == "check":
                d["checks"].append(("" if boot == 1 else "boot %d: " % boot) + " ".join(w[1:]))
            elif w[0] == "syncycle" and len(w) >= 3:
                cyc = (boot, int(w[1]))
                reps = d["syn_boots"].setdefault(boot, {})
                for kv in w[2:]:
                    name, _, rate = kv.partition("=")
                    key = tuple(name.split("-", 1))
                    d["syn"].setdefault(key, []).append(float(rate))
                    d["syn_reps"].setdefault(cyc, {}).setdefault(key, []).append(float(rate))
                    reps.setdefault(cyc, {}).setdefault(key, []).append(float(rate))
            elif w[0] == "syntotal" and len(w) >= 3:
                tot = d["syn_totals"].setdefault(tuple(w[1].split("-", 1)), {})
                for kv in w[2:]:
                    if "=" in kv:
                        k, _, v = kv.partition("=")
                        tot[k] = str(int(tot.get(k, 0)) + int(v))
            elif w[0] == "bulk" and len(w) >= 8:
                cyc, off, cfg = int(w[1]), w[2], w[3]
                c0, c1, t0, t1 = int(w[4]), int(w[5]), float(w[6]), float(w[7])
                if t1 <= t0:
                    continue
                mbit = (c1 - c0) * 8 / (t1 - t0) / 1e6
                d["bulk"].setdefault((off, cfg), []).append(mbit)
                d["bulk_reps"].setdefault((off, cyc), {}).setdefault(cfg, []).append(mbit)
                if len(w) >= 9:
                    d["runs"][w[8]] = "bulk"
            elif w[0] == "eff" and len(w) >= 15:
                d["eff"].append({
                    "suite": w[1], "natt": w[2] == "1", "outer": int(w[3]),
                    "inner": int(w[4]), "mtu": int(w[5]), "iv": int(w[6]),
                    "icv": int(w[7]), "blk": int(w[8]), "calc": w[9],
                    "auto": w[10], "verdict": w[11], "max": w[12],
                    "how": w[13], "v1360": w[14]})
        except ValueError:
            continue
    return d


CI = {}


def paired(reps, a, b):
    """median over cycles of sum(A) / sum(B) within the cycle (A B B A);
    the 95% confidence interval of that median (order statistics) is
    kept in CI[(a, b)]"""
    v = sorted(sum(r[a]) / sum(r[b]) for r in reps.values()
               if a in r and b in r and sum(r[b]) > 0)
    n = len(v)
    k = int(n / 2 - 0.98 * n ** 0.5)
    CI[(a, b)] = (v[k], v[n - 1 - k]) if n >= 6 and k >= 0 else None
    return median(v), n


BOOTS = {}


def syn_ratio(d, a, b):
    """a SYN ratio and its cycles: with one boot, paired() over its cycles;
    with several, the median over boots of each boot's paired() median (a
    boot's code and data placement moves every ratio by up to 0.1, more
    than cycles within it spread), each boot's value kept in BOOTS[(a, b)]"""
    boots = d["syn_boots"]
    if len(boots) <= 1:
        return paired(d["syn_reps"], a, b)
    vals, n = [], 0
    for k in sorted(boots):
        v, m = paired(boots[k], a, b)
        if m:
            vals.append(v)
            n += m
    BOOTS[(a, b)] = vals
    return median(vals), n


def fmt_ci(a, b):
    if BOOTS.get((a, b)):
        return "boots: " + ", ".join(fmt_ratio(v) for v in BOOTS[(a, b)])
    ci = CI.get((a, b))
    return "%.2f - %.2f" % ci if ci else "-"


def cpu_shares(path, runs):
    """per part, the share of wall time the guest's vCPU 0 thread ran in
    each measured window (host schedstat), from cpuwatch.py's marks"""
    marks = {}
    for line in read_lines(path) if path else []:
        w = line.split()
        if len(w) == 5:
            marks.setdefault(w[0], {})[w[1]] = (int(w[2]), int(w[3]))
    out = {}
    for rid, part in runs.items():
        m = marks.get(rid, {})
        if "start" in m and "end" in m and m["end"][0] > m["start"][0] and m["start"][1] >= 0:
            out.setdefault(part, []).append(
                (m["end"][1] - m["start"][1]) / (m["end"][0] - m["start"][0]))
    return out


def wire_bytes(row, mss):
    """IP bytes on the underlay of a full segment of MSS after ESP"""
    oip = 20 if row["outer"] == 4 else 40
    iip = 20 if row["inner"] == 4 else 40
    blk = (row["blk"] + 3) // 4 * 4
    inner = mss + iip + 20
    esp_payload = (inner + 2 + blk - 1) // blk * blk
    return oip + (8 if row["natt"] else 0) + 8 + row["iv"] + esp_payload + row["icv"]


def row_label(r):
    return "%s%s, IPv%d in IPv%d, %d" % (
        r["suite"], " NAT-T" if r["natt"] else "", r["inner"], r["outer"], r["mtu"])


def svg_efficiency(rows, path):
    W, H = 960, 500
    left, right, top, bottom = 120, 20, 76, 160
    pw, ph = W - left - right, H - top - bottom
    lo, hi = 0.85, 1.00
    n = max(len(rows), 1)
    gw = pw / n
    bw = gw * 0.32

    def y(v):
        v = min(max(v, lo), hi)
        return top + ph * (hi - v) / (hi - lo)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">' % (W, H, W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">'
           'Payload efficiency of a full-size segment after ESP (MSS / wire bytes)</text>' % left,
           '<text x="%d" y="40" fill="#444">--auto (the MSS the server saw, proven the largest that '
           'gets through: 0 bytes of slack) against the folklore --set-mss 1360</text>' % left]
    for i in range(0, 16):
        v = lo + i * 0.01
        if v > hi + 1e-9:
            break
        yy = y(v)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>' %
                   (left, yy, W - right, yy, "#999" if i % 5 == 0 else "#e4e4e4"))
        if i % 5 == 0 or i == 15:
            out.append('<text x="%d" y="%.1f" text-anchor="end">%d%%</text>' %
                       (left - 6, yy + 4, round(v * 100)))
    for k, r in enumerate(rows):
        x0 = left + k * gw + gw * 0.16
        bars = []
        if r.get("eff_auto") is not None:
            bars.append(("auto", r["eff_auto"], "#2f6db5", "%.1f" % (r["eff_auto"] * 100)))
        if r["v1360"] == "complete":
            bars.append(("1360", r["eff_1360"], "#e08a1e", "%.1f" % (r["eff_1360"] * 100)))
        else:
            bars.append(("1360", None, "#c62828", "stall"))
        for j, (name, v, colour, text) in enumerate(bars):
            bx = x0 + j * (bw + 4)
            if v is None:
                out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" '
                           'stroke="%s" stroke-dasharray="4 3"/>' % (bx, top, bw, ph, colour))
                out.append('<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s" '
                           'transform="rotate(-90 %.1f %.1f)">1360 stalls</text>' %
                           (bx + bw / 2 + 4, top + ph / 2, colour, bx + bw / 2 + 4, top + ph / 2))
                continue
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>' %
                       (bx, y(v), bw, top + ph - y(v), colour))
            out.append('<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%s</text>' %
                       (bx + bw / 2, y(v) - 3, text))
        lx, ly = left + k * gw + gw / 2 - 8, top + ph + 14
        label = [r["suite"] + (" NAT-T" if r["natt"] else ""),
                 "IPv%d in IPv%d, MTU %d" % (r["inner"], r["outer"], r["mtu"]),
                 "auto %s%s" % (r["auto"], ", 0 slack" if r["zero_slack"] else
                                ", slack %s" % r["slack"])]
        # lines of a label rotated by -35 degrees, 13 px apart across them
        for m, t in enumerate(label):
            x, yy = lx + m * 13 * math.sin(math.radians(35)), ly + m * 13 * math.cos(math.radians(35))
            out.append('<text x="%.1f" y="%.1f" text-anchor="end" font-size="11" '
                       'transform="rotate(-35 %.1f %.1f)">%s</text>' % (x, yy, x, yy, t))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' %
               (left, top + ph, W - right, top + ph))
    for j, (t, c) in enumerate((("--auto", "#2f6db5"), ("--set-mss 1360", "#e08a1e"),
                                ("1360 stalls (PMTUD black hole)", "#c62828"))):
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (left + j * 140, 50, c))
        out.append('<text x="%d" y="%d">%s</text>' % (left + j * 140 + 16, 60, t))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vm", required=True)
    ap.add_argument("--core", required=True)
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--vmlog")
    ap.add_argument("--marks")
    ap.add_argument("--start", type=float)
    ap.add_argument("--others", default="?")
    a = ap.parse_args()

    d = parse(read_lines(a.vm))
    core = [l.split() for l in read_lines(a.core) if l.startswith("core ")]
    info = d["info"]
    syn, bulk = d["syn"], d["bulk"]
    med = {k: median(v) for k, v in syn.items()}

    def ratio(num, den):
        return med.get(num, float("nan")) / med[den] if med.get(den) else float("nan")

    r_set = ratio(("plain", "ipsecmss-set"), ("plain", "tcpmss-set"))
    r_auto = ratio(("esp", "ipsecmss-auto"), ("esp", "tcpmss-clamp"))
    AP, TP = ("plain", "ipsecmss-auto"), ("plain", "tcpmss-clamp")
    AN, TN = ("nat", "ipsecmss-auto"), ("nat", "tcpmss-clamp")
    AB, TB, HB = ("bare", "ipsecmss-auto"), ("bare", "tcpmss-clamp"), ("bare", "hooked-tcpmss-clamp")
    p_plain, n_plain = syn_ratio(d, AP, TP)
    p_nat, n_nat = syn_ratio(d, AN, TN)
    p_bare, n_bare = syn_ratio(d, AB, TB)
    p_hook, n_hook = syn_ratio(d, HB, TB)
    p_bare_h, n_bare_h = syn_ratio(d, AB, HB)
    bmed = {k: median(v) for k, v in bulk.items()}
    r_bulk = (bmed.get(("on", "ipsecmss-nosyn"), float("nan")) / bmed[("on", "none")]
              if bmed.get(("on", "none")) else float("nan"))
    r_bulk_off = (bmed.get(("off", "ipsecmss-nosyn"), float("nan")) / bmed[("off", "none")]
                  if bmed.get(("off", "none")) else float("nan"))
    p_set, n_set = syn_ratio(d, ("plain", "ipsecmss-set"), ("plain", "tcpmss-set"))
    p_auto, n_auto = syn_ratio(d, ("esp", "ipsecmss-auto"), ("esp", "tcpmss-clamp"))
    bulk_on = {r: v for (o, r), v in d["bulk_reps"].items() if o == "on"}
    bulk_off = {r: v for (o, r), v in d["bulk_reps"].items() if o == "off"}
    p_bulk_off, n_bulk_off = paired(bulk_off, "ipsecmss-nosyn", "none")
    CI_OFF = fmt_ci("ipsecmss-nosyn", "none")
    p_bulk, n_bulk = paired(bulk_on, "ipsecmss-nosyn", "none")
    p_ref, n_ref = paired(bulk_on, "ref-checksum", "none")
    p_vs_ref, _ = paired(bulk_on, "ipsecmss-nosyn", "ref-checksum")

    # per-SYN time (us of emulated CPU) and the cost each rule adds, as
    # medians over cycles of what each cycle measured
    def per_cycle(f):
        v = []
        for r in d["syn_reps"].values():
            try:
                x = f({k: sum(x) / len(x) for k, x in r.items()})
            except (KeyError, ZeroDivisionError):
                continue
            v.append(x)
        return median(v)

    def us(k):
        return per_cycle(lambda r: 1e6 / r[k])

    def added_us(k, base):
        return per_cycle(lambda r: 1e6 / r[k] - 1e6 / r[base])

    def gw_ratio(a_, b_):
        s_ = ("plain", "sink")
        return per_cycle(lambda r: (1e6 / r[b_] - 1e6 / r[s_]) / (1e6 / r[a_] - 1e6 / r[s_]))

    def mean_ratio(reps, a_, b_):
        v = [sum(r[a_]) / sum(r[b_]) for r in reps.values() if a_ in r and b_ in r and sum(r[b_]) > 0]
        return statistics.mean(v) if v else float("nan")

    m_set = mean_ratio(d["syn_reps"], ("plain", "ipsecmss-set"), ("plain", "tcpmss-set"))
    m_auto = mean_ratio(d["syn_reps"], ("esp", "ipsecmss-auto"), ("esp", "tcpmss-clamp"))
    m_plain = mean_ratio(d["syn_reps"], AP, TP)
    m_nat = mean_ratio(d["syn_reps"], AN, TN)
    m_bare = mean_ratio(d["syn_reps"], AB, TB)
    m_hook = mean_ratio(d["syn_reps"], HB, TB)
    m_bare_h = mean_ratio(d["syn_reps"], AB, HB)
    m_bulk = mean_ratio(bulk_on, "ipsecmss-nosyn", "none")
    m_bulk_off = mean_ratio(bulk_off, "ipsecmss-nosyn", "none")

    # efficiency rows
    for r in d["eff"]:
        r["zero_slack"] = False
        r["slack"] = "?"
        r["eff_auto"] = r["eff_1360"] = None
        if r["auto"].isdigit():
            auto = int(r["auto"])
            r["wire_auto"] = wire_bytes(r, auto)
            r["eff_auto"] = auto / r["wire_auto"]
            if r["max"].isdigit():
                r["slack"] = int(r["max"]) - auto
                r["zero_slack"] = r["slack"] == 0 and r["verdict"] == "complete"
        r["wire_1360"] = wire_bytes(r, 1360)
        r["eff_1360"] = 1360 / r["wire_1360"]
        r["waste_1360"] = int(r["max"]) - 1360 if r["max"].isdigit() else None

    missed = []
    for name, val in (("set-mss", p_set), ("auto", p_auto), ("auto-plain", p_plain), ("bulk", p_bulk)):
        if not val >= TARGETS[name]:
            missed.append("ratio %s %s < %.2f" % (name, fmt_ratio(val), TARGETS[name]))
            if name == "bulk" and n_ref:
                missed.append(
                    "bulk evidence: 95%% interval of the median %s; an xtables target that does "
                    "nothing (CHECKSUM reference) / no rule: %s (%s); IPSECMSS / that reference: "
                    "%s (%s); TSO/GSO off (4x more segments through the rule): %s (%s)" % (
                        fmt_ci("ipsecmss-nosyn", "none"), fmt_ratio(p_ref), fmt_ci("ref-checksum", "none"),
                        fmt_ratio(p_vs_ref), fmt_ci("ipsecmss-nosyn", "ref-checksum"),
                        fmt_ratio(p_bulk_off), CI_OFF))
    for r in d["eff"]:
        if not r["zero_slack"]:
            missed.append("efficiency row %s: auto %s, largest through %s (%s, %s): slack %s" %
                          (row_label(r), r["auto"], r["max"], r["verdict"], r["how"], r["slack"]))
    if not d["eff"]:
        missed.append("no efficiency rows measured")

    now = time.time()
    wall = "%d min %02d s" % divmod(int(now - a.start), 60) if a.start else "?"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    vmfails = [l for l in read_lines(a.vmlog) if l.startswith("FAIL: ")] if a.vmlog else []

    md = []
    P = md.append
    P("# IPSECMSS benchmarks")
    P("")
    P("Written by `make bench` (tests/bench/run.sh); do not edit by hand.")
    P("")
    P("| | |")
    P("|---|---|")
    P("| date | %s |" % date)
    P("| host | %s, nproc %d, %s (Linux %s) |" % (cpu_model(), os.cpu_count() or 0,
                                                   platform.machine(), platform.release()))
    P("| measured in | QEMU TCG guest (`-accel tcg -smp 2 -m 1024`), kernel %s, %s |" %
      (info.get("kernel", "?"), info.get("iptables", "?")))
    P("| other VMs running on the host at the start | %s |" % a.others)
    P("| wall time of `make bench` | %s (first boot: syn %ss, bulk %ss, eff %ss in the guest; %d boot%s) |" %
      (wall, info.get("time-syn", "?"), info.get("time-bulk", "?"), info.get("time-eff", "?"),
       len(d["syn_boots"]) or 1, "" if len(d["syn_boots"]) <= 1 else "s"))
    P("")
    P("Emulation makes every number here slow and noisy in absolute terms: the")
    P("speed of an emulated CPU swings by up to a factor of two within seconds,")
    P("more so when other work shares the two host cores.  So the two sides of a comparison")
    P("alternate quickly, in cycles that run them forward and back (A B B A: a")
    P("linear drift cancels), every ratio is taken within one cycle, and the")
    P("median over the cycles is reported; medians per configuration are listed")
    P("too.")
    nboots = len(d["syn_boots"])
    if nboots > 1:
        P("")
        P("The SYN part ran in %d boots of the guest (the first one also ran the" % nboots)
        P("bulk and efficiency parts).  Within one boot the cycles agree closely,")
        P("but from one boot to the next every SYN ratio moves by up to 0.1, the")
        P("control `set-mss` (two targets doing the same work) as much as the")
        P("others, and code outside the targets runs at another speed per SYN too")
        P("(not pinned down; where the guest's kernel and modules land is the")
        P("likely cause).  So a SYN ratio is the median over the")
        P("boots of each boot's median over its cycles, and each boot's own value")
        P("stands beside it; SYN rates per configuration are pooled over all boots.")
        P("")
    for k in d["syn_boots"]:
        d["runs"]["syn" if k == 1 else "b%d:syn" % k] = "syn"
    shares = cpu_shares(a.marks, d["runs"])
    if shares:
        P("The host measured how much of each measured window the guest's vCPU 0")
        P("thread actually ran (schedstat): %s; the spread is" % "; ".join(
            "%s: median %.0f%%, lowest %.0f%%" % (k, median(v) * 100, min(v) * 100)
            for k, v in sorted(shares.items())))
        P("the emulated CPU's speed more than lost CPU time.")
    P("")
    P("## Ratios and targets")
    P("")
    if nboots > 1:
        P("| ratio | value: median over boots (SYN rows; bulk: over cycles) | each boot's median over its cycles (bulk: 95% confidence interval) | mean of the cycle ratios | cycles | target | |")
    else:
        P("| ratio | value: median over cycles of the cycle's ratio | 95% confidence interval of that median | mean of the cycle ratios | cycles | target | |")
    P("|---|---|---|---|---|---|---|")
    IS, TS = ("plain", "ipsecmss-set"), ("plain", "tcpmss-set")
    IA, TC = ("esp", "ipsecmss-auto"), ("esp", "tcpmss-clamp")
    for name, val, ci, mv, n, t in (
            ("set-mss: IPSECMSS / TCPMSS `--set-mss 1360`, SYN rate", p_set, fmt_ci(IS, TS), m_set, n_set,
             TARGETS["set-mss"]),
            ("auto: IPSECMSS `--auto` / TCPMSS `--clamp-mss-to-pmtu`, SYNs out of ESP", p_auto,
             fmt_ci(IA, TC), m_auto, n_auto, TARGETS["auto"]),
            ("auto-plain: IPSECMSS `--auto` / TCPMSS `--clamp-mss-to-pmtu`, plain SYNs no IPsec path "
             "touches (the gateway holds the esp rows' policies)", p_plain,
             fmt_ci(AP, TP), m_plain, n_plain, TARGETS["auto-plain"]),
            ("bulk: with `-p tcp -j IPSECMSS --set-mss 1360` / without, TSO/GSO on", p_bulk,
             fmt_ci("ipsecmss-nosyn", "none"), m_bulk, n_bulk, TARGETS["bulk"])):
        P("| %s | %s | %s | %s | %d | >= %.2f | %s |" % (name, fmt_ratio(val), ci, fmt_ratio(mv), n, t,
                                                         "met" if val >= t else "**missed**"))
    for name, val, ci, mv, n in (
            ("auto-nat: IPSECMSS `--auto` / TCPMSS `--clamp-mss-to-pmtu`, NAT before IPsec (source NAT, "
             "then a tunnel policy; --auto rewrites after NAT, TCPMSS cannot; not a target)",
             p_nat, fmt_ci(AN, TN), m_nat, n_nat),
            ("bare: IPSECMSS `--auto` (its hook included) / TCPMSS `--clamp-mss-to-pmtu` in a netns "
             "without --auto rules; no xfrm state or policy at all (not a target)",
             p_bare, fmt_ci(AB, TB), m_bare, n_bare),
            ("bare: IPSECMSS `--auto` / TCPMSS `--clamp-mss-to-pmtu`, both in the netns with the "
             "--auto rule (not a target)", p_bare_h, fmt_ci(AB, HB), m_bare_h, n_bare_h),
            ("the after-NAT hook: TCPMSS `--clamp-mss-to-pmtu` in a netns with an --auto rule / "
             "without (not a target)", p_hook, fmt_ci(HB, TB), m_hook, n_hook)):
        if n:
            P("| %s | %s | %s | %s | %d | | |" % (name, fmt_ratio(val), ci, fmt_ratio(mv), n))
    P("| bulk, TSO/GSO off (every segment crosses the rule alone; not a target) | %s | %s | %s | %d | | |" %
      (fmt_ratio(p_bulk_off), CI_OFF, fmt_ratio(m_bulk_off), n_bulk_off))
    if n_ref:
        P("| bulk, TSO/GSO on: reference `-p tcp -j CHECKSUM --checksum-fill` / without (any xtables target) | %s | %s | | %d | | |" %
          (fmt_ratio(p_ref), fmt_ci("ref-checksum", "none"), n_ref))
        P("| bulk, TSO/GSO on: IPSECMSS / the CHECKSUM reference | %s | %s | | %d | | |" %
          (fmt_ratio(p_vs_ref), fmt_ci("ipsecmss-nosyn", "ref-checksum"), n_ref))
    zero = sum(1 for r in d["eff"] if r["zero_slack"])
    P("| efficiency rows with 0 bytes of slack | %d of %d | | | | all | %s |" %
      (zero, len(d["eff"]), "met" if d["eff"] and zero == len(d["eff"]) else "**missed**"))
    P("")

    P("## 1. SYN forwarding rate")
    P("")
    P("`tests/bench/synflood.c` sends crafted SYNs (Linux layout: MSS 1460, SACK_PERM,")
    P("TS, NOP, WS) from an AF_PACKET socket in the client namespace as fast as it")
    P("can; the rate is what the gateway forwarded (its egress veth's tx_packets)")
    P("per second.  Every rule is in the gateway's mangle FORWARD chain at once,")
    P("behind its own source address (`-s`) and the same `-p tcp --tcp-flags SYN,RST")
    P("SYN` match, so every SYN pays every address test alike; the generator")
    P("switches among the configurations (its source addresses) every 0.1 s, in")
    P("cycles forward and back over all of them, for %s s.  Generator and gateway" % info.get("syn_secs", "?"))
    P("share vCPU 0 (a veth runs the receiver on the sender's CPU, and with the")
    P("gateway steered to vCPU 1 the generator, not the gateway, was the")
    P("bottleneck), so a rate is 1 / (generator + gateway time per SYN); \"sink\"")
    P("is the generator's part alone.  *plain*: SYNs from 192.0.2.2x; *esp*: the")
    P("same SYNs in tunnel-mode ESP with the NULL cipher from 10.99.0.2x,")
    P("decapsulated by a real xfrm SA on the gateway, so `--auto` takes the secpath")
    P("branch (route toward the SA's peer, then `xfrm_state_mtu`).  The plain")
    P("SYNs cross the same gateway, whose xfrm policies they match none of.")
    P("Two more scenes, each a gateway namespace of its own reached by another")
    P("veth of the client, alternate in the same cycles (`synflood --path`):")
    P("*nat*: NAT before IPsec, SYNs from 192.0.2.3x that the gateway")
    P("source-NATs to 172.16.0.1 (`-t nat -A POSTROUTING -j SNAT`), whose")
    P("translated source selects a tunnel policy (NULL cipher) toward a peer")
    P("behind the egress veth: conntrack, NAT, the re-route into the bundle and")
    P("ESP output for every row; the rule stands in mangle FORWARD, before NAT,")
    P("so TCPMSS sizes the untranslated route (1460 leaves) and `--auto` lowers")
    P("the MSS in its own hook after source NAT (`after_nat`); its own namespace")
    P("because conntrack would tax every other row.  *bare*: a gateway with no")
    P("xfrm state or policy at all, in two twin namespaces with the same two")
    P("rules, `-s .41 -j TCPMSS --clamp-mss-to-pmtu` and `-s .42 -j IPSECMSS`,")
    P("`--set-mss 1360` in the first (no `--auto` rule, so no after-NAT hook) and")
    P("`--auto` in the second (the module's POSTROUTING hook registered): TCPMSS")
    P("in both shows what the hook costs a packet it does not concern, and")
    P("`--auto` against TCPMSS without the hook is what `--auto` costs a gateway")
    P("that has no IPsec.  Time per SYN = 1 / rate in microseconds of the")
    P("emulated CPU; \"added\" = time per SYN minus that with no target, same")
    P("traffic, in the same cycle (*bare*: minus TCPMSS in the namespace without")
    P("the hook; medians over cycles).  A slice ends when the gateway's deferred")
    P("receive work (ksoftirqd) is done, so no SYN is counted in another slice.")
    P("")
    P("| traffic | configuration | median SYN/s | min | max | cycles | us per SYN | added us (vs no target) | total sent / counted |")
    P("|---|---|---|---|---|---|---|---|---|")
    for k in SYN_ORDER:
        v = syn.get(k)
        if not v:
            continue
        base = (k[0], "none") if k[0] != "bare" else TB
        added = "" if k[1] in ("none", "sink") or k == TB or base not in syn else \
            "%+.2f" % added_us(k, base)
        tot = d["syn_totals"].get(k, {})
        P("| %s | %s | %.0f | %.0f | %.0f | %d | %.2f | %s | %s / %s |" %
          (k[0], SYN_LABEL.get(k[1], k[1]), med[k], min(v), max(v), len(v), us(k), added,
           tot.get("sent", "?"), tot.get("counted", "?")))
    P("")
    if med.get(("plain", "sink")):
        t_sink = us(("plain", "sink"))
        P("Without the generator's share (time per SYN minus the sink's, %.2f us, in" % t_sink)
        P("each cycle; median over cycles; for")
        P("*esp* the plain sink is used, so the ESP frames' few extra bytes count as")
        P("gateway time):")
        P("")
        P("| comparison | gateway-only ratio |")
        P("|---|---|")
        for name, a_, b_ in (("IPSECMSS / TCPMSS --set-mss", ("plain", "ipsecmss-set"), ("plain", "tcpmss-set")),
                             ("IPSECMSS --auto / TCPMSS --clamp-mss-to-pmtu (esp)", ("esp", "ipsecmss-auto"), ("esp", "tcpmss-clamp")),
                             ("IPSECMSS --auto / TCPMSS --clamp-mss-to-pmtu (plain, route only)", AP, TP),
                             ("IPSECMSS --auto / TCPMSS --clamp-mss-to-pmtu (nat before IPsec)", AN, TN),
                             ("IPSECMSS --auto / TCPMSS --clamp-mss-to-pmtu without --auto rules (bare)", AB, TB),
                             ("TCPMSS --clamp-mss-to-pmtu with / without the after-NAT hook (bare)", HB, TB)):
            if med.get(a_) and med.get(b_):
                P("| %s | %.2f |" % (name, gw_ratio(a_, b_)))
        P("")
    checks = [c for c in d["checks"] if c.startswith("syn ")]
    if checks:
        P("Check round (each configuration alone for 1 s, not counted): the MSS the")
        P("server received, the rule (by position) whose counter moved, and the")
        P("module's counters that moved:")
        P("")
        P("```")
        for c in checks:
            P(c)
        P("```")
        P("")

    P("## 2. Bulk TCP throughput")
    P("")
    P("One iperf3 stream from the client namespace through the gateway to the")
    P("server runs without a break while the rule `-p tcp -j IPSECMSS --set-mss")
    P("1360` (no SYN match in front: every segment reaches the target) is")
    P("switched on and off in slices of %s s, none, rule, rule, none per cycle; a" % info.get("bulk_slice", "?"))
    P("slice's throughput is the bytes the gateway's egress veth sent in it (the")
    P("first 0.25 s after a switch not counted).  The rule sits in a chain of its")
    P("own (iptables-nft `-A ipsm -p tcp -j IPSECMSS --set-mss 1360`) and a")
    P("long-running `nft -i` switches it with no process start: on = `jump ipsm`")
    P("in mangle FORWARD (one native jump more than the bare rule), off = an empty")
    P("FORWARD chain; every switch is the same nft transaction (two flushes, one")
    P("jump added, to FORWARD or to an unhooked chain).  With offloads on, a third")
    P("state, `-j CHECKSUM --checksum-fill` (an xtables target that leaves GSO")
    P("packets alone), is the cost of any xtables target through nft_compat:")
    P("none, IPSECMSS, CHECKSUM, CHECKSUM, IPSECMSS, none per cycle.")
    P("iperf3, its server and the gateway's softirq work are on")
    P("vCPU 0, the switching on vCPU 1.  Both ends announce MSS 1360 themselves")
    P("(route advmss), so the segment size is the same either way.  *TSO/GSO on*:")
    P("the veth defaults (the gateway forwards super-packets of up to 64 KB, as it")
    P("would GRO-merged ones); *off*: TSO and GSO off on the client's veth, so")
    P("every MSS-sized segment crosses the rule on its own.")
    P("")
    P("| offloads | configuration | median Mbit/s | min | max | slices |")
    P("|---|---|---|---|---|---|")
    for off in ("on", "off"):
        for cfg, lab in (("none", "no rule"), ("ipsecmss-nosyn", "IPSECMSS --set-mss 1360, no --syn"),
                         ("ref-checksum", "reference: CHECKSUM --checksum-fill")):
            v = bulk.get((off, cfg))
            if v:
                P("| TSO/GSO %s | %s | %.0f | %.0f | %.0f | %d |" %
                  (off, lab, median(v), min(v), max(v), len(v)))
    bchecks = [c for c in d["checks"] if c.startswith("bulk ")]
    if bchecks:
        P("")
        P("```")
        for c in bchecks:
            P(c)
        P("```")
    P("")

    P("## 3. Instructions of the pure core per SYN (host, callgrind)")
    P("")
    P("`tests/bench/corecount.c`: what `ipsecmss_tg()` does with a SYN's TCP header")
    P("once it holds it (flags, data offset, `ipsecmss_walk`, then `ipsecmss_rewrite`")
    P("at the offsets the walk recorded, or `ipsecmss_insert`; full checksum update),")
    P("gcc -O2, instructions (Ir)")
    P("counted by `valgrind --tool=callgrind --toggle-collect=per_syn` over 1000 SYNs.")
    P("")
    P("| layout | TCP header | MSS <= target (walk only) | MSS 1460 -> 1360 (walk + rewrite) | insertion of MSS |")
    P("|---|---|---|---|---|")
    lay = {"linux": ("Linux: MSS,SACK_PERM,TS,NOP,WS", 40), "windows": ("Windows: MSS,NOP,WS,NOP,NOP,SACK_PERM", 32),
           "mss": ("MSS only", 24), "none": ("no options (no MSS)", 20), "nomss": ("SACK_PERM,TS,NOP,WS (no MSS)", 36)}
    cc = {(c[1], c[2]): c[3] for c in core if len(c) >= 4}
    for k, (lab, hl) in lay.items():
        P("| %s | %d bytes | %s | %s | %s |" % (lab, hl, cc.get((k, "unchanged"), "-"),
                                                cc.get((k, "rewrite"), "-"), cc.get((k, "insert"), "-")))
    P("")
    P("The option list is walked once per SYN: the rewrite re-checks only the")
    P("recorded MSS offsets (kind and length bytes) instead of walking again.")
    P("")

    P("## 4. MSS efficiency over real SAs")
    P("")
    P("Scene of tests/net/lib-ipsec.sh (client -> static `ip xfrm` tunnel-mode SAs ->")
    P("gateway -> server that drops ICMP too-big).  *--auto*: the MSS the server saw")
    P("with `-j IPSECMSS --auto` on the gateway (the download then completed or")
    P("stalled); *largest through*: `check_max_mss` around it with the kernel's own")
    P("TCPMSS as oracle (that MSS completes a 64 KB download, one more stalls: 0 bytes")
    P("of slack proven), else bisected; *kernel arithmetic*: the library's own")
    P("`xfrm_state_mtu` arithmetic.  Wire bytes: the ESP packet of a full segment on")
    P("the underlay (outer IP + UDP under NAT-T + ESP header + IV + payload padded to")
    P("the cipher block + ICV); efficiency = MSS / wire bytes.")
    P("")
    P("| # | suite | NAT-T | inner/outer | underlay MTU | --auto MSS | largest through | slack | kernel arithmetic | wire bytes | efficiency | 1360 | 1360 wire bytes | 1360 efficiency |")
    P("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(d["eff"], 1):
        slack = ("%d (edge proven)" % r["slack"]) if r["zero_slack"] else str(r["slack"])
        if r["v1360"] == "complete":
            v1360 = "completes (%s bytes below the largest)" % r["waste_1360"]
            e1360 = "%.2f%%" % (r["eff_1360"] * 100)
        else:
            v1360 = "**stalls** (black hole)" if r["v1360"] == "stall" else r["v1360"]
            e1360 = "-"
        P("| %d | %s | %s | IPv%d/IPv%d | %d | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            i, r["suite"], "yes" if r["natt"] else "no", r["inner"], r["outer"], r["mtu"],
            r["auto"], r["verdict"], r["max"], slack, r["calc"],
            r.get("wire_auto", "-"),
            "%.2f%%" % (r["eff_auto"] * 100) if r["eff_auto"] else "-",
            v1360, r["wire_1360"], e1360))
    P("")
    P("![efficiency](efficiency.svg)")
    P("")
    if missed or vmfails:
        P("## Missed targets and failures")
        P("")
        for m in missed:
            P("- " + m)
        for f in vmfails:
            P("- VM: `%s`" % f)
        P("")

    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "RESULTS.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    svg_efficiency(d["eff"], os.path.join(a.outdir, "efficiency.svg"))

    # --- the summary on stdout ---
    print("bench: results in %s/RESULTS.md and efficiency.svg (wall time %s)" % (a.outdir, wall))
    print("SYN/s (median): " + ", ".join("%s %s %.0f" % (k[0], k[1], med[k]) for k in SYN_ORDER if k in med))
    print("bulk Mbit/s (median): " + ", ".join("gso-%s %s %.0f" % (k[0], k[1], v) for k, v in sorted(bmed.items())))
    print("core Ir per SYN (rewrite): " + ", ".join("%s %s" % (k, cc.get((k, "rewrite"), "-")) for k in lay))
    for r in d["eff"]:
        print("eff %-44s auto %s largest %s slack %s eff %.2f%% 1360 %s" % (
            row_label(r), r["auto"], r["max"], r["slack"], (r["eff_auto"] or 0) * 100, r["v1360"]))
    for f in vmfails:
        print("bench: VM " + f)
    for m in missed:
        print("bench: target missed: " + m)
    sys.stdout.flush()
    print("ratio set-mss %s" % fmt_ratio(p_set))
    print("ratio auto %s" % fmt_ratio(p_auto))
    print("ratio bulk %s" % fmt_ratio(p_bulk))
    print("ratio auto-nat %s" % fmt_ratio(p_nat))
    print("ratio auto-plain %s" % fmt_ratio(p_plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
