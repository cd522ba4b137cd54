#!/usr/bin/env python3
"""Turns the JSON written by `confab-load multinode` for each configuration
(bench/multinode.sh: confab-nN-mM.json, django-nD-m1.json, meta.json,
machine-*.json) into bench/results/multinode.json and
bench/results/MULTINODE.md, with a projection of larger deployments from
the measured CPU per delivery. Standard library only.

usage: multinode_report.py [--root REPO] [--work BENCH_WORK] [--tmp DIR] [--repeat JSON] RESULTS_DIR OUTPUT_DIR
       multinode_report.py bench/results/multinode.json bench/results   # the report again

--repeat: the multinode.json of another run of the same sizes, summarised
next to this one (how much the figures move between runs).

--root, --work and --tmp: absolute paths rewritten in the output (relative
to the repository, `$BENCH_WORK`, `$TMP`), so the results name no path of
the machine they ran on.
"""
import json
import os
import re
import sys

# Projection: cores per node, and the share of a core the model lets each
# process use (headroom for bursts, the OS, the network stack of a real NIC).
CORES_PER_NODE = 8
UTILISATION = 0.7
PROJ_NODES = [1, 2, 4, 8, 16]
PROJ_SHARDS = [1, 2, 4, 8, 16]
# A phase whose window had this much other work on the machine (cores) is flagged.
BUSY_OTHERS = 0.3
# A phase is clean for the projection and the summary when nothing was lost and
# p99 <= this (ms), as run.sh's fan-out ceiling.
PROJ_MAX_P99 = 100.0


def parse_args(argv):
    opts = {"root": None, "work": None, "tmp": None, "repeat": None}
    rest = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--root", "--work", "--tmp", "--repeat"):
            opts[a[2:]] = argv[i + 1]
            i += 2
            continue
        rest.append(a)
        i += 1
    if len(rest) != 2:
        sys.exit(__doc__)
    return opts, rest[0], rest[1]


def sanitize(v, subs):
    if isinstance(v, str):
        for path, name in subs:
            if path:
                v = v.replace(path.rstrip("/") + "/", name + "/" if name else "")
                v = v.replace(path.rstrip("/"), name or ".")
        return v
    if isinstance(v, list):
        return [sanitize(x, subs) for x in v]
    if isinstance(v, dict):
        return {k: sanitize(x, subs) for k, x in v.items()}
    return v


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def f0(x):
    return "–" if x is None else f"{x:,.0f}"


def f1(x):
    return "–" if x is None else f"{x:,.1f}"


def f2(x):
    return "–" if x is None else f"{x:,.2f}"


def pct(x):
    return "–" if x is None else f"{x * 100:.0f}%"


def clean(p, max_p99):
    return p["lost"] == 0 and p["delivered"] > 0 and p["latency"]["p99_ms"] <= max_p99


def best_clean(r):
    """The clean phase with the highest delivery rate (its CPU costs are the
    projection's inputs: the most batching the run reached without loss)."""
    ok = [p for p in r["phases"] if clean(p, PROJ_MAX_P99)]
    return max(ok, key=lambda p: p["deliveries_per_sec"]) if ok else None


def fit_line(xs, ys):
    """Least squares y = a + b x (b = 0 with one distinct x)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def summary_rows(runs):
    """(key, kind, best clean phase or None, lost over all phases, mean others cores) per run."""
    out = []
    for key, (kind, n, m, r) in sorted(runs.items(), key=lambda kv: (kv[1][0] != "confab", kv[1][2], kv[1][1])):
        if r is None:
            continue
        res = r["result"]
        others = [q.get("others_cpu") or 0 for q in res["phases"]]
        out.append((key, best_clean(res), sum(q["lost"] for q in res["phases"]), sum(others) / max(len(others), 1), res))
    return out


def common_rate(runs):
    """The highest rate per client at which every Confab configuration was clean."""
    sets = []
    for kind, n, m, r in runs.values():
        if kind == "confab" and r:
            res = r["result"]
            sets.append({rt for rt, p in zip(res["args"]["rates_per_client"], res["phases"]) if clean(p, PROJ_MAX_P99)})
    both = set.intersection(*sets) if sets else set()
    return max(both) if both else None


def at_rate(res, rate):
    return dict(zip(res["args"]["rates_per_client"], res["phases"])).get(rate) if rate is not None else None


def runs_of(combined):
    runs = {}
    for key, r in combined["runs"].items():
        m = re.fullmatch(r"(confab|django)-n(\d+)-m(\d+)", key)
        if m:
            runs[key] = (m.group(1), int(m.group(2)), int(m.group(3)), r)
    return runs


def main():
    opts, src, out_dir = parse_args(sys.argv[1:])
    subs = [(opts["tmp"], "$TMP"), (opts["work"], "$BENCH_WORK"), (opts["root"], "")]
    if os.path.isfile(src):
        # A multinode.json written before: regenerate the report from it.
        with open(src) as f:
            combined = json.load(f)
        combined.pop("projection", None)
        files = {k + ".json": v for k, v in combined["runs"].items()}
    else:
        files = {n: load(src, n) for n in os.listdir(src)}
        combined = sanitize(
            {
                "meta": load(src, "meta.json") or {},
                "machine_start": load(src, "machine-start.json"),
                "machine_end": load(src, "machine-end.json"),
                "runs": {},
            },
            subs,
        )
    meta = combined["meta"]
    runs = {}
    for name in sorted(files):
        m = re.fullmatch(r"(confab|django)-n(\d+)-m(\d+)\.json", name)
        if m:
            runs[name[:-5]] = (m.group(1), int(m.group(2)), int(m.group(3)), sanitize(files[name], subs))
    combined["runs"] = {k: v[3] for k, v in runs.items()}
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "multinode.json"), "w") as f:
        json.dump(combined, f, indent=1)
        f.write("\n")

    L = []
    w = L.append
    w("# Multi-node benchmark: Confab nodes × Redis shards, and Django Channels + channels_redis")
    w("")
    w("Generated by `bench/multinode.sh` (issue 17) with `bench/scripts/multinode_report.py`; raw figures in")
    w("`multinode.json`. **Measured** on a shared 2-core machine: every server process (Confab nodes or daphne")
    w("processes, and the redis-server processes) pinned to core 0, the load generator (`confab-load multinode`,")
    w("seed route `/ws/chat/{room}/`, one thread) to core 1. Everything on 127.0.0.1.")
    w("")
    w(f"- run: {meta.get('started', '?')} – {meta.get('ended', '?')} ({meta.get('duration_secs', '?')} s), commit `{meta.get('commit', '?')}`, mode `{meta.get('mode', '?')}`, {meta.get('redis', '')}")
    ms, me = combined.get("machine_start") or {}, combined.get("machine_end") or {}
    w(f"- load average at start {ms.get('loadavg', '?')}, at end {me.get('loadavg', '?')}; busiest processes at start: {', '.join(ms.get('busy', []))}")
    w(f"- load: `{meta.get('load_args', '')}`; versions {json.dumps(meta.get('versions', {}))}")
    w("- Rooms: R rooms × 4 clients, every client publishing; client k of room r connects to node (r + k) mod N, so with")
    w("  N ≥ 2 every room has members on min(4, N) nodes and a message reaches the other nodes through Redis. Confab")
    w("  places each room on one of the M shards by jump hash of its name (every node lists the same `--redis-url`s).")
    w("  Django: one Redis (channels_redis `RedisChannelLayer`, library defaults), 1 or 2 daphne processes.")
    stop = next((v[3]["result"]["args"]["max_p99_ms"] for v in runs.values() if v[3]), None)
    w("- Phases: fixed rates per client in turn (publishers staggered over each interval), stopping after the first")
    w(f"  that lost a message or had p99 above {stop:g} ms. *Lost* = not received by the end of the drain (late counts as")
    w(f"  lost). *Clean* below = nothing lost and p99 ≤ {PROJ_MAX_P99:g} ms (as run.sh's fan-out ceiling).")
    w("- CPU: each process's scheduler runtime over publish + drain (`/proc/PID/task/*/schedstat`, bench/src/procfs.rs),")
    w("  so other work on the machine changes it little; *others* = the rest of the machine's busy CPU in that window")
    w("  (other engineers' builds share these 2 cores), in cores.")
    w("")
    w("## Summary (measured)")
    w("")
    w(f"Highest clean step per configuration (≥: the highest rate offered was still clean, so the ceiling is higher), and")
    w("CPU per delivery there. Server and Redis processes all share one core, so their sum is what the step cost that core.")
    w("")
    w("| config | clean deliveries/s | p99 ms | server µs/delivery | Redis µs/delivery | server + Redis cores | lost in any phase |")
    w("|---|---|---|---|---|---|---|")
    for key, (kind, n, m, r) in sorted(runs.items(), key=lambda kv: (kv[1][0] != "confab", kv[1][2], kv[1][1])):
        if r is None:
            continue
        res = r["result"]
        p = best_clean(res)
        lost_any = sum(q["lost"] for q in res["phases"])
        if p is None:
            w(f"| `{key}` | none clean | – | – | – | – | {lost_any:,} |")
            continue
        last = res["phases"][-1] is p and len(res["phases"]) == len(res["args"]["rates_per_client"])
        core = (p.get("server_cpu") or 0) + (p.get("layer_cpu") or 0)
        w(f"| `{key}` | {'≥ ' if last else ''}{f0(p['deliveries_per_sec'])} | {f1(p['latency']['p99_ms'])} | {f1(p.get('server_cpu_us_per_delivery'))} | {f1(p.get('layer_cpu_us_per_delivery'))} | {f2(core)} | {lost_any:,} |")
    w("")
    w("## Measured, every phase")
    w("")
    w("| config | nodes | shards | msg/s per client | msgs/s in | deliveries/s | p50 ms | p99 ms | lost / expected | server µs CPU per delivery | Redis µs CPU per delivery | server cores | Redis cores | load gen cores | others cores |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key, (kind, n, m, r) in sorted(runs.items(), key=lambda kv: (kv[1][0] != "confab", kv[1][2], kv[1][1])):
        if r is None:
            continue
        res = r["result"]
        server = "Confab" if kind == "confab" else "Django+channels_redis"
        for p, rate in zip(res["phases"], res["args"]["rates_per_client"]):
            w(
                f"| {server} `{key}` | {n} | {m} | {rate:g} | {f0(p['publish_rate'])} | {f0(p['deliveries_per_sec'])} | {f1(p['latency']['p50_ms'])} | {f1(p['latency']['p99_ms'])} | {p['lost']:,} / {p['expected']:,} | {f1(p.get('server_cpu_us_per_delivery'))} | {f1(p.get('layer_cpu_us_per_delivery'))} | {f2(p.get('server_cpu'))} | {f2(p.get('layer_cpu'))} | {f2(p.get('loadgen_cpu'))} | {f2(p.get('others_cpu'))} |"
            )
    busy = []
    for key, (kind, n, m, r) in sorted(runs.items()):
        if r is None:
            continue
        for p, rate in zip(r["result"]["phases"], r["result"]["args"]["rates_per_client"]):
            if (p.get("others_cpu") or 0) >= BUSY_OTHERS:
                busy.append(f"`{key}` at {rate:g}/s ({p['others_cpu']:.2f} cores)")
    w("")
    if busy:
        w(f"The machine was busy with other work (others ≥ {BUSY_OTHERS} cores) in: {', '.join(busy)}. Rates and")
        w("latencies of those phases are lower bounds of what the servers do on quiet cores; CPU per delivery less so.")
    else:
        w(f"No phase had other work of {BUSY_OTHERS} cores or more on the machine.")
    # Side by side: Confab and Django with the same number of server processes
    # on one Redis, at every rate both ran.
    w("")
    w("### Side by side on one Redis (same rooms, same rates)")
    w("")
    w("| server processes | msg/s per client | Confab deliveries/s | Confab p99 ms | Confab lost | Django deliveries/s | Django p99 ms | Django lost | server µs/delivery Confab : Django | Redis µs/delivery Confab : Django |")
    w("|---|---|---|---|---|---|---|---|---|---|")
    for d in sorted({n for (kind, n, m, r) in runs.values() if kind == "django" and r}):
        c, j = runs.get(f"confab-n{d}-m1"), runs.get(f"django-n{d}-m1")
        if not c or not j or not c[3] or not j[3]:
            continue
        cr, jr = c[3]["result"], j[3]["result"]
        crates = dict(zip(cr["args"]["rates_per_client"], cr["phases"]))
        for rate, jp in zip(jr["args"]["rates_per_client"], jr["phases"]):
            cp = crates.get(rate)
            if cp is None:
                continue
            w(
                f"| {d} | {rate:g} | {f0(cp['deliveries_per_sec'])} | {f1(cp['latency']['p99_ms'])} | {cp['lost']:,} | {f0(jp['deliveries_per_sec'])} | {f1(jp['latency']['p99_ms'])} | {jp['lost']:,} | {f1(cp.get('server_cpu_us_per_delivery'))} : {f1(jp.get('server_cpu_us_per_delivery'))} | {f1(cp.get('layer_cpu_us_per_delivery'))} : {f1(jp.get('layer_cpu_us_per_delivery'))} |"
            )
    w("")
    w("### Reading the figures")
    w("")
    full = []
    for key, (kind, n, m, r) in sorted(runs.items()):
        if r and kind == "confab":
            q = r["result"]["phases"][-1]
            full.append((q.get("server_cpu") or 0) + (q.get("layer_cpu") or 0))
    if full:
        w(f"- Confab's last step used {min(full):.2f}–{max(full):.2f} of core 0 for nodes and Redis together: with several")
        w("  processes on that one core it was full, and p99 rose there because of it (each node receives every message of")
        w("  its rooms from Redis, so more nodes on one core is more work per message, not more capacity).")
    confab_lost = sum(q["lost"] for v in runs.values() if v[0] == "confab" and v[3] for q in v[3]["result"]["phases"])
    w(f"- Confab lost {confab_lost:,} deliveries over all its phases, the saturated ones included.")
    dj = [(k, v) for k, v in runs.items() if v[0] == "django" and v[3]]
    for key, v in dj:
        for q, rate in zip(v[3]["result"]["phases"], v[3]["result"]["args"]["rates_per_client"]):
            if q["lost"] or q["dups"] or q["publish_rate"] < 0.95 * q["target_rate"]:
                w(f"- `{key}` at {rate:g}/s per client: published {f0(q['publish_rate'])}/s of {f0(q['target_rate'])}/s asked, lost {q['lost']:,} of {q['expected']:,}, {q['dups']} duplicates{' (not investigated)' if q['dups'] else ''}.")
    if dj:
        w("- Why Django loses messages instead of only slowing down (read in the source, not traced in this run):")
        w("  channels_redis 4 (`group_send` in")
        w("  `channels_redis/core.py`) adds a message to a process's receive set only while that set holds fewer than")
        w("  `capacity` (100 by default, the anchor's setting) messages, and otherwise drops it, logged at INFO level only.")
        w("  All channels of one daphne process share one such set, so a process more than 100 messages behind loses")
        w("  messages. With two daphne processes on one core each gets about half of it. Django at 1,600 deliveries/s is")
        w("  at its limit here: whether a run keeps up or starts dropping seems to depend on how it starts (a process")
        w("  that once fell 100 messages behind stays there, its set full), so the runs differ (see the repeat run).")
        w("- A publish rate below the one asked: the load generator's sends waited on TCP (the server read its sockets")
        w("  too slowly).")
    missing = [k for k, v in runs.items() if v[3] is None]
    if missing:
        w("")
        w(f"Failed configurations (no result): {', '.join(missing)}.")
    w("")
    # Per-shard spread of Redis CPU at the best clean phase.
    w("Redis CPU per shard (seconds, best clean phase), to show the rooms spread over the shards:")
    w("")
    for key, (kind, n, m, r) in sorted(runs.items(), key=lambda kv: (kv[1][0] != "confab", kv[1][2], kv[1][1])):
        if r is None or kind != "confab" or m < 2:
            continue
        p = best_clean(r["result"])
        if p and p.get("layer_cpu_secs_each"):
            w(f"- `{key}`: " + ", ".join(f"{s:.3f}" for s in p["layer_cpu_secs_each"]))
    w("")

    if opts["repeat"]:
        with open(opts["repeat"]) as f:
            rep_combined = json.load(f)
        rmeta = rep_combined.get("meta", {})
        rms = rep_combined.get("machine_start") or {}
        w("## Repeat run (the same sizes)")
        w("")
        w(f"{rmeta.get('started', '?')} – {rmeta.get('ended', '?')}, commit `{rmeta.get('commit', '?')}`; load average at start {rms.get('loadavg', '?')},")
        w(f"busiest processes at start: {', '.join(rms.get('busy', []))}. Raw figures: `{os.path.basename(opts['repeat'])}`.")
        w("")
        cr = common_rate(runs)
        w(f"| config | clean deliveries/s: this run → repeat | server µs/delivery at the highest clean step | Redis µs/delivery there | server µs/delivery at {cr:g} msg/s per client | Redis µs/delivery at {cr:g} | lost in any phase | others cores, mean of the phases |")
        w("|---|---|---|---|---|---|---|---|")
        mine = {row[0]: row for row in summary_rows(runs)}
        for key, p2, lost2, oth2, res2 in summary_rows(runs_of(rep_combined)):
            row = mine.get(key)
            p1 = row[1] if row else None

            def cd(p, res):
                if p is None:
                    return "none clean"
                last = res["phases"][-1] is p and len(res["phases"]) == len(res["args"]["rates_per_client"])
                return ("≥ " if last else "") + f0(p["deliveries_per_sec"])

            def pair(k):
                a_ = f1(p1.get(k)) if p1 else "–"
                b_ = f1(p2.get(k)) if p2 else "–"
                return f"{a_} → {b_}"
            q1 = at_rate(row[4], cr) if row else None
            q2 = at_rate(res2, cr)

            def pair_at(k):
                return f"{f1(q1.get(k)) if q1 else '–'} → {f1(q2.get(k)) if q2 else '–'}"
            w(f"| `{key}` | {cd(p1, row[4]) if row else '–'} → {cd(p2, res2)} | {pair('server_cpu_us_per_delivery')} | {pair('layer_cpu_us_per_delivery')} | {pair_at('server_cpu_us_per_delivery')} | {pair_at('layer_cpu_us_per_delivery')} | {row[2] if row else '–':,} → {lost2:,} | {f2(row[3]) if row else '–'} → {f2(oth2)} |")
        w("")
        w("The CPU per delivery compared here is at each run's own highest clean step, so a lower step (a busier machine)")
        w("also means less batching.")
        w("")

    # ---- projection ----
    confab = {(n, m): r["result"] for _, (kind, n, m, r) in runs.items() if kind == "confab" and r}
    # One rate for every configuration, so their costs compare (CPU per delivery
    # falls as the rate rises: more frames per write and per wake-up): the
    # highest rate per client at which every Confab configuration was clean.
    common = common_rate(runs)
    inputs = []
    for (n, m), res in sorted(confab.items()):
        if common is None:
            break
        p = dict(zip(res["args"]["rates_per_client"], res["phases"]))[common]
        if p.get("server_cpu_us_per_delivery") and p.get("layer_cpu_us_per_delivery"):
            per_room = res["args"]["per_room"]
            inputs.append((n, m, min(per_room, n), per_room, p))
    w("## Projection (a model, not a measurement)")
    w("")
    if not inputs:
        w("No rate at which every Confab configuration was clean: nothing to project from.")
    else:
        per_room = inputs[0][3]
        # Per *published* message, both Redis's and the nodes' work grow with the
        # number of nodes the room spans (one pub/sub copy to each, each node
        # parses it and writes to its members): fit  cost = a + b × span.
        xs = [i[2] for i in inputs]
        a, b = fit_line(xs, [i[4]["layer_cpu_us_per_delivery"] * per_room for i in inputs])
        an, bn = fit_line(xs, [i[4]["server_cpu_us_per_delivery"] * per_room for i in inputs])
        w(f"Inputs: the phases at {common:g} msg/s per client, the highest rate at which every Confab configuration lost")
        w(f"nothing with p99 ≤ {PROJ_MAX_P99:g} ms (CPU per delivery falls as the rate rises, so one rate for all):")
        w("")
        w("| config | nodes a room spans | deliveries/s | Confab µs per published message | Redis µs per published message |")
        w("|---|---|---|---|---|")
        for n, m, span, k, p in inputs:
            w(f"| n{n}-m{m} | {span} | {f0(p['deliveries_per_sec'])} | {f1(p['server_cpu_us_per_delivery'] * k)} | {f1(p['layer_cpu_us_per_delivery'] * k)} |")
        w("")
        w(f"Least-squares fit over these {len(inputs)} configurations, per published message into a room of {per_room} (every member")
        w(f"publishing), with s = the nodes the room's members are on: Confab ≈ {an:.1f} + {bn:.1f} × s µs, Redis ≈ {a:.1f} + {b:.1f} × s µs")
        w("(all shards together).")
        w("")
        w(f"Model: K nodes of C = {CORES_PER_NODE} cores and S Redis shards (one core each: Redis runs commands on one thread), rooms")
        w(f"of {per_room} with their members on s = min({per_room}, K) nodes, u = {UTILISATION} of every core usable:")
        w(f"D = {per_room} × min(K × C × u / ({an:.1f} + {bn:.1f} × s) µs, S × u / ({a:.1f} + {b:.1f} × s) µs) deliveries/s: the nodes' cores and the")
        w("shards' cores each bound the published messages per second, and every message is delivered to the room's members.")
        w("")
        # How much cheaper the next rate up was (where measured): the model's
        # costs are those of a lower rate, so conservative if batching goes on.
        ratios = []
        for (n, m), res in confab.items():
            rates = res["args"]["rates_per_client"]
            higher = [(rt, p) for rt, p in zip(rates, res["phases"]) if rt > common]
            base = dict(zip(rates, res["phases"]))[common]
            if higher and base.get("server_cpu_us_per_delivery") and higher[0][1].get("server_cpu_us_per_delivery"):
                hp = higher[0][1]
                tot = lambda q: q["server_cpu_us_per_delivery"] + (q.get("layer_cpu_us_per_delivery") or 0)
                ratios.append(tot(hp) / tot(base))
        w("Assumptions (none of them tested here):")
        w("")
        w("- the fitted costs per message hold on 8-core nodes: Confab's work spreads over the cores (tokio, one task")
        w("  per connection) and no lock, Redis connection or pub/sub listener of a node becomes the bottleneck;")
        w("- rooms spread evenly over the shards (jump hash of the room name: many rooms, none dominant) and rooms")
        w(f"  look like these ({per_room} members, all publishing; bigger rooms cost less per delivery, since one Redis")
        w("  message then feeds more local members);")
        w("- loopback stands in for a network: on loopback the sender's CPU also pays the receiver's TCP receive")
        w("  path (Redis pays for the nodes' receive, the nodes for the clients'); a NIC moves some of that away;")
        if ratios:
            w(f"- the costs measured at {common:g} msg/s per client hold at higher rates: in these runs the next rate up")
            w(f"  cost {min(ratios) * 100:.0f}–{max(ratios) * 100:.0f}% of it per delivery (Confab + Redis; more frames per write and per")
            w("  wake-up), so on this point the model is conservative;")
        if opts["repeat"]:
            rruns = runs_of(rep_combined)
            moves = []
            for key, (kind, n, m, r) in runs.items():
                if kind != "confab" or not r or key not in rruns or not rruns[key][3]:
                    continue
                q1, q2 = at_rate(r["result"], common), at_rate(rruns[key][3]["result"], common)
                if q1 and q2 and q1.get("server_cpu_us_per_delivery") and q2.get("server_cpu_us_per_delivery"):
                    t = lambda q: q["server_cpu_us_per_delivery"] + (q.get("layer_cpu_us_per_delivery") or 0)
                    moves.append(t(q2) / t(q1))
            if moves:
                w(f"- the inputs are one run's: in the repeat run the same phases cost {min(moves) * 100:.0f}–{max(moves) * 100:.0f}% of these")
                w("  (Confab + Redis per delivery), so every projected figure carries at least that spread;")
        w("- nothing else runs out first: network bandwidth, Redis output buffers, the clients, the kernel.")
        w("")
        w(f"Projected deliveries/s (thousands), C = {CORES_PER_NODE} cores per node, u = {UTILISATION}; the bound that binds in brackets (N = nodes, R = Redis):")
        w("")
        w("| K nodes \\ S shards | " + " | ".join(str(s) for s in PROJ_SHARDS) + " |")
        w("|---|" + "---|" * len(PROJ_SHARDS))
        proj = []
        for k in PROJ_NODES:
            span = min(per_room, k)
            c_node = (an + bn * span) / per_room
            c_redis = (a + b * span) / per_room
            cells = []
            for s_ in PROJ_SHARDS:
                dn = k * CORES_PER_NODE * UTILISATION / c_node * 1e6
                dr = s_ * UTILISATION / c_redis * 1e6 if c_redis > 0 else float("inf")
                d = min(dn, dr)
                proj.append({"nodes": k, "shards": s_, "deliveries_per_sec": d, "node_bound": dn, "redis_bound": dr})
                cells.append(f"{d / 1e3:,.0f} ({'N' if dn <= dr else 'R'})")
            w(f"| {k} | " + " | ".join(cells) + " |")
        w("")
        w("For scale: the projection counts CPU only. It is what these per-message costs allow, not a figure any")
        w("deployment has reached; measure before relying on it.")
        combined["projection"] = {
            "model": "D = per_room * min(K*C*u/(an + bn*s), S*u/(a + b*s)), s = min(per_room, K); costs in CPU s per published message",
            "rate_per_client": common, "redis_a_us": a, "redis_b_us": b, "confab_a_us": an, "confab_b_us": bn,
            "cores_per_node": CORES_PER_NODE,
            "utilisation": UTILISATION, "per_room": per_room, "table": proj,
        }
        with open(os.path.join(out_dir, "multinode.json"), "w") as f:
            json.dump(combined, f, indent=1)
            f.write("\n")
    w("")
    with open(os.path.join(out_dir, "MULTINODE.md"), "w") as f:
        f.write(sanitize("\n".join(L), subs))


if __name__ == "__main__":
    main()
