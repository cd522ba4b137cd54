#!/usr/bin/env python3
"""Test control server for the client-sdk browser tests.

Runs named confab-server processes on fixed loopback ports and lets a test
running inside the browser kill / stop / start / restart them over HTTP
(CORS open, loopback only). Usage:

    control.py --port 9000 --server BIN \
        --instance durable=9001:--data-dir=/tmp/x \
        --instance memory=9002

POST /kill/NAME      SIGKILL (a crash)            POST /stop/NAME   SIGTERM (graceful, 1012)
POST /start/NAME     start again, wait until up   POST /restart/NAME?mode=kill|term&down_ms=N
POST /stall/NAME/SESSION   proxies the server's POST /debug/stall/SESSION (a dead link)
GET  /health         "ok"
GET  /token?user=U&ttl=5s   a user token signed with --token-secret
POST /api/NAME/PATH?method=M  calls instance NAME's HTTP API /api/PATH with
                         method M (default POST) and the --api-key
POST /ackproxy/drop      the --ack-proxy drops the next `ack` it carries and
                         closes that connection (the publish was stored, its
                         ack lost with the link)
POST /ackproxy/unknown   the --ack-proxy answers the next `ack` with an
                         `outcome_unknown` error of the same ref instead
--blackhole PORT accepts TCP connections and never answers (a handshake
that hangs). --dup-proxy PORT:TARGET forwards WebSocket connections to the
server on TARGET and sends every server `message` frame twice (no real
server duplicates; this is how the SDK's dedupe is tested). --ack-proxy
PORT:TARGET forwards likewise and loses or rewrites acks on request.
--redis PORT runs a redis-server; `REDIS` in an instance's flags becomes
its URL (`--instance node1=9010:--redis-url=REDIS`). Every confab-server
(and the redis-server) is killed when this process exits.
"""
import json
import asyncio
import argparse
import atexit
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class Instance:
    def __init__(self, name, port, extra, binary, log_dir):
        self.name, self.port, self.extra, self.binary = name, port, extra, binary
        self.log = open(os.path.join(log_dir, f"server-{name}.log"), "ab")
        self.proc = None
        self.lock = threading.Lock()

    def start(self):
        with self.lock:
            if self.proc and self.proc.poll() is None:
                return "already running"
            durable = ("--data-dir", "--redis-url")
            layer = [] if any(e.startswith(durable) for e in self.extra) else ["--in-memory"]
            cmd = [self.binary, "--bind", f"127.0.0.1:{self.port}", "--allowed-origins", "*",
                   "--debug-endpoints", "--static-dir", "/nonexistent"] + layer + self.extra
            self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
            deadline = time.time() + 20
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                        return "started"
                except OSError:
                    time.sleep(0.05)
            raise RuntimeError(f"{self.name} did not come up")

    def down(self, sig):
        with self.lock:
            if not self.proc or self.proc.poll() is not None:
                return "not running"
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            return "stopped"


INSTANCES = {}
TOKEN_ARGS = {}
# What the --ack-proxy does to the next ack: None, "drop" or "unknown".
ACK_PROXY = {"armed": None}


def text_frame(payload):
    """An unmasked server text frame."""
    n = len(payload)
    if n < 126:
        head = bytes([0x81, n])
    elif n < 65536:
        head = bytes([0x81, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, 127]) + n.to_bytes(8, "big")
    return head + payload


def duplicate_messages(h, payload, frame):
    """--dup-proxy: every `message` text frame twice."""
    if h[0] == 0x81 and b'"type":"message"' in payload:
        return [frame, frame]
    return [frame]


def tamper_acks(h, payload, frame):
    """--ack-proxy: the next `ack` dropped (None: close the link) or
    turned into an `outcome_unknown` error, once armed."""
    if h[0] != 0x81 or b'"type":"ack"' not in payload or ACK_PROXY["armed"] is None:
        return [frame]
    mode, ACK_PROXY["armed"] = ACK_PROXY["armed"], None
    if mode == "drop":
        return None
    ack = json.loads(payload)
    err = {"type": "error", "ref": ack.get("ref"), "code": "outcome_unknown",
           "message": "ack-proxy: the layer did not answer in time", "room": ack.get("room")}
    return [text_frame(json.dumps(err, separators=(",", ":")).encode())]


async def proxy_conn(client_r, client_w, target, on_frame):
    """One proxied connection: client bytes verbatim (minus the extension
    offer, so frames stay uncompressed), server frames parsed and passed
    through `on_frame`, which returns the frames to write (None: close)."""
    server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
    head = await client_r.readuntil(b"\r\n\r\n")
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"sec-websocket-extensions")]
    server_w.write(b"\r\n".join(lines))

    async def up():
        try:
            while data := await client_r.read(65536):
                server_w.write(data)
                await server_w.drain()
        finally:
            server_w.close()

    async def down():
        try:
            client_w.write(await server_r.readuntil(b"\r\n\r\n"))
            while True:
                h = await server_r.readexactly(2)
                n, ext = h[1] & 0x7F, b""
                if n == 126:
                    ext = await server_r.readexactly(2)
                elif n == 127:
                    ext = await server_r.readexactly(8)
                if ext:
                    n = int.from_bytes(ext, "big")
                mask = await server_r.readexactly(4) if h[1] & 0x80 else b""
                payload = await server_r.readexactly(n)
                out = on_frame(h, payload, h + ext + mask + payload)
                if out is None:
                    break
                for frame in out:
                    client_w.write(frame)
                await client_w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            client_w.close()
            server_w.close()

    await asyncio.gather(up(), down(), return_exceptions=True)


def run_proxy(port, target, on_frame):
    async def serve():
        srv = await asyncio.start_server(lambda r, w: proxy_conn(r, w, target, on_frame), "127.0.0.1", port)
        async with srv:
            await srv.serve_forever()
    threading.Thread(target=lambda: asyncio.run(serve()), daemon=True).start()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("[control] " + (fmt % args) + "\n")

    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_OPTIONS(self):
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST")
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/health":
            return self.reply(200, "ok")
        if url.path == "/token" and TOKEN_ARGS:
            q = urllib.parse.parse_qs(url.query)
            cmd = [TOKEN_ARGS["server"], "token", "--user", q["user"][0],
                   "--ttl", q.get("ttl", ["24h"])[0], "--token-secret", TOKEN_ARGS["secret"]]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                return self.reply(500, out.stderr)
            return self.reply(200, out.stdout.strip())
        self.reply(404, "not found")

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        if len(parts) >= 3 and parts[0] == "api" and parts[1] in INSTANCES and TOKEN_ARGS.get("api_key"):
            port = INSTANCES[parts[1]].port
            method = q.get("method", ["POST"])[0]
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/" + "/".join(parts[2:]), method=method,
                                         headers={"Authorization": "Bearer " + TOKEN_ARGS["api_key"]})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return self.reply(200, r.read().decode())
            except urllib.error.HTTPError as e:
                return self.reply(e.code, e.read().decode())
            except Exception as e:
                return self.reply(500, str(e))
        if len(parts) == 2 and parts[0] == "ackproxy" and parts[1] in ("drop", "unknown"):
            ACK_PROXY["armed"] = parts[1]
            return self.reply(200, "armed")
        if len(parts) == 3 and parts[0] == "stall" and parts[1] in INSTANCES:
            port = INSTANCES[parts[1]].port
            req = urllib.request.Request(f"http://127.0.0.1:{port}/debug/stall/{parts[2]}", method="POST")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return self.reply(200, r.read().decode())
            except Exception as e:
                return self.reply(500, str(e))
        if len(parts) != 2 or parts[1] not in INSTANCES:
            return self.reply(404, "unknown instance")
        action, inst = parts[0], INSTANCES[parts[1]]
        try:
            if action == "kill":
                out = inst.down(signal.SIGKILL)
            elif action == "stop":
                out = inst.down(signal.SIGTERM)
            elif action == "start":
                out = inst.start()
            elif action == "restart":
                sig = signal.SIGTERM if q.get("mode", ["kill"])[0] == "term" else signal.SIGKILL
                inst.down(sig)
                time.sleep(int(q.get("down_ms", ["300"])[0]) / 1000)
                out = inst.start()
            else:
                return self.reply(404, "unknown action")
            self.reply(200, out)
        except Exception as e:  # report to the test, keep serving
            self.reply(500, str(e))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--log-dir", default="/tmp")
    ap.add_argument("--blackhole", type=int)
    ap.add_argument("--dup-proxy", help="PORT:TARGET_PORT")
    ap.add_argument("--ack-proxy", action="append", default=[], help="PORT:TARGET_PORT")
    ap.add_argument("--redis", type=int, help="run a redis-server on this port")
    ap.add_argument("--token-secret", help="secret for GET /token")
    ap.add_argument("--api-key", help="API key for POST /api/...")
    ap.add_argument("--instance", action="append", default=[],
                    help="NAME=PORT[:--flag=value[:--flag...]]")
    args = ap.parse_args()
    if args.token_secret:
        TOKEN_ARGS.update(server=args.server, secret=args.token_secret)
    if args.api_key:
        TOKEN_ARGS["api_key"] = args.api_key
    redis = None
    if args.redis:
        redis_dir = os.path.join(args.log_dir, "redis")
        os.makedirs(redis_dir, exist_ok=True)
        redis = subprocess.Popen(
            ["redis-server", "--port", str(args.redis), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", redis_dir],
            stdout=open(os.path.join(args.log_dir, "redis.log"), "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", args.redis), timeout=0.2):
                    break
            except OSError:
                if time.time() > deadline or redis.poll() is not None:
                    raise RuntimeError("redis-server did not come up")
                time.sleep(0.05)
    redis_url = f"redis://127.0.0.1:{args.redis}/"
    for spec in args.instance:
        name, rest = spec.split("=", 1)
        port, *extra = rest.split(":")
        extra = [e.replace("REDIS", redis_url) for e in extra if e]
        INSTANCES[name] = Instance(name, int(port), extra, args.server, args.log_dir)

    def cleanup(*_):
        for inst in INSTANCES.values():
            inst.down(signal.SIGKILL)
        if redis and redis.poll() is None:
            redis.kill()
    atexit.register(cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    for inst in INSTANCES.values():
        inst.start()
    if args.blackhole:
        hole = socket.socket()
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind(("127.0.0.1", args.blackhole))
        hole.listen(64)
        held = []

        def swallow():
            while True:
                conn, _ = hole.accept()
                held.append(conn)  # keep it open, never reply
        threading.Thread(target=swallow, daemon=True).start()
    if args.dup_proxy:
        port, target = args.dup_proxy.split(":")
        run_proxy(int(port), int(target), duplicate_messages)
    for spec in args.ack_proxy:
        port, target = spec.split(":")
        run_proxy(int(port), int(target), tamper_acks)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("control ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
