#!/usr/bin/env python3
"""Turns bench/load.sh's measurements into the load section of BENCHMARKS.md
and an SVG bar chart. Standard library only.

    python3 bench/report.py results/load.jsonl results/load-machine.json load-chart.svg ../BENCHMARKS.md

Medians over rounds per app and route; each ratio is the median of the
per-round ratios (app and baseline measured in the same round), with the
per-round values beside it. The section between the load markers of
BENCHMARKS.md is replaced; the rest of the file is kept.
"""

import json
import math
import os
import statistics
import sys
from collections import defaultdict

BEGIN = "<!-- load:begin (written by bench/load.sh; edits inside are overwritten) -->"
END = "<!-- load:end -->"

APP_ORDER = ["ours-poem", "poem-builtin", "raw-poem", "bare-poem", "bare-poem-2",
             "ours-rocket", "raw-rocket", "bare-rocket",
             "tower-sessions", "raw-axum", "bare-axum"]
APP_LABEL = {
    "ours-poem": "ours, Poem demo",
    "poem-builtin": "poem `ServerSession<RedisStorage>`",
    "raw-poem": "raw Poem (limit)",
    "bare-poem": "bare Poem",
    "bare-poem-2": "bare Poem, again (A/A)",
    "ours-rocket": "ours, Rocket demo",
    "raw-rocket": "raw Rocket (limit)",
    "bare-rocket": "bare Rocket",
    "tower-sessions": "axum + tower-sessions (Redis store)",
    "raw-axum": "raw axum (limit)",
    "bare-axum": "bare axum",
}
ROUTES = ["plain", "incr", "read"]
# (label, app, route, baseline app, baseline route)
RATIOS = [
    ("Poem `/plain` with a cookie ÷ bare Poem", "ours-poem", "plain", "bare-poem", "plain"),
    ("Poem `/incr` ÷ raw Poem", "ours-poem", "incr", "raw-poem", "incr"),
    ("Poem `/read` ÷ raw Poem", "ours-poem", "read", "raw-poem", "read"),
    ("Rocket `/plain` with a cookie ÷ bare Rocket", "ours-rocket", "plain", "bare-rocket", "plain"),
    ("Rocket `/incr` ÷ raw Rocket", "ours-rocket", "incr", "raw-rocket", "incr"),
    ("Rocket `/read` ÷ raw Rocket", "ours-rocket", "read", "raw-rocket", "read"),
]
PEER_RATIOS = [
    ("poem built-in `/plain` with a cookie ÷ bare Poem", "poem-builtin", "plain", "bare-poem", "plain"),
    ("poem built-in `/incr` ÷ raw Poem", "poem-builtin", "incr", "raw-poem", "incr"),
    ("poem built-in `/read` ÷ raw Poem", "poem-builtin", "read", "raw-poem", "read"),
    ("tower-sessions `/plain` with a cookie ÷ bare axum", "tower-sessions", "plain", "bare-axum", "plain"),
    ("tower-sessions `/incr` ÷ raw axum", "tower-sessions", "incr", "raw-axum", "incr"),
    ("tower-sessions `/read` ÷ raw axum", "tower-sessions", "read", "raw-axum", "read"),
]
# Each library against its own framework's baseline, side by side (issue 20):
# (column label, app, {route: baseline app}).
LIBRARIES = [
    ("ours on Poem", "ours-poem", {"plain": "bare-poem", "incr": "raw-poem", "read": "raw-poem"}),
    ("ours on Rocket", "ours-rocket", {"plain": "bare-rocket", "incr": "raw-rocket", "read": "raw-rocket"}),
    ("poem built-in", "poem-builtin", {"plain": "bare-poem", "incr": "raw-poem", "read": "raw-poem"}),
    ("tower-sessions on axum", "tower-sessions", {"plain": "bare-axum", "incr": "raw-axum", "read": "raw-axum"}),
]
AA = ("bare Poem ÷ bare Poem (A/A)", "bare-poem-2", "plain", "bare-poem", "plain")
AIM = 0.95


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            w = r["wrk"]
            n = max(w["requests"], 1)
            r["rps"] = n / (w["duration_us"] / 1e6)
            r["p99_ms"] = w["p99_us"] / 1e3
            r["cpu_us"] = r["app_cpu_ticks"] * r["tick_us"] / n
            r["redis_cpu_us"] = r["redis_cpu_ticks"] * r["tick_us"] / n
            r["cmds"] = {k: v / n for k, v in r["commands"].items()}
            r["cmds_total"] = sum(r["cmds"].values())
            rows.append(r)
    return rows


def fmt_cmds(cmds):
    total = sum(cmds.values())
    parts = [f"{k.upper()} {v:.2f}" for k, v in sorted(cmds.items()) if v >= 0.005]
    return f"{total:.2f}" + (f" ({', '.join(parts)})" if parts else "")


def med_cmds(runs):
    names = sorted({k for r in runs for k in r["cmds"]})
    return {k: statistics.median(r["cmds"].get(k, 0.0) for r in runs) for k in names}


def ratios(by, app, route, base, base_route):
    out = []
    for rnd in sorted({k[2] for k in by}):
        a, b = by.get((app, route, rnd)), by.get((base, base_route, rnd))
        if a and b:
            out.append(a["rps"] / b["rps"])
    return out


def svg_chart(medians, ratio_rows, aa, path):
    """Two panels: the ratios with their per-round range and the A/A band, and
    requests/s per app and route."""
    W = 920
    left = 330
    bar_w = W - left - 40
    # Panel 1: ratios
    r_h = 22
    top1 = 78
    p1_h = len(ratio_rows) * r_h
    # Panel 2: req/s
    apps = [a for a in APP_ORDER if any((a, rt) in medians for rt in ROUTES)]
    rows2 = [(a, rt) for a in apps for rt in ROUTES if (a, rt) in medians]
    top2 = top1 + p1_h + 118
    p2_h = len(rows2) * 16 + len(apps) * 8
    H = top2 + p2_h + 30
    xmax = max(1.2, max(max(v) for _, v, _, _ in ratio_rows) + 0.05)
    x = lambda v: left + bar_w * v / xmax
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
           'Session layer throughput over Redis, wrk on loopback (medians of rounds)</text>',
           f'<text x="20" y="{top1 - 28}" font-size="13" font-weight="bold">'
           'Throughput ÷ same-framework baseline (bar: median of rounds; whisker: lowest–highest round)</text>']
    if aa:
        lo, hi = min(aa), max(aa)
        out.append(f'<rect x="{x(lo):.1f}" y="{top1}" width="{max(x(hi) - x(lo), 2):.1f}" '
                   f'height="{p1_h}" fill="#9cf" fill-opacity="0.45"/>')
        out.append(f'<rect x="{left}" y="{top1 + p1_h + 38}" width="14" height="10" fill="#9cf" fill-opacity="0.45"/>')
        out.append(f'<text x="{left + 20}" y="{top1 + p1_h + 47}" fill="#246">'
                   f'A/A band: bare Poem ÷ itself, {lo:.2f}–{hi:.2f}</text>')
    for v in [0, 0.25, 0.5, 0.75, 1.0] + ([1.25] if xmax > 1.25 else []):
        out.append(f'<line x1="{x(v):.1f}" y1="{top1}" x2="{x(v):.1f}" y2="{top1 + p1_h}" stroke="#eee"/>')
        out.append(f'<text x="{x(v):.1f}" y="{top1 + p1_h + 16}" text-anchor="middle" fill="#444">{v:.2f}</text>')
    out.append(f'<line x1="{x(AIM):.1f}" y1="{top1 - 4}" x2="{x(AIM):.1f}" y2="{top1 + p1_h + 4}" '
               'stroke="#c00" stroke-dasharray="4,3"/>')
    out.append(f'<text x="{x(AIM):.1f}" y="{top1 - 7}" text-anchor="middle" fill="#c00">aim 0.95</text>')
    for i, (label, vals, peer, ir_ratio) in enumerate(ratio_rows):
        y = top1 + i * r_h
        m = statistics.median(vals)
        color = "#999" if peer else ("#2a7" if m >= AIM else "#d80")
        out.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{esc(label)}</text>')
        out.append(f'<rect x="{left}" y="{y + 4}" width="{x(m) - left:.1f}" height="{r_h - 8}" fill="{color}"/>')
        out.append(f'<line x1="{x(min(vals)):.1f}" y1="{y + r_h / 2}" x2="{x(max(vals)):.1f}" '
                   f'y2="{y + r_h / 2}" stroke="#222"/>')
        out.append(f'<text x="{x(max(m, max(vals))) + 5:.1f}" y="{y + 15}">{m:.2f}</text>')
        if ir_ratio:
            cx, cy = x(ir_ratio), y + r_h / 2
            out.append(f'<path d="M{cx:.1f},{cy - 6} L{cx + 5:.1f},{cy} L{cx:.1f},{cy + 6} L{cx - 5:.1f},{cy} Z" '
                       'fill="#222" stroke="white" stroke-width="1"/>')
    if any(row[3] for row in ratio_rows):
        lx, ly = left + 2, top1 + p1_h + 56
        out.append(f'<path d="M{lx + 5},{ly - 1} L{lx + 10},{ly + 5} L{lx + 5},{ly + 11} L{lx},{ly + 5} Z" fill="#222"/>')
        out.append(f'<text x="{lx + 16}" y="{ly + 9}" fill="#222">instructions/req, baseline ÷ app (callgrind)</text>')
    # Panel 2
    rmax = max(medians[k]["rps"] for k in rows2)
    steps = 5
    mag = 10 ** (len(str(int(rmax / steps))) - 1)
    step = next(m * mag for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if m * mag * steps >= rmax)
    rtop = step * steps
    xr = lambda v: left + bar_w * v / rtop
    out.append(f'<text x="20" y="{top2 - 12}" font-size="13" font-weight="bold">'
               'Requests per second (median), per app and route</text>')
    colors = {"plain": "#8ab", "incr": "#c75", "read": "#58c"}
    for s in range(steps + 1):
        v = rtop * s / steps
        out.append(f'<line x1="{xr(v):.1f}" y1="{top2}" x2="{xr(v):.1f}" y2="{top2 + p2_h}" stroke="#eee"/>')
        out.append(f'<text x="{xr(v):.1f}" y="{top2 + p2_h + 16}" text-anchor="middle" fill="#444">{v:,.0f}</text>')
    y = top2
    for a in apps:
        first = True
        for rt in ROUTES:
            if (a, rt) not in medians:
                continue
            v = medians[(a, rt)]["rps"]
            if first:
                out.append(f'<text x="{left - 70}" y="{y + 12}" text-anchor="end">{esc(APP_LABEL[a])}</text>')
                first = False
            out.append(f'<text x="{left - 8}" y="{y + 12}" text-anchor="end" fill="#444">/{rt}</text>')
            out.append(f'<rect x="{left}" y="{y + 2}" width="{xr(v) - left:.1f}" height="12" fill="{colors[rt]}"/>')
            out.append(f'<text x="{xr(v) + 5:.1f}" y="{y + 12}" fill="#222">{v:,.0f}</text>')
            y += 16
        y += 8
    out.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "")


GROW_BEGIN = "<!-- grow:begin (written by bench/grow.sh; edits inside are overwritten) -->"
GROW_END = "<!-- grow:end -->"
GROW_APPS = [("grow_ours_poem", "ours, Poem", "#2a7"), ("grow_poem_builtin", "poem built-in", "#999")]


def grow_label(keys, size):
    text = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
    return f"{keys} key{'s' if keys > 1 else ''}, ~{text}"


def grow_chart(points, data, path):
    """Instructions per request per point, /read and /incr side by side, a
    bar per app."""
    W, left, gap = 920, 150, 40
    panel_w = (W - left - 20 - gap) / 2
    row_h, bar_h = 30, 11
    top = 70
    H = top + len(points) * row_h + 70
    # A log axis: the points span 40k to millions of instructions.
    lo = 10 ** math.floor(math.log10(min(v["instructions"] for v in data.values())))
    hi = 10 ** math.ceil(math.log10(max(v["instructions"] for v in data.values())))
    decades = max(round(math.log10(hi / lo)), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
           'How cost grows with the session: instructions per request, whole app over Redis (callgrind)</text>',
           f'<text x="{W / 2}" y="42" text-anchor="middle" fill="#444">log scale; bench/grow.sh</text>']
    for p, route in enumerate(["read", "incr"]):
        x0 = left + p * (panel_w + gap)
        x = lambda v: x0 + panel_w * math.log10(v / lo) / decades
        out.append(f'<text x="{x0}" y="{top - 14}" font-size="13" font-weight="bold">/{route}</text>')
        for d in range(decades + 1):
            v = lo * 10 ** d
            out.append(f'<line x1="{x(v):.1f}" y1="{top}" x2="{x(v):.1f}" y2="{top + len(points) * row_h}" stroke="#eee"/>')
            label = f"{v / 1e6:g}M" if v >= 1e6 else f"{v / 1e3:g}k"
            out.append(f'<text x="{x(v):.1f}" y="{top + len(points) * row_h + 14}" text-anchor="middle" fill="#444">'
                       f'{label}</text>')
        for i, (keys, size) in enumerate(points):
            y = top + i * row_h
            if p == 0:
                out.append(f'<text x="{left - 8}" y="{y + 18}" text-anchor="end">{grow_label(keys, size)}</text>')
            for j, (app, _, color) in enumerate(GROW_APPS):
                r = data.get((app, route, keys, size))
                if not r:
                    continue
                yy = y + 3 + j * (bar_h + 2)
                v = r["instructions"]
                out.append(f'<rect x="{x0}" y="{yy}" width="{x(v) - x0:.1f}" height="{bar_h}" fill="{color}"/>')
                out.append(f'<text x="{x(v) + 4:.1f}" y="{yy + 10}" font-size="10" fill="#222">{v / 1000:,.1f}k</text>')
    ly = H - 24
    for j, (_, label, color) in enumerate(GROW_APPS):
        out.append(f'<rect x="{left + j * 160}" y="{ly}" width="14" height="10" fill="{color}"/>')
        out.append(f'<text x="{left + j * 160 + 20}" y="{ly + 9}">{label}</text>')
    out.append('</svg>')
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def grow_main(data_path, svg_path, md_path):
    data = {}
    for line in open(data_path):
        if line.strip():
            r = json.loads(line)
            data[(r["app"], r["route"], r["keys"], r["bytes"])] = r
    points = sorted({(k[2], k[3]) for k in data}, key=lambda p: (p[1], p[0]))
    grow_chart(points, data, svg_path)
    rel = os.path.relpath(svg_path, os.path.dirname(os.path.abspath(md_path)))
    base = points[0] if points else None
    lines = [GROW_BEGIN, "", "## How cost grows with the session (callgrind, over Redis)", "",
             "```sh", "bash bench/grow.sh        # SECONDS_=3: each point's counted wrk run", "```", "",
             f"![Instructions per request by session size and key count]({rel})", "",
             "Instructions per request of the whole app (all threads, user space), over the app's own"
             " Redis, from `bench/profile.sh` with `wrk -c8`: one session per connection, created by the"
             " app's `/fill` route with the padding (that many keys holding `x` strings, about that many"
             " bytes), then `/read` (load, read the typed count) or `/incr` (load, write the count back)."
             " *Record* is the stored record's size in bytes (`STRLEN`; ours msgpack, poem's built-in"
             " JSON). *Growth* is the instructions above the same app's 1-key ~100 B point. Ours is"
             " the Poem demo's handlers with default settings (`write_mode = \"merge\"`, refresh on"
             " each request, so `/read` is a `GETEX` and a new `Set-Cookie`); poem's built-in is"
             " `ServerSession<RedisStorage>` as in the load benchmark (`/read` is a `GET`, `/incr`"
             " a `SETEX` of the whole JSON).", "",
             "| session | route | record ours / poem (B) | ours | poem built-in | ours ÷ poem | growth ours | growth poem |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for route in ["read", "incr"]:
        for keys, size in points:
            o = data.get(("grow_ours_poem", route, keys, size))
            q = data.get(("grow_poem_builtin", route, keys, size))
            ob = data.get(("grow_ours_poem", route) + base)
            qb = data.get(("grow_poem_builtin", route) + base)
            fmt = lambda r: f"{r['instructions']:,}" if r else "—"
            ratio = f"{o['instructions'] / q['instructions']:.2f}" if o and q else "—"
            g = lambda r, b: f"{r['instructions'] - b['instructions']:+,}" if r and b else "—"
            rec = f"{o['record'] if o else '—'} / {q['record'] if q else '—'}"
            lines.append(f"| {grow_label(keys, size)} | `/{route}` | {rec} | {fmt(o)} | {fmt(q)} | {ratio} | {g(o, ob)} | {g(q, qb)} |")
    lines += ["", GROW_END]
    section = "\n".join(lines)
    md = open(md_path).read()
    if GROW_BEGIN in md and GROW_END in md:
        head, rest = md.split(GROW_BEGIN, 1)
        md = head + section + rest.split(GROW_END, 1)[1]
    else:
        md = md.replace(END, END + "\n\n" + section, 1)
    open(md_path, "w").write(md)


def only_main(data_path):
    """A subset run (APPS_ONLY): medians per app and route, each app's app
    CPU per request and throughput over the raw or bare app of its framework
    (round by round, then the median), and the A/A band when both bare Poem
    runs are in; BENCHMARKS.md is left alone."""
    rows = load(data_path)
    by = {(r["app"], r["route"], r["round"]): r for r in rows}
    groups = defaultdict(list)
    for r in rows:
        groups[(r["app"], r["route"])].append(r)
    def base_of(app, route):
        framework = next((f for f in ("rocket", "axum") if f in app), "poem")
        if app == "tower-sessions":
            framework = "axum"
        return ("bare-" if route == "plain" else "raw-") + framework
    print("| app | route | req/s | app µs/req | Redis µs/req | throughput ÷ base | CPU ÷ base |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for (app, route), runs in sorted(groups.items()):
        med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
        base = base_of(app, route)
        tput, cpu = "", ""
        if base != app and (base, route) in groups:
            t = ratios(by, app, route, base, route)
            c = [by[(app, route, n)]["cpu_us"] / by[(base, route, n)]["cpu_us"]
                 for n in sorted({r["round"] for r in runs})
                 if (base, route, n) in by and by[(base, route, n)]["cpu_us"] > 0]
            tput = f"{statistics.median(t):.2f}" if t else ""
            cpu = f"{statistics.median(c):.2f}×" if c else ""
        print(f"| {app} | /{route} | {med('rps'):.0f} | {med('cpu_us'):.1f} | "
              f"{med('redis_cpu_us'):.1f} | {tput} | {cpu} |")
    aa = ratios(by, *AA[1:])
    if aa:
        print(f"\nA/A band (bare Poem ÷ bare Poem, per round): {min(aa):.2f}-{max(aa):.2f}")


def main():
    if sys.argv[1] == "--grow":
        grow_main(*sys.argv[2:5])
        return
    if sys.argv[1] == "--only":
        only_main(sys.argv[2])
        return
    data_path, machine_path, svg_path, md_path = sys.argv[1:5]
    ir_path = sys.argv[5] if len(sys.argv) > 5 else ""
    ir = {}
    if ir_path and os.path.exists(ir_path):
        for line in open(ir_path):
            if line.strip():
                r = json.loads(line)
                ir[(r["app"], r["route"])] = r["instructions"]
    ir[("bare-poem-2", "plain")] = ir.get(("bare-poem", "plain"))
    rows = load(data_path)
    machine = json.load(open(machine_path))
    by = {(r["app"], r["route"], r["round"]): r for r in rows}
    groups = defaultdict(list)
    for r in rows:
        groups[(r["app"], r["route"])].append(r)
    medians = {}
    for key, runs in groups.items():
        medians[key] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "cpu_us": statistics.median(r["cpu_us"] for r in runs),
            "redis_cpu_us": statistics.median(r["redis_cpu_us"] for r in runs),
            "cmds": med_cmds(runs),
            "errors": sum(r["wrk"]["errors"] + r["wrk"]["status_errors"] for r in runs),
            "fresh": sum(r["wrk"]["fresh"] for r in runs),
            "rounds": len(runs),
        }
    rounds = len({r["round"] for r in rows})

    aa = ratios(by, *AA[1:])
    ratio_rows = []
    lines = []
    rel = os.path.relpath(svg_path, os.path.dirname(os.path.abspath(md_path)))
    lines += [BEGIN, "", "## Load: throughput over Redis (wrk)", ""]
    lines += [
        "```sh",
        f"bash bench/load.sh        # defaults: ROUNDS=5 DURATION=5 WARMUP=1 CONNECTIONS=32; this run: ROUNDS={machine['rounds']} DURATION={machine['duration']} WARMUP={machine['warmup']}",
        "```",
        "",
        f"![Throughput ratios and requests per second]({rel})",
        "",
        "### Ratios to the same-framework baseline",
        "",
        f"Each ratio is the median over {rounds} rounds of app req/s ÷ baseline req/s measured in the"
        " same round; the rounds' own values follow. The aim is ≥ 0.95. Extra CPU is the app's CPU µs"
        " per request minus the baseline's (medians). The last two columns come from callgrind"
        " (`bench/profile.sh`): the whole app's user-space instructions per request over the same"
        " Redis, which do not drift with the machine's load; *baseline ÷ app* is the throughput ratio"
        " an app bound by its own instructions would show (the kernel's share of each request, sockets"
        " and epoll, is the same for both and not counted, so the real ratio lies closer to 1).",
        "",
        "| ratio | median | rounds | aim ≥ 0.95 | extra app CPU µs/req | extra instructions/req | instructions: baseline ÷ app |",
        "|---|---:|---|:---:|---:|---:|---:|",
    ]
    def ratio_line(label, app, route, base, base_route, judged=True):
        vals = ratios(by, app, route, base, base_route)
        if not vals:
            return None
        m = statistics.median(vals)
        extra = medians[(app, route)]["cpu_us"] - medians[(base, base_route)]["cpu_us"]
        verdict = ("met" if m >= AIM else f"missed by {AIM - m:.2f}") if judged else "—"
        if judged and aa and min(aa) <= m <= max(aa):
            verdict += " (in A/A band)"
        a_ir, b_ir = ir.get((app, route)), ir.get((base, base_route))
        ir_cols = (f"{a_ir - b_ir:+,} | {b_ir / a_ir:.2f}" if a_ir and b_ir else "— | —")
        lines.append(f"| {label} | **{m:.2f}** | {' '.join(f'{v:.2f}' for v in vals)} | {verdict} | {extra:+.1f} | {ir_cols} |")
        return vals
    def ir_ratio(spec):
        a_ir, b_ir = ir.get((spec[1], spec[2])), ir.get((spec[3], spec[4]))
        return b_ir / a_ir if a_ir and b_ir else None
    for spec in RATIOS:
        vals = ratio_line(*spec)
        if vals:
            ratio_rows.append((spec[0], vals, False, ir_ratio(spec)))
    for spec in PEER_RATIOS:
        vals = ratio_line(*spec, judged=False)
        if vals:
            ratio_rows.append((spec[0], vals, True, ir_ratio(spec)))
    if aa:
        spread = max(abs(1 - v) for v in aa)
        lines.append(f"| {AA[0]} | {statistics.median(aa):.2f} | {' '.join(f'{v:.2f}' for v in aa)} | — | "
                     f"{medians[('bare-poem-2', 'plain')]['cpu_us'] - medians[('bare-poem', 'plain')]['cpu_us']:+.1f} | — | — |")
        lines += ["", f"**A/A band:** bare Poem measured twice per round as two apps gave ratios "
                  f"{min(aa):.2f}–{max(aa):.2f} (largest deviation from 1: {spread:.0%}). A ratio inside"
                  " that band is indistinguishable from noise in this run."]
    lines += [
        "",
        "### Each library's overhead over its own framework, side by side",
        "",
        "Per route, each session library against the same framework doing the same work by hand"
        " (`/incr`, `/read`: the raw app; `/plain` with a session cookie: the bare app). Each cell:"
        " **throughput ratio** (median of the per-round ratios; below 1 is slower) · app CPU per"
        " request ÷ the baseline's · instructions per request ÷ the baseline's (callgrind; above 1"
        " is more work).",
        "",
        "| route | " + " | ".join(lib[0] for lib in LIBRARIES) + " |",
        "|---|" + "---:|" * len(LIBRARIES),
    ]
    for rt in ROUTES:
        cells = []
        for _, app, bases in LIBRARIES:
            base = bases[rt]
            vals = ratios(by, app, rt, base, rt)
            if not vals:
                cells.append("—")
                continue
            cpu = medians[(app, rt)]["cpu_us"] / max(medians[(base, rt)]["cpu_us"], 1e-9)
            a_ir, b_ir = ir.get((app, rt)), ir.get((base, rt))
            ir_txt = f"{a_ir / b_ir:.2f}×" if a_ir and b_ir else "—"
            cells.append(f"**{statistics.median(vals):.2f}** · {cpu:.2f}× · {ir_txt}")
        lines.append(f"| `/{rt}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Medians per app and route",
        "",
        "| app | route | req/s | p99 ms | app CPU µs/req | instructions/req | Redis commands/req | Redis CPU µs/req | errors | lost sessions |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for a in APP_ORDER:
        for rt in ROUTES:
            m = medians.get((a, rt))
            if not m:
                continue
            n_ir = ir.get((a, rt))
            lines.append(f"| {APP_LABEL[a]} | `/{rt}` | {m['rps']:,.0f} | {m['p99_ms']:.2f} | {m['cpu_us']:.1f} | "
                         f"{f'{n_ir:,}' if n_ir else '—'} | {fmt_cmds(m['cmds'])} | {m['redis_cpu_us']:.1f} | {m['errors']} | {m['fresh']} |")
    lines += [
        "",
        "Redis commands per request come from `INFO commandstats` of the benchmark's own Redis,"
        " reset before each measurement; they include the commands a script runs inside Redis (ours'"
        " conditional save is one `EVALSHA` round trip whose script runs `GET` and `SET`, so ours'"
        " `/incr` is two round trips, `GETEX` and `EVALSHA`, listed as four commands); app CPU is the utime + stime delta of the app's"
        " `/proc/<pid>/stat` over the measurement, divided by the requests wrk completed (clock"
        " ticks of 10 ms: about ±1% here). *Lost sessions* counts responses whose Set-Cookie named"
        " a session the client did not send (must be 0); *errors* are wrk socket errors and non-2xx.",
        "",
        "### How it is measured",
        "",
        "- **Apps** (`bench/`, a cargo workspace of its own, outside the main build; release profile):"
        " `ours_poem` and `ours_rocket` are `integrations/examples/{poem,rocket}_demo.rs` compiled"
        " unchanged as binaries, with `SESSION_TYPE=redis` and default settings (msgpack, unsigned"
        " cookie, permanent, `refresh_each_request`, 31 days); `poem_builtin` is poem's"
        " `ServerSession<RedisStorage>` (redis 0.32, cookie max-age 31 days so a write is SET EX);"
        " `raw_poem`/`raw_rocket` do the work by hand over one `ConnectionManager` (our redis 1):"
        " find the cookie, check the sid's shape, GET, and on `/incr` SET EX and a `Set-Cookie` with"
        " our attributes (its `Expires` date formatted once per second per thread, as ours does);"
        " `tower_sessions` is axum 0.8 with tower-sessions 0.14 and"
        " tower-sessions-redis-store 0.16 (one fred 10 client, cookie `session` with our attributes,"
        " 31 days on inactivity; it loads on the session's first use, not on `/plain`, and writes"
        " only a modified session, with `SET … XX EXAT`, so `/read` refreshes nothing), with `raw_axum` as its raw limit"
        " (the raw Poem app's work in axum); `bare_poem`/`bare_rocket`/`bare_axum` have no session"
        " layer. All use the demos' logging"
        " set-up and listen on 127.0.0.1; the Poem apps all serve with the Poem demo's graceful"
        " shutdown (`serve_poem` in `bench/src/lib.rs`).",
        "- **Load:** `wrk -t1 -c32`, one session per connection: a 2 s seeding run of `/incr` captures the"
        " Set-Cookie of each connection's first response (`bench/wrk/session.lua`), then every request"
        " of the measured runs carries one of those cookies (bare apps get cookies of the same shape)."
        f" Per route: {machine['warmup']} s warm-up, then {machine['duration']} s measured."
        f" {machine['rounds']} rounds; each round starts every app afresh, in an order rotated by three"
        " places per round, with Redis flushed.",
        "- **Instructions:** after the rounds, each app and route runs once more under"
        " `valgrind --tool=callgrind` (`bench/profile.sh`, unpinned, `wrk -c8`): counters are zeroed"
        " after seeding and warm-up, dumped after 3 s of load, and divided by the requests wrk"
        " completed. All threads of the app, user space only. The same binary gives counts within"
        " about ±500 instructions per request (±1.5%) between runs here, busy machine or not: the"
        " runtime's idle work per request depends on the throughput reached under valgrind;"
        " `bash bench/profile.sh ours_poem read` prints where they go.",
        f"- **Pinning:** the app on core {machine['app_cpu']} (`taskset`), wrk and the benchmark's Redis"
        f" (port 6390, `--save \"\" --appendonly no`) on core {machine['load_cpu']}. The frameworks'"
        " runtimes size themselves to the one core they are given.",
        f"- **Machine:** {machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']},"
        f" {machine['rustc']}, {machine['wrk']}, Redis {machine['redis']}; run {machine['date']}."
        f" Load average at start {machine['loadavg']}. The machine is shared with other builds;"
        f" other processes above 10% CPU at start: {machine['busy'] or 'none'}. Throughput is noisy on 2"
        " shared cores: read ratios against the A/A band; commands per request do not drift.",
        "",
        END,
    ]
    section = "\n".join(lines) + "\n"
    svg_chart(medians, ratio_rows, aa, svg_path)

    if os.path.exists(md_path):
        text = open(md_path).read()
    else:
        text = ("# Benchmarks\n\nPerformance of the session layer, measured against its peers"
                " (issue 9). Each section says the command that reproduces it.\n\n")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(md_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
