#!/usr/bin/env python3
"""Turns the per-scenario JSON written by confab-load (bench/results/latest/)
into bench/results/latest.md and latest.json. Standard library only.

usage: report.py RESULTS_DIR OUTPUT_DIR
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


def main():
    src, out = sys.argv[1], sys.argv[2]
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

    def ceiling_step(f):
        passing = [s for s in f.get("steps", []) if s["deliveries_per_sec"] == f["ceiling_deliveries_per_sec"]]
        return passing[0] if passing and f["ceiling_deliveries_per_sec"] > 0 else None

    raw = data["servers"].get("raw", {})
    raw_ceiling = raw.get("fanout", {}).get("ceiling_deliveries_per_sec")
    raw_idle = raw.get("idle", {}).get("bytes_per_conn")
    raw_step = ceiling_step(raw["fanout"]) if "fanout" in raw else None
    raw_eff = None
    if raw_step and raw_step.get("server_cpu"):
        raw_eff = raw_step["deliveries_per_sec"] / raw_step["server_cpu"]

    L = []
    L.append("# Benchmarks: Confab side by side")
    L.append("")
    L.append(
        f"One run, mode `{meta.get('mode')}`, commit `{meta.get('commit')}`, {meta.get('started')} → {meta.get('ended')} "
        f"({meta.get('duration_secs', '?')} s). {meta.get('cpus')} cores: every server pinned to core {meta.get('server_cpu')}, "
        f"the load generator (`confab-load`) to core {meta.get('load_cpu')}, the benchmark's process group (autogroup) at nice {meta.get('autogroup_nice', '?')} so the compilers of other people sharing the machine cannot starve it; loopback only."
    )
    L.append("")
    L.append(
        f"Machine load average at start {meta.get('loadavg_start')}, at end {meta.get('loadavg_end')}: the machine is shared "
        "(other people compile on the same 2 cores), so absolute figures are noisy; the ratios come from one run."
    )
    L.append("")
    f0 = next((e["fanout"]["args"] for e in data["servers"].values() if "fanout" in e), None)
    r0 = next((e["rooms"]["args"] for e in data["servers"].values() if "rooms" in e), None)
    i0 = next((e["idle"]["args"] for e in data["servers"].values() if "idle" in e), None)
    L.append("## Summary")
    L.append("")
    if f0:
        L.append(
            f"- **fan-out**: 1 room × {f0['subscribers']} members ({f0['publishers']} publish); ceiling = highest deliveries/s of a "
            f"{f0['step_secs']:g} s step with p99 < {f0['max_p99_ms']:g} ms and 0 lost (rate × {f0['factor']:g} per step from "
            f"{f0['start_rate']:g} msg/s"
            + (f", then {f0['refine']} bisection steps between the last passing and the first failing rate" if f0.get("refine") else "")
            + f"); fixed rate = {f0['fixed_rate']:g} msg/s in for {f0['fixed_secs']:g} s."
        )
    if r0:
        L.append(
            f"- **many rooms**: {r0['rooms']} rooms × {r0['per_room']} clients, every client publishing {r0['rate_per_client']:g} msg/s for {r0['secs']:g} s."
        )
    if i0:
        L.append(f"- **idle**: {i0['conns']:,} connections in rooms of {i0['per_room']}; server RSS growth over the fresh server's baseline, per open connection.")
    L.append("")
    L.append("| server | fan-out ceiling (deliveries/s) | vs raw | server / load gen CPU at ceiling | deliveries per server core-second | vs raw | fixed rate p50 / p99 (ms), lost | many rooms: deliveries/s, p99 (ms), lost | idle: KiB per connection | vs raw |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for key, label in SERVERS:
        e = data["servers"].get(key)
        if not e:
            continue
        cells = [label]
        f = e.get("fanout")
        if f:
            st = ceiling_step(f)
            c = f["ceiling_deliveries_per_sec"]
            cpus = f"{pct(st.get('server_cpu'))} / {pct(st.get('loadgen_cpu'))}" if st else "–"
            capped = f["stopped_because"].startswith("reached --max-steps")
            if c == 0 and f.get("steps"):
                # Even the first (lowest) step failed: the ceiling is below its offered rate.
                s0 = f["steps"][0]
                cells += [f"< {fmt_int(s0['expected'] / s0['publish_secs'])} (lowest step failed)", "–", cpus]
            else:
                cells += [("≥ " if capped else "") + fmt_int(c), ratio(c, raw_ceiling), cpus]
            eff = st["deliveries_per_sec"] / st["server_cpu"] if st and st.get("server_cpu") else None
            cells += [fmt_int(eff), ratio(eff, raw_eff)]
            fx = f.get("fixed")
            cells.append(f"{ms(fx['latency']['p50_ms'])} / {ms(fx['latency']['p99_ms'])}, {fx['lost']:,} of {fx['expected']:,}" if fx else "–")
        else:
            cells += ["–"] * 6
        rm = e.get("rooms")
        if rm:
            p = rm["phase"]
            cells.append(f"{fmt_int(p['deliveries_per_sec'])}, {ms(p['latency']['p99_ms'])}, {p['lost']:,} of {p['expected']:,}")
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
        "\"vs raw\" divides by the raw tokio-tungstenite server's figure from the same run. \"Deliveries per server core-second\" "
        "is deliveries/s ÷ the server's CPU use at the ceiling step (server CPU is `utime + stime` of /proc/PID/stat over the step and its drain): it still compares servers when the load generator, not "
        "the server, is what limits the ceiling (see the load generator CPU column below: ≥ 95% means client-bound). \"≥\" marks a ceiling cut by the step limit."
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
        L.append("| file | bytes | gzip -9 |")
        L.append("|---|---|---|")
        for f, n in sorted(sizes["files"].items()):
            L.append(f"| {f} | {n:,} | {sizes['gzip'][f]:,} |")
        total = sum(sizes["files"].values())
        L.append(f"| **total** | **{total:,}** | **{sizes['gzip_total']:,}** |")
        L.append("")

    if sdk:
        size_table("SDK size (npm build in client-sdk/pkg)", sdk)
    if demo:
        size_table("Demo transfer size (release build in dist/, first visit)", demo)

    L.append("## Fan-out steps")
    L.append("")
    for key, label in SERVERS:
        f = data["servers"].get(key, {}).get("fanout")
        if not f:
            continue
        L.append(f"**{label}**: {f['connected']:,} connected ({f['failed']} failed) in {f['connect_secs']:.1f} s; stopped: {f['stopped_because']}.")
        L.append("")
        L.append("| phase | msg/s in (target → achieved) | deliveries/s | lost | dups | p50 ms | p99 ms | max ms | server CPU | load gen CPU |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        rows = [("fixed", f["fixed"])] if f.get("fixed") else []
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
                f"| {name} | {s['target_rate']:,.0f} → {s['publish_rate']:,.0f} | {fmt_int(s['deliveries_per_sec'])} | {s['lost']:,} | {s['dups']:,} | "
                f"{ms(lat['p50_ms'])} | {ms(lat['p99_ms'])} | {ms(lat['max_ms'])} | {pct(s.get('server_cpu'))} | {pct(s.get('loadgen_cpu'))} |"
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
    with open(os.path.join(out, "latest.json"), "w") as f:
        json.dump(data, f, indent=1)


if __name__ == "__main__":
    main()
