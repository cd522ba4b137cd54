#!/usr/bin/env python3
"""Cross-check of confab-load's fan-out figures on the seed route
(`/ws/chat/{room}/`: Django Channels, Confab's compat route, raw-broadcast)
with an independent client: Python `websockets` (pinned in
requirements.txt), its own connect, publish schedule, latency and loss
accounting, and its own reading of the server's CPU.

    python3 -m venv $BENCH_WORK/wsvenv && $BENCH_WORK/wsvenv/bin/pip install -r requirements.txt
    $BENCH_WORK/wsvenv/bin/python seed_fanout.py --url ws://127.0.0.1:18103 \\
        --members 1000 --publishers 4 --rates 1.3333,4 --secs 6 --server-pid PID

One room of --members sockets, of which --publishers publish (or, with
--rooms R, R rooms of members/R sockets, --publishers of each room
publishing: the many-rooms scenario). For each rate
(messages per second into the room, all publishers together) the publishers
send for --secs, spread evenly: message m of the phase leaves at m / rate
(publisher m mod P). Every message is `{"message": "<publisher>:<seq>:<send
µs>"}` on this process's monotonic clock; receivers compute end-to-end
latency and count what arrived within --drain s after the last send. Server
CPU is the sum of the first field of /proc/PID/task/*/schedstat (ns on CPU,
every thread) over the phase and its drain. No compression is offered (as
confab-load). Prints one JSON object; progress on stderr. Bounded: at most
--members sockets, each phase --secs + --drain s.
"""
import argparse
import asyncio
import json
import os
import re
import sys
import time

import websockets


def now_us():
    return time.monotonic_ns() // 1000


def server_cpu(pid):
    if not pid:
        return None
    ns = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns += int(f.read().split()[0])
        except OSError:
            pass
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return {"ns": ns, "ticks": int(fields[11]) + int(fields[12])}


def quantile(xs, q):
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None


class Phase:
    def __init__(self, seq_from):
        self.seq_from = seq_from
        self.lat = []
        self.delivered = 0
        self.got = set()
        self.dups = 0


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="ws://127.0.0.1:18103")
    ap.add_argument("--room", default="xcheck")
    ap.add_argument("--rooms", type=int, default=1, help="rooms (members are split evenly; --publishers per room)")
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--rates", default="1.3333,4")
    ap.add_argument("--secs", type=float, default=6)
    ap.add_argument("--drain", type=float, default=2)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--server-pid", type=int)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not re.match(r"^wss?://(127\.0\.0\.1|localhost|\[::1\])[:/]", a.url):
        sys.exit("loopback URLs only")
    if a.rooms < 1 or a.members % a.rooms:
        sys.exit("--members must be a multiple of --rooms")
    per_room = a.members // a.rooms
    if not 1 <= a.publishers <= per_room or a.members > 20000:
        sys.exit("need 1 <= publishers <= members per room, members <= 20000")
    rates = [float(r) for r in a.rates.split(",")]
    base = a.url.rstrip("/")
    room_of = lambda i: i // per_room
    url_of = lambda i: f"{base}/ws/chat/{a.room}{room_of(i) if a.rooms > 1 else ''}/"

    t0 = time.monotonic()
    sem = asyncio.Semaphore(a.concurrency)

    async def connect(i):
        async with sem:
            try:
                return await websockets.connect(url_of(i), compression=None, max_queue=None, open_timeout=30, ping_interval=None)
            except Exception as e:  # noqa: BLE001 - counted and reported
                return e

    conns = await asyncio.gather(*(connect(i) for i in range(a.members)))
    errors = [c for c in conns if isinstance(c, Exception)]
    if errors:
        sys.exit(f"{len(errors)} connections failed: {errors[0]!r}")
    socks = conns
    connect_secs = time.monotonic() - t0
    print(f"websockets: {len(socks)} connected, {len(errors)} failed in {connect_secs:.1f} s" + (f" ({errors[0]!r})" if errors else ""), file=sys.stderr)

    state = {"phase": None, "closed": 0}

    async def reader(idx, ws):
        try:
            async for text in ws:
                now = now_us()
                ph = state["phase"]
                if ph is None:
                    continue
                msg = json.loads(text).get("message")
                if not isinstance(msg, str):
                    continue
                _pub, seq, sent = (int(x) for x in msg.split(":"))
                if seq < ph.seq_from:
                    continue  # a message of an earlier phase
                ph.lat.append(now - sent)
                ph.delivered += 1
                key = (idx, seq)  # seq is unique across publishers
                if key in ph.got:
                    ph.dups += 1
                ph.got.add(key)
        except websockets.ConnectionClosed:
            pass
        state["closed"] += 1

    readers = [asyncio.create_task(reader(i, ws)) for i, ws in enumerate(socks)]
    # The first --publishers members of every room publish.
    pubs = [socks[r * per_room + k] for r in range(a.rooms) for k in range(a.publishers)]
    seq = 0

    async def run_phase(rate, secs, label):
        nonlocal seq
        n = max(1, round(rate * secs))
        ph = Phase(seq)
        state["phase"] = ph
        cpu0 = server_cpu(a.server_pid)
        own0 = time.process_time()
        t0 = now_us()
        sent = 0
        for m in range(n):
            wait = t0 + m * 1e6 / rate - now_us()
            if wait > 1000:
                await asyncio.sleep(wait / 1e6)
            p = m % len(pubs)
            await pubs[p].send(json.dumps({"message": f"{p}:{seq}:{now_us()}"}))
            seq += 1
            sent += 1
        send_end = now_us()
        expected = sent * per_room  # every member of the publisher's room, itself included
        drain_end = time.monotonic() + a.drain
        while time.monotonic() < drain_end and ph.delivered < expected:
            await asyncio.sleep(0.02)
        wall = (now_us() - t0) / 1e6
        cpu1 = server_cpu(a.server_pid)
        own = time.process_time() - own0
        lat = sorted(ph.lat)
        distinct = ph.delivered - ph.dups
        publish_secs = max(secs, (send_end - t0) / 1e6)
        r = {
            "label": label,
            "target_rate": rate,
            "published": sent,
            "publish_rate": sent / publish_secs,
            "expected": expected,
            "delivered": distinct,
            "lost": expected - distinct,
            "dups": ph.dups,
            "deliveries_per_sec": distinct / publish_secs,
            "p50_ms": quantile(lat, 0.5) / 1000 if lat else None,
            "p99_ms": quantile(lat, 0.99) / 1000 if lat else None,
            "max_ms": lat[-1] / 1000 if lat else None,
            "server_cpu_secs": (cpu1["ns"] - cpu0["ns"]) / 1e9 if cpu0 else None,
            "server_cpu_secs_ticks": (cpu1["ticks"] - cpu0["ticks"]) / os.sysconf("SC_CLK_TCK") if cpu0 else None,
            "wall_secs": wall,
            "client_cpu_secs": own,
            "closed": state["closed"],
        }
        r["server_cpu"] = r["server_cpu_secs"] / wall if r["server_cpu_secs"] is not None else None
        r["server_cpu_us_per_delivery"] = r["server_cpu_secs"] * 1e6 / distinct if r["server_cpu_secs"] is not None and distinct else None
        state["phase"] = None
        fmt = lambda x: "?" if x is None else f"{x:.2f}"
        print(
            f"{label}: {rate} msg/s in -> {r['deliveries_per_sec']:.0f} deliveries/s, lost {r['lost']}/{expected}, dups {ph.dups}, "
            f"p50 {fmt(r['p50_ms'])} ms, p99 {fmt(r['p99_ms'])} ms, server cpu "
            + ("?" if r["server_cpu"] is None else f"{r['server_cpu'] * 100:.0f}%")
            + f", {fmt(r['server_cpu_us_per_delivery'])} µs/delivery, client cpu {own / wall * 100:.0f}%",
            file=sys.stderr,
        )
        await asyncio.sleep(0.5)
        return r

    await asyncio.sleep(0.5)
    if a.warmup > 0:
        await run_phase(rates[0], a.warmup, "warm-up")
    phases = [await run_phase(r, a.secs, f"rate {r:g}") for r in rates]
    await asyncio.gather(*(ws.close() for ws in socks), return_exceptions=True)
    for t in readers:
        t.cancel()
    out = json.dumps(
        {
            "tool": "websockets",
            "version": websockets.__version__,
            "args": {k: v for k, v in vars(a).items() if k != "json"},
            "connected": len(socks),
            "failed": len(errors),
            "connect_secs": connect_secs,
            "phases": phases,
        },
        indent=1,
    )
    if a.json:
        with open(a.json, "w") as f:
            f.write(out + "\n")
    else:
        print(out)


if __name__ == "__main__":
    asyncio.run(main())
