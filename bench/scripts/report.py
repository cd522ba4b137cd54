#!/usr/bin/env python3
"""Turns the per-scenario JSON written by confab-load (bench/results/latest/)
into bench/results/latest.md and latest.json, and (with --readme) the
figures table between the `figures:start`/`figures:end` markers of the
README. Standard library only.

usage: report.py [--root REPO] [--work BENCH_WORK] [--readme README.md] RESULTS_DIR OUTPUT_DIR

--root and --work: absolute paths that are rewritten in every JSON file
(results and raw) as relative to the repository and as `$BENCH_WORK`, so
the committed results name no path of the machine they ran on.
"""
import json
import os
import sys

SERVERS = [
    ("raw", "raw tokio-tungstenite broadcast (ceiling)"),
    ("confab", "Confab (confab-server, seed route)"),
    ("socketio", "Socket.IO 4 (Node)"),
    ("django", "Django Channels + daphne (in-memory layer)"),
]


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def fmt_int(x):
    return "–" if x is None else f"{x:,.0f}"


def ratio(x, base):
    if x is None or not base:
        return "–"
    return f"{x / base:.2f}×"


def pct(x):
    return "?" if x is None else f"{x * 100:.0f}%"


def ms(x):
    return "–" if x is None else (f"{x:.1f}" if x < 100 else f"{x:,.0f}")


def sanitize(v, root, work):
    """Rewrites absolute paths under `root` (relative) and `work` ($BENCH_WORK)."""
    if isinstance(v, str):
        if root:
            v = v.replace(root.rstrip("/") + "/", "").replace(root.rstrip("/"), ".")
        if work:
            v = v.replace(work.rstrip("/"), "$BENCH_WORK")
        return v
    if isinstance(v, list):
        return [sanitize(x, root, work) for x in v]
    if isinstance(v, dict):
        return {k: sanitize(x, root, work) for k, x in v.items()}
    return v


def parse_args(argv):
    opts = {"root": None, "work": None, "readme": None}
    pos = []
    it = iter(argv)
    for a in it:
        if a in ("--root", "--work", "--readme"):
            opts[a[2:]] = next(it)
        else:
            pos.append(a)
    if len(pos) != 2:
        sys.exit(__doc__)
    return opts, pos[0], pos[1]


def us(x):
    if x is None:
        return "–"
    return f"{x:.2f}" if x < 10 else (f"{x:.1f}" if x < 100 else f"{x:,.0f}")


def rate_str(r):
    return f"{r:,.0f}" if r >= 10 else f"{r:.3g}"


def overloaded(p):
    return p["lost"] > 0 or (p.get("server_cpu") or 0) >= 0.95


def fixed_at(f, rate):
    return next((p for p in f.get("fixed") or [] if abs(p["target_rate"] - rate) < 1e-9), None)


def cpu_cell(p):
    v = us(p.get("server_cpu_us_per_delivery"))
    if overloaded(p):
        why = f"{p['lost']:,} of {p['expected']:,} lost" if p["lost"] else f"core {pct(p.get('server_cpu'))}"
        v += f" (overloaded: {why})"
    return v


def deciding_step(f):
    """The step that ended the ladder (a failing step's retry decides)."""
    ladder = [s for s in f.get("steps", []) if not s.get("refine")]
    return ladder[-1] if ladder and not f["stopped_because"].startswith("reached --max-steps") else None


def busy(s):
    """Server and load generator CPU (cores) while the step was publishing
    (falls back to publish + drain for older results)."""
    sc = s.get("server_cpu_publishing", s.get("server_cpu")) or 0
    lc = s.get("loadgen_cpu_publishing", s.get("loadgen_cpu")) or 0
    return sc, lc


def limit(f, short=False):
    """What stopped the ladder, read from the CPU of both sides in the step
    that failed for good: a core >= 90% busy while publishing ran out."""
    s = deciding_step(f)
    if s is None:
        return "step limit" if f["stopped_because"].startswith("reached --max-steps") else f["stopped_because"]
    sc, lc = busy(s)
    oc = s.get("others_cpu")
    if oc is not None and sc + lc + oc >= 1.85 and max(sc, lc) < 0.9:
        if short:
            return f"both cores full: server {pct(sc)}, load generator {pct(lc)}, other work {pct(oc)}"
        why = f"both cores full with other work (server {pct(sc)}, load generator {pct(lc)}, other processes {pct(oc)})"
    elif short and lc >= 0.9 and lc >= sc:
        return f"load generator's core full ({pct(lc)})"
    elif short and sc >= 0.9:
        return f"its core full ({pct(sc)})"
    elif lc >= 0.9 and lc >= sc:
        why = f"load generator's core full ({pct(lc)}; server {pct(sc)})"
    elif sc >= 0.9:
        why = f"server's core full ({pct(sc)}; load generator {pct(lc)})"
    elif short:
        why = f"p99 {ms(s['latency']['p99_ms'])} ms" + (f", {s['lost']:,} lost" if s["lost"] else "") + f" at {pct(sc)} server CPU"
    else:
        why = f"{f['stopped_because']} (server {pct(sc)}, load generator {pct(lc)})"
    return why if short else f"at {fmt_int(s['deliveries_per_sec'])}/s: {why}"


def main():
    opts, src, out = parse_args(sys.argv[1:])
    if opts["root"] or opts["work"]:
        for name in sorted(os.listdir(src)):
            if name.endswith(".json"):
                path = os.path.join(src, name)
                with open(path) as f:
                    d = json.load(f)
                clean = sanitize(d, opts["root"], opts["work"])
                if clean != d:
                    with open(path, "w") as f:
                        json.dump(clean, f, indent=2, sort_keys=True)
                        f.write("\n")
    meta = load(src, "meta.json") or {}
    data = {"meta": meta, "servers": {}}
    for key, _ in SERVERS:
        entry = {}
        for scen in ("fanout", "rooms", "idle"):
            r = load(src, f"{key}-{scen}.json")
            if r:
                entry[scen] = r["result"]
        if entry:
            data["servers"][key] = entry
    storms = {}
    for variant in ("durable", "memory"):
        st = load(src, f"confab-reconnect-{variant}.json")
        if st:
            storms[variant] = st["result"]
    if storms:
        data["reconnect"] = storms
    sdk = load(src, "sdk.json")
    if sdk:
        data["sdk"] = sdk
    demo = load(src, "demo.json")
    if demo:
        data["demo"] = demo
    lighthouse = load(src, "lighthouse.json")
    if lighthouse:
        data["lighthouse"] = lighthouse

    def ceiling_step(f):
        passing = [s for s in f.get("steps", []) if s["deliveries_per_sec"] == f["ceiling_deliveries_per_sec"]]
        return passing[0] if passing and f["ceiling_deliveries_per_sec"] > 0 else None

    raw = data["servers"].get("raw", {})
    raw_ceiling = raw.get("fanout", {}).get("ceiling_deliveries_per_sec")
    raw_idle = raw.get("idle", {}).get("bytes_per_conn")

    L = []
    L.append("# Benchmarks: Confab side by side")
    L.append("")
    L.append(
        f"One run, mode `{meta.get('mode')}`, commit `{meta.get('commit')}`, {meta.get('started')} → {meta.get('ended')} "
        f"({meta.get('duration_secs', '?')} s). {meta.get('cpus')} cores: every server pinned to core {meta.get('server_cpu')}, "
        f"the load generator (`confab-load`) to core {meta.get('load_cpu')}, the benchmark's process group (autogroup) at nice {meta.get('autogroup_nice', '?')} so the compilers of other people sharing the machine cannot starve it; loopback only."
    )
    v = meta.get("versions") or {}
    if v:
        L.append("")
        L.append(
            f"Peers: Socket.IO {v.get('socket.io') or '?'} on Node {v.get('node') or '?'} (websocket transport only); "
            f"Django {v.get('django') or '?'}, Channels {v.get('channels') or '?'}, daphne {v.get('daphne') or '?'} on Python {v.get('python') or '?'} (in-memory channel layer). "
            "Anchors: `../shared/anchors/` (unmodified)."
        )
    L.append("")
    L.append(
        f"Machine load average at start {meta.get('loadavg_start')}, at end {meta.get('loadavg_end')}: the machine is shared "
        "(other people compile on the same 2 cores), so absolute figures are noisy; compare within one run. Server CPU is per process "
        "(the sum of the scheduler's runtime of every server thread, `/proc/PID/task/*/schedstat`, over a phase and its drain), so "
        "CPU per delivery depends much less on what else ran on the machine than rates and latencies do (it is not immune: "
        "other work on the same cores costs caches; the CPU it took is in the tables as \"other work\" / \"others' CPU\")."
    )
    L.append("")
    f0 = next((e["fanout"]["args"] for e in data["servers"].values() if "fanout" in e), None)
    r0 = next((e["rooms"]["args"] for e in data["servers"].values() if "rooms" in e), None)
    i0 = next((e["idle"]["args"] for e in data["servers"].values() if "idle" in e), None)
    members = f0["subscribers"] if f0 else 0
    L.append("## Summary")
    L.append("")
    if f0:
        L.append(
            f"- **fan-out**: 1 room × {members:,} members, {f0['publishers']} of them publishing, spread evenly (together one message every 1/rate s). "
            f"Fixed rates {', '.join(f'{r:g}' for r in f0['fixed_rates'])} msg/s in, {f0['fixed_secs']:g} s each after a {f0['warmup_secs']:g} s warm-up "
            "(a rate that overloads a server, i.e. loses a delivery or fills its core, ends that server's fixed rates); "
            f"then the ceiling: highest deliveries/s of a {f0['step_secs']:g} s step with p99 < {f0['max_p99_ms']:g} ms and 0 lost (rate × {f0['factor']:g} per step from "
            f"{f0['start_rate']:g} msg/s, a failing step re-run once"
            + (f", then {f0['refine']} bisection steps between the last passing and the first failing rate" if f0.get("refine") else "")
            + "). Between phases the harness waits until the server is quiet (no deliveries, < 5% CPU)."
        )
    if r0:
        L.append(
            f"- **many rooms**: {r0['rooms']} rooms × {r0['per_room']} clients, every client publishing {r0['rate_per_client']:g} msg/s for {r0['secs']:g} s."
        )
    if i0:
        L.append(f"- **idle**: {i0['conns']:,} connections in rooms of {i0['per_room']}; server RSS growth over the fresh server's baseline, per open connection.")
    L.append("")

    # --- the headline: server CPU per delivery ---------------------------------
    rates = list(f0["fixed_rates"]) if f0 else []
    if rates:
        L.append(f"### Server CPU per delivery (µs), 1 room × {members:,}")
        L.append("")
        hdr = [f"{r * members:,.0f} deliveries/s ({r:g} msg/s in)" for r in rates]
        L.append("| server | " + " | ".join(hdr) + " | at the ceiling step | background, nobody publishing (% of a core) | other work on the machine during these phases (% of a core, most) |")
        L.append("|---|" + "---|" * (len(rates) + 3))
        for key, label in SERVERS:
            f = data["servers"].get(key, {}).get("fanout")
            if not f:
                continue
            cells = [label]
            for r in rates:
                ph = fixed_at(f, r)
                cells.append(cpu_cell(ph) if ph else ("not run: a lower rate overloaded it" if r in f.get("fixed_skipped", []) else "–"))
            st = ceiling_step(f)
            cells.append(us(st.get("server_cpu_us_per_delivery")) + f" at {fmt_int(st['deliveries_per_sec'])}/s" if st else "–")
            cells.append(pct(f.get("idle_server_cpu")))
            others = [p.get("others_cpu") for p in f.get("fixed") or [] if p.get("others_cpu") is not None]
            cells.append(pct(max(others)) if others else "?")
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
        L.append(
            "µs of server CPU (all threads) per delivered message over the phase and its drain, background work included. "
            "It does not depend on which side runs out of CPU first, so it compares the servers where the ceilings cannot: "
            "at 1,000 members both Rust servers' ceilings are set by the CPU left to the load generator, not by the server. "
            "\"overloaded\": the phase lost deliveries or kept the server's core ≥ 95% busy, so the figure is the most the server managed, not what the offered rate costs. "
            "On loopback the server's CPU also holds the kernel's receive path of each packet it sends (the client socket's TCP receive and wake-up run in the "
            "sender's context; in a profile of the raw server at 12 msg/s into 1,000 members, 76% of its CPU was kernel, about half of it `net_rx_action`), "
            "roughly the same per packet for every server: at low rates, where each delivery is one packet, it narrows the ratios between servers. "
            "Independent clients measured the same servers' CPU per delivery ([crosscheck/](crosscheck/)): Python `websockets` within 20% either way of confab-load "
            "for raw, Confab and Django; the official socket.io-client 3–50% below confab-load for Socket.IO (lower in every pair, cause not found), "
            "so confab-load's Socket.IO figures are, if anything, on the high side."
        )
        L.append("")
        L.append(f"### Fixed-rate latency, 1 room × {members:,}: p50 / p99 ms (lost)")
        L.append("")
        L.append("| server | " + " | ".join(hdr) + " |")
        L.append("|---|" + "---|" * len(rates))
        for key, label in SERVERS:
            f = data["servers"].get(key, {}).get("fanout")
            if not f:
                continue
            cells = [label]
            for r in rates:
                ph = fixed_at(f, r)
                if ph:
                    lat = ph["latency"]
                    cells.append(f"{ms(lat['p50_ms'])} / {ms(lat['p99_ms'])}" + (f" ({ph['lost']:,} of {ph['expected']:,} lost)" if ph["lost"] else ""))
                else:
                    cells.append("not run" if r in f.get("fixed_skipped", []) else "–")
            L.append("| " + " | ".join(cells) + " |")
        L.append("")

    L.append("### Ceilings, many rooms, memory")
    L.append("")
    L.append("| server | fan-out ceiling (deliveries/s) | vs raw | what stopped the ladder | many rooms: deliveries/s, p99 ms, lost, µs server CPU per delivery | idle: KiB per connection | vs raw |")
    L.append("|---|---|---|---|---|---|---|")
    for key, label in SERVERS:
        e = data["servers"].get(key)
        if not e:
            continue
        cells = [label]
        f = e.get("fanout")
        if f:
            c = f["ceiling_deliveries_per_sec"]
            capped = f["stopped_because"].startswith("reached --max-steps")
            if c == 0 and f.get("steps"):
                s0 = f["steps"][0]
                cells += [f"< {fmt_int(s0['expected'] / s0['publish_secs'])} (lowest step failed)", "–"]
            else:
                cells += [("≥ " if capped else "") + fmt_int(c), ratio(c, raw_ceiling)]
            cells.append(limit(f))
        else:
            cells += ["–"] * 3
        rm = e.get("rooms")
        if rm:
            p = rm["phase"]
            cells.append(f"{fmt_int(p['deliveries_per_sec'])}, {ms(p['latency']['p99_ms'])}, {p['lost']:,} of {p['expected']:,}, {cpu_cell(p)}")
        else:
            cells.append("–")
        idl = e.get("idle")
        if idl:
            b = idl["bytes_per_conn"]
            extra = f" ({idl['connected']:,} open, {idl['failed']:,} failed)" if idl["failed"] else ""
            cells += [f"{b / 1024:.1f}{extra}", ratio(b, raw_idle)]
        else:
            cells += ["–", "–"]
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
    L.append(
        "\"vs raw\" divides by the raw tokio-tungstenite server's figure from the same run. \"What stopped the ladder\" reads the CPU of both "
        "sides while the step that failed for good was publishing: a core ≥ 90% busy is what ran out; \"both cores full with other work\": server, load generator and "
        "other people's processes together used the machine's 2 cores (the benchmark's group gets about 3/4 of a busy core); otherwise the step failed on p99 or loss with neither core full. "
        "\"≥\" marks a ceiling cut by the step limit."
    )
    L.append("")

    if storms:
        a = next(iter(storms.values()))["args"]
        L.append("## Reconnect storm (Confab native protocol)")
        L.append("")
        L.append(
            f"{next(iter(storms.values()))['joined_before']:,} clients joined in rooms of {a['per_room']} (one publisher per room at {a['rate_per_room']:g} msg/s, "
            f"publishing through the storm); the server is stopped with SIGTERM and started again by `confab-load`; clients reconnect with the SDK's backoff "
            f"(attempt n waits uniform({a.get('backoff_min_ms')} ms, min({a.get('backoff_max_ms')} ms, {a.get('backoff_min_ms')} ms × 2^(n-1)))) and re-join with `since` = the last position they saw."
        )
        L.append("")
        L.append("| history | old server exited | new server accepting | 99% re-joined | 100% re-joined | never re-joined | re-joins not recovered | acked messages | lost (client × message) | duplicates | failed attempts |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        sec = lambda x: "–" if x is None else f"{x:.2f} s"
        names = {"durable": "durable (`--data-dir`)", "memory": "in memory"}
        for variant, s in storms.items():
            L.append(
                f"| {names[variant]} | {sec(s['shutdown_secs'])} | {sec(s['restart_secs'])} | {sec(s['rejoin_p99_secs'])} | {sec(s['rejoin_all_secs'])} | "
                f"{s['not_rejoined']:,} | {s['not_recovered']:,} | {s['acked']:,} | {s['lost']:,} | {s['dups']:,} | {s['failed_attempts']:,} |"
            )
        L.append("")
        L.append(
            "Times are from the SIGTERM. \"Lost\" counts (client, message) pairs where the message was acknowledged to its publisher "
            "after the client first joined and the client never got it, live or in a `joined` history. \"Not recovered\" re-joins "
            "got `recovered: false` (history epoch changed: an in-memory server loses history on restart)."
        )
        L.append("")

    def size_table(title, sizes):
        L.append(f"## {title}")
        L.append("")
        br = sizes.get("br")  # the demo's precompressed brotli, as served
        L.append("| file | bytes | gzip -9 |" + (" brotli (served) |" if br else ""))
        L.append("|---|---|---|" + ("---|" if br else ""))
        for f, n in sorted(sizes["files"].items()):
            L.append(f"| {f} | {n:,} | {sizes['gzip'][f]:,} |" + (f" {br[f]:,} |" if br else ""))
        total = sum(sizes["files"].values())
        L.append(f"| **total** | **{total:,}** | **{sizes['gzip_total']:,}** |" + (f" **{sizes['br_total']:,}** |" if br else ""))
        L.append("")

    if sdk:
        size_table("SDK size (npm build in client-sdk/pkg)", sdk)
    if demo:
        size_table("Demo transfer size (release build in dist/, first visit)", demo)
    if lighthouse:
        lh = lighthouse
        L.append(f"## Lighthouse {lh['lighthouse']} on the demo ({lh['form_factor']}, simulated slow 4G, 4x CPU)")
        L.append("")
        L.append("| performance | accessibility | FCP | LCP | TBT | transferred |")
        L.append("|---|---|---|---|---|---|")
        L.append(f"| {lh['performance']} | {lh['accessibility']} | {lh['fcp_ms']} ms | {lh['lcp_ms']} ms | {lh['tbt_ms']} ms | {lh['transfer_bytes']:,} B |")
        if lh["failed_accessibility_audits"]:
            L.append("")
            L.append(f"Accessibility audits not passed: {', '.join(lh['failed_accessibility_audits'])}.")
        L.append("")

    L.append("## Fan-out steps")
    L.append("")
    for key, label in SERVERS:
        f = data["servers"].get(key, {}).get("fanout")
        if not f:
            continue
        un = f.get("unsettled") or []
        L.append(
            f"**{label}**: {f['connected']:,} connected ({f['failed']} failed) in {f['connect_secs']:.1f} s; stopped: {f['stopped_because']}."
            + (f" Started before the server had gone quiet: {', '.join(un)}." if un else "")
            + (f" Fixed rates not run (a lower one overloaded the server): {', '.join(f'{r:g}' for r in f['fixed_skipped'])} msg/s." if f.get("fixed_skipped") else "")
        )
        L.append("")
        L.append("| phase | msg/s in (target → achieved) | deliveries/s | lost | dups | p50 ms | p99 ms | max ms | server CPU | µs server CPU per delivery | load gen CPU | others' CPU |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        rows = [("fixed", p) for p in f.get("fixed") or []]
        n = {"step": 0, "refine": 0}
        for s in f["steps"]:
            kind = "refine" if s.get("refine") else "step"
            if s.get("retry"):
                n[kind] -= 1
            rows.append((f"{kind} {n[kind]}" + (" (retry)" if s.get("retry") else ""), s))
            n[kind] += 1
        for name, s in rows:
            lat = s["latency"]
            L.append(
                f"| {name} | {rate_str(s['target_rate'])} → {rate_str(s['publish_rate'])} | {fmt_int(s['deliveries_per_sec'])} | {s['lost']:,} | {s['dups']:,} | "
                f"{ms(lat['p50_ms'])} | {ms(lat['p99_ms'])} | {ms(lat['max_ms'])} | {pct(s.get('server_cpu'))} | {us(s.get('server_cpu_us_per_delivery'))} | {pct(s.get('loadgen_cpu'))} | {pct(s.get('others_cpu'))} |"
            )
        L.append("")

    if meta.get("notes"):
        L.append("## Notes")
        L.append("")
        for n in meta["notes"]:
            L.append(f"- {n}")
        L.append("")

    L.append("Profile of Confab vs the raw server (callgrind, strace) and suggestions: [PROFILE.md](PROFILE.md).")
    L.append("")
    L.append("## How to reproduce")
    L.append("")
    L.append("```sh")
    L.append("bench/run.sh --quick   # a few minutes, small N")
    L.append("bench/run.sh           # issue-6 sizes, < 20 min")
    L.append("```")
    L.append("")
    L.append(f"Confab runs with `{meta.get('confab_args', '')}` (its default per-connection rate limit of 50 frames/s would throttle the fan-out publishers; the other servers have no limit). Raw JSON: `bench/results/latest/`, combined: `bench/results/latest.json`.")
    busy = meta.get("busy_start")
    if busy:
        L.append("")
        L.append("Busiest processes when the run started (%CPU, command): " + "; ".join(f"`{b}`" for b in busy) + ".")
    L.append("")

    with open(os.path.join(out, "latest.md"), "w") as f:
        f.write("\n".join(L))
    if opts["readme"]:
        update_readme(opts["readme"], readme_table(data, ceiling_step))
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(data, f, indent=1)


README_START = "<!-- figures:start: generated by bench/scripts/report.py from bench/results/latest.json; edit there -->"
README_END = "<!-- figures:end -->"
COLUMNS = [("confab", "Confab"), ("raw", "raw tokio-tungstenite (ceiling)"), ("socketio", "Socket.IO 4"), ("django", "Django Channels + daphne")]


def readme_table(data, ceiling_step):
    """The README's figures table: servers as columns, one run."""
    meta = data["meta"]
    sv = data["servers"]
    cols = [(k, n) for k, n in COLUMNS if k in sv]
    started = (meta.get("started") or "")[11:16]
    rows = []

    def row(title, cell):
        rows.append("| " + title + " | " + " | ".join(cell(k, sv[k]) for k, _ in cols) + " |")

    f0 = next((e["fanout"] for e in sv.values() if "fanout" in e), None)
    members = f0["args"]["subscribers"] if f0 else 0
    rates = f0["args"]["fixed_rates"] if f0 else []
    raw_ceiling = sv.get("raw", {}).get("fanout", {}).get("ceiling_deliveries_per_sec")
    raw_idle = sv.get("raw", {}).get("idle", {}).get("bytes_per_conn")

    def cpu(k, e):
        f = e.get("fanout")
        if not f:
            return ""
        out = []
        for r in rates:
            p = fixed_at(f, r)
            if p is None:
                out.append("–")
            elif overloaded(p):
                out.append(f"({us(p.get('server_cpu_us_per_delivery'))}, overloaded)")
            else:
                out.append(us(p.get("server_cpu_us_per_delivery")))
        return " / ".join(out)

    if rates:
        row(
            f"**server CPU per delivery (µs)**, 1 room × {members:,}, at "
            + " / ".join(f"{r * members:,.0f}" for r in rates)
            + " deliveries/s",
            cpu,
        )

    def ceiling(k, e):
        f = e.get("fanout")
        if not f:
            return ""
        c = f["ceiling_deliveries_per_sec"]
        if c == 0 and f.get("steps"):
            s0 = f["steps"][0]
            head = f"< {fmt_int(s0['expected'] / s0['publish_secs'])}"
        else:
            head = ("≥ " if f["stopped_because"].startswith("reached --max-steps") else "") + fmt_int(c)
            if k != "raw" and raw_ceiling:
                head += f" ({ratio(c, raw_ceiling)} raw)"
        return f"{head}; {limit(f, short=True)}"

    row(f"fan-out ceiling, 1 room × {members:,} (deliveries/s, p99 < 100 ms, 0 lost); what ran out", ceiling)

    def at_ceiling(k, e):
        st = ceiling_step(e["fanout"]) if e.get("fanout") else None
        return us(st.get("server_cpu_us_per_delivery")) if st else "–"

    row("server CPU per delivery at the ceiling step (µs)", at_ceiling)

    for r in rates:
        if abs(r - 12) < 1e-9 or (r == rates[0]):
            def lat(k, e, r=r):
                f = e.get("fanout")
                p = fixed_at(f, r) if f else None
                if p is None:
                    return "not run (overloaded below)" if f and r in f.get("fixed_skipped", []) else "–"
                t = f"{ms(p['latency']['p50_ms'])} / {ms(p['latency']['p99_ms'])} ms"
                return t + (f", {p['lost']:,} of {p['expected']:,} lost" if p["lost"] else "")
            row(f"{r:.3g} msg/s into {members:,} members ({r * members:,.0f} deliveries/s): p50 / p99", lat)

    def rooms(k, e):
        rm = e.get("rooms")
        if not rm:
            return ""
        p = rm["phase"]
        if overloaded(p):
            return f"{ms(p['latency']['p99_ms'])} ms, {p['lost']:,} of {p['expected']:,} lost (overloaded)"
        return f"{ms(p['latency']['p99_ms'])} ms, {p['lost']:,} lost, {us(p.get('server_cpu_us_per_delivery'))} µs"

    r0 = next((e["rooms"]["args"] for e in sv.values() if "rooms" in e), None)
    if r0:
        row(f"{r0['rooms']} rooms × {r0['per_room']}, all publishing: p99, lost, server CPU per delivery", rooms)

    def idle(k, e):
        i = e.get("idle")
        if not i:
            return ""
        t = f"{i['bytes_per_conn'] / 1024:.1f} KiB"
        return t + (f" ({ratio(i['bytes_per_conn'], raw_idle)} raw)" if k != "raw" and raw_idle else "")

    i0 = next((e["idle"]["args"] for e in sv.values() if "idle" in e), None)
    if i0:
        row(f"memory per idle connection, {i0['conns']:,} on the seed route", idle)
    st = data.get("reconnect", {})
    if st:
        d, m = st.get("durable"), st.get("memory")
        n = (d or m)["joined_before"]
        txt = []
        if d:
            txt.append(f"{d['rejoin_p99_secs']:.2f} s with `--data-dir`")
        if m:
            txt.append(f"{m['rejoin_p99_secs']:.2f} s in memory")
        lost = sum(x["lost"] for x in st.values())
        rows.append(f"| reconnect storm, {n:,} clients: 99% re-joined, lost | {', '.join(txt)}, {lost:,} lost |" + " |" * (len(cols) - 1))
    if data.get("sdk"):
        g = data["sdk"]["gzip_total"]
        # The peer's client: socket.io.min.js of socket.io-client 4.8.4 (the
        # cross-check's pinned version), gzip -9: 14,763 bytes.
        peer = {"confab": f"{g / 1000:.1f} KB (budget 40 KB)", "socketio": "socket.io-client 4.8.4: 14.8 KB"}
        rows.append("| SDK npm build, gzip (.wasm + JS glue) | " + " | ".join(peer.get(k, "") for k, _ in cols) + " |")
    if data.get("demo"):
        dm = data["demo"]
        served = f", brotli as served {dm['br_total'] / 1000:.0f} KB" if "br_total" in dm else ""
        rows.append(f"| demo, first visit (all of `dist/`, gzip) | {dm['gzip_total'] / 1000:.0f} KB ({dm['total'] / 1000:.0f} KB raw{served}) |" + " |" * (len(cols) - 1))
    head = f"| `bench/run.sh`, {started} UTC, one run | " + " | ".join(n for _, n in cols) + " |"
    return "\n".join([head, "|---|" + "---|" * len(cols)] + rows)


def update_readme(path, table):
    with open(path) as f:
        text = f.read()
    a, b = text.find(README_START), text.find(README_END)
    if a < 0 or b < a:
        sys.exit(f"{path}: no {README_START!r} ... {README_END!r} markers")
    text = text[: a + len(README_START)] + "\n" + table + "\n" + text[b:]
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
