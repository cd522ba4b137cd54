#!/usr/bin/env python3
"""Opens many WebSockets from one address as fast as it can and counts how
the server answers each handshake (101, 429, 503, ...). Loopback only;
bounded by --count and --timeout.

    ulimit -n 20000
    scripts/attacks/connection_flood.py --port 8000 --count 12000
"""
import argparse
import asyncio
import collections
import time


async def handshake(port, sem, held):
    async with sem:
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError as e:
            return f"connect: {e.__class__.__name__}"
        w.write(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        try:
            line = await asyncio.wait_for(r.readline(), 10)
        except (asyncio.TimeoutError, OSError):
            w.close()
            return "no answer"
        status = line.split(b" ")[1].decode() if line.count(b" ") >= 2 else "closed"
        if status == "101":
            held.append(w)  # keep it open
        else:
            w.close()
        return status


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=12000)
    p.add_argument("--parallel", type=int, default=500)
    p.add_argument("--timeout", type=float, default=120)
    a = p.parse_args()
    sem = asyncio.Semaphore(a.parallel)
    held = []
    t0 = time.time()
    results = await asyncio.wait_for(
        asyncio.gather(*(handshake(a.port, sem, held) for _ in range(a.count))), a.timeout
    )
    took = time.time() - t0
    counts = collections.Counter(results)
    print(f"{a.count} handshakes from one address in {took:.1f} s: " + ", ".join(f"{k}: {v}" for k, v in counts.most_common()))
    for w in held:
        w.close()


if __name__ == "__main__":
    asyncio.run(main())
