"""End-to-end test of the Django example (run by test.sh).

Starts Django's dev server and a real confab-server (loopback, free ports,
a throwaway SQLite database), then plays the browser with a Python
WebSocket client:

  1. Django logs users in and mints their JWTs (PyJWT); Confab accepts them.
  2. Django's join hook: a team member joins `team.42`, a non-member is
     refused with `hook_denied` (and is really not in the room).
  3. A message sent over the WebSocket ends up in Django's database (the
     `message_stored` webhook, through the ORM), once, with its text; the
     publish hook's edit (trimmed text) is what members receive.
  4. A message Django publishes from a view (server API) reaches the clients.
  5. The same with the real page in headless Chromium (browser_check.mjs):
     a message typed in the page reaches another client and Django's
     database, the page's announcement arrives, a non-member's page shows
     the refusal.
  6. Django refuses hook and webhook requests that are unsigned, forged,
     tampered with or replayed (stale timestamp), and stores a webhook batch
     posted twice once.
  7. With Django stopped, a join of a team room is refused (fail closed).

Every wait is bounded. Exit status 0 only if every check passed.
"""
import asyncio
import hashlib
import hmac
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import jwt
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

HERE = Path(__file__).resolve().parent
TIMEOUT = 10.0  # seconds, for any one thing to happen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    """confab-server + Django dev server, with their logs in a temp dir."""

    def __init__(self, server_bin: str):
        self.tmp = Path(tempfile.mkdtemp(prefix="confab-django-"))
        self.django_port, self.confab_port = free_port(), free_port()
        self.django = f"http://127.0.0.1:{self.django_port}"
        self.confab = f"http://127.0.0.1:{self.confab_port}"
        self.token_secret = secrets.token_hex(32)
        self.backend_secret = secrets.token_hex(32)
        self.api_key = secrets.token_hex(16)
        self.db = self.tmp / "db.sqlite3"
        self.procs: list[tuple[str, subprocess.Popen, Path]] = []
        self.server_bin = server_bin

    def env(self) -> dict:
        return {
            **os.environ,
            "DJANGO_DB": str(self.db),
            "CONFAB_URL": self.confab,
            "CONFAB_TOKEN_SECRET": self.token_secret,
            "CONFAB_BACKEND_SECRET": self.backend_secret,
            "CONFAB_API_KEY": self.api_key,
            "PYTHONUNBUFFERED": "1",
        }

    def start(self):
        manage = [sys.executable, str(HERE / "manage.py")]
        for cmd in (["migrate", "-v0"], ["seed_demo"]):
            subprocess.run(manage + cmd, env=self.env(), check=True, timeout=60, stdout=subprocess.DEVNULL)
        config = (HERE / "confab.toml").read_text().replace("127.0.0.1:8001", f"127.0.0.1:{self.django_port}")
        (self.tmp / "confab.toml").write_text(config)
        self.spawn("django", manage + ["runserver", f"127.0.0.1:{self.django_port}", "--noreload"])
        self.spawn(
            "confab-server",
            [self.server_bin, "--in-memory", "--bind", f"127.0.0.1:{self.confab_port}",
             "--config", str(self.tmp / "confab.toml"), "--allowed-origins", self.django],
        )
        wait_http(f"{self.confab}/healthz", "confab-server", self)
        wait_http(f"{self.django}/accounts/login/", "Django", self)

    def spawn(self, name: str, cmd: list[str]):
        log = self.tmp / f"{name}.log"
        proc = subprocess.Popen(cmd, env=self.env(), stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=HERE)
        self.procs.append((name, proc, log))

    def stop_one(self, name: str):
        for n, proc, _ in self.procs:
            if n == name:
                proc.terminate()
                proc.wait(timeout=5)
        self.procs = [p for p in self.procs if p[0] != name]

    def check_alive(self):
        for name, proc, _ in self.procs:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}")

    def stop(self, show_logs: bool):
        for _, proc, _ in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for name, proc, log in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if show_logs:
                lines = log.read_text(errors="replace").splitlines()[-40:]
                print(f"--- last lines of {name}'s log ---", *lines, sep="\n")


def wait_http(url: str, what: str, stack: Stack):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stack.check_alive()
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"{what} did not answer {url} within 30 s")


# --- HTTP as a browser does it: a session cookie and Django's CSRF token -----


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, method: str, path: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=TIMEOUT) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")

    def login(self, username: str, password: str = "confab-demo"):
        status, page = self.request("GET", "/accounts/login/")
        assert status == 200, f"login page: {status}"
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1].decode()
        status, _ = self.request(
            "POST", "/accounts/login/",
            {"username": username, "password": password, "csrfmiddlewaretoken": csrf},
            {"Referer": self.base + "/accounts/login/"},
        )
        assert status == 200 and self.cookie("sessionid"), f"login of {username} failed ({status})"

    def token(self) -> dict:
        status, body = self.request("GET", "/confab/token")
        assert status == 200, f"/confab/token: {status} {body[:200]!r}"
        return json.loads(body)

    def post_form(self, path: str, data: dict):
        return self.request("POST", path, data, {"X-CSRFToken": self.cookie("csrftoken"), "Referer": self.base + "/"})


# --- the WebSocket client (what the page's JavaScript does) ------------------


class Client:
    def __init__(self, name: str, ws):
        self.name, self.ws, self.ref = name, ws, 0

    @classmethod
    async def open(cls, name: str, token_info: dict):
        url = f"{token_info['ws_url']}?token={urllib.parse.quote(token_info['token'])}"
        ws = await connect(url, open_timeout=TIMEOUT)
        client = cls(name, ws)
        welcome = await client.until(lambda f: f["type"] == "welcome")
        return client, welcome

    async def send(self, frame: dict) -> str:
        self.ref += 1
        frame["ref"] = str(self.ref)
        await self.ws.send(json.dumps(frame))
        return frame["ref"]

    async def until(self, match, timeout: float = TIMEOUT) -> dict:
        """The next frame `match` accepts; other frames are skipped."""

        async def read():
            while True:
                frame = json.loads(await self.ws.recv())
                if match(frame):
                    return frame

        try:
            return await asyncio.wait_for(read(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no matching frame within {timeout} s") from None

    async def reply(self, frame: dict) -> dict:
        ref = await self.send(frame)
        return await self.until(lambda f: f.get("ref") == ref)


# --- signed requests, as Confab makes them ------------------------------------


def signed_post(url: str, body: bytes, secret: str, ts: int | None = None, sig: str | None = None, sign_body: bytes | None = None):
    ts = int(time.time()) if ts is None else ts
    mac = hmac.new(secret.encode(), str(ts).encode() + b"." + (sign_body or body), hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Confab-Timestamp": str(ts),
               "X-Confab-Signature": sig if sig is not None else f"v1={mac}"}
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def unsigned_post(url: str, body: bytes):
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def stored_rows(db: Path, room: str) -> list[tuple]:
    """Messages in Django's database, read straight from the SQLite file."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return conn.execute(
            "SELECT event_id, offset, sender_id, text FROM teamchat_message WHERE room = ? ORDER BY offset",
            (room,),
        ).fetchall()


async def wait_rows(db: Path, room: str, match, what: str) -> list[tuple]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        rows = [r for r in stored_rows(db, room) if match(r)]
        if rows:
            return rows
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what}: not in Django's database after {TIMEOUT} s; rows: {stored_rows(db, room)}")


# --- the checks ----------------------------------------------------------------


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def ok(self, what: str):
        self.passed += 1
        print(f"ok {self.passed + self.failed} - {what}", flush=True)


async def run(stack: Stack, checks: Checks):
    dj = stack.django

    # 1. Log in with Django, get a JWT minted with PyJWT, connect to Confab.
    status, _ = Browser(dj).request("GET", "/confab/token")
    assert status == 401, f"/confab/token without a session: {status}, want 401"
    alice, bob, carol = Browser(dj), Browser(dj), Browser(dj)
    alice.login("alice")
    bob.login("bob")
    carol.login("carol")
    info = alice.token()
    claims = jwt.decode(info["token"], stack.token_secret, algorithms=["HS256"])
    assert claims["sub"] == "alice" and claims["name"] == "Alice", claims
    assert claims["exp"] > time.time() + 60, claims
    a, welcome = await Client.open("alice", info)
    assert welcome["user"]["id"] == "alice" and welcome["user"]["name"] == "Alice", welcome
    b, _ = await Client.open("bob", bob.token())
    c, _ = await Client.open("carol", carol.token())
    try:
        ws = await connect(info["ws_url"], open_timeout=TIMEOUT)
        await ws.close()
        raise AssertionError("a socket without a token was accepted (confab.toml: guests = \"off\")")
    except InvalidStatus as e:
        assert e.response.status_code == 401, e
    checks.ok("Django logs users in and mints their JWTs (PyJWT, HS256); Confab accepts them (welcome as alice), "
              "and refuses a socket without one (401)")

    # 2. The join hook: members in, others refused with hook_denied.
    joined = await a.reply({"type": "join", "room": "team.42"})
    assert joined["type"] == "joined" and joined["room"] == "team.42", joined
    me = next(m for m in joined["members"] if m["id"] == "alice")
    assert (me.get("info") or {}).get("role") == "owner", f"join hook's info not applied: {me}"
    joined = await c.reply({"type": "join", "room": "team.42"})
    assert joined["type"] == "joined", joined
    checks.ok("join hook: members alice and carol join team.42 (alice with the role Django gave: owner)")

    for client, room, team in ((a, "team.7", 7), (b, "team.42", 42)):
        refused = await client.reply({"type": "join", "room": room})
        assert refused["type"] == "error" and refused["code"] == "hook_denied", refused
        assert refused.get("room") == room, refused
        assert "not_a_member" in refused.get("message", "") and f"team {team}" in refused["message"], refused
        not_in = await client.reply({"type": "publish", "room": room, "payload": {"message": "let me in"}})
        assert not_in["type"] == "error" and not_in["code"] == "not_joined", f"refused join, yet: {not_in}"
    checks.ok("join hook: alice refused from team.7, bob from team.42 (hook_denied, 'not_a_member: you are not in team N'); they are not in the room")

    # 3. A message sent over the WebSocket lands in Django's database.
    text = f"hello from the browser {secrets.token_hex(4)}"
    ack = await a.reply({"type": "publish", "room": "team.42", "cid": "e2e-1", "payload": {"message": f"  {text}  "}})
    assert ack["type"] == "ack", ack
    got = await c.until(lambda f: f["type"] == "message" and f["room"] == "team.42")
    assert got["payload"] == {"message": text} and got["from"]["id"] == "alice", f"publish hook's edit not delivered: {got}"
    assert got["offset"] == ack["offset"], (got, ack)
    checks.ok("publish hook: carol receives alice's message trimmed by Django")
    rows = await wait_rows(stack.db, "team.42", lambda r: r[3] == text, "the message alice sent")
    assert len(rows) == 1 and rows[0][1:] == (ack["offset"], "alice", text), rows
    checks.ok(f"the message sent on the WebSocket is in Django's database (webhook -> ORM): offset {ack['offset']}, alice, {text!r}")

    # 4. Django publishes from a view (server API); the clients receive it.
    status, _ = bob.post_form("/teams/42/announce", {"message": "not my team"})
    assert status == 403, f"bob announcing in team 42: {status}, want 403"
    announcement = f"published by Django {secrets.token_hex(4)}"
    status, body = alice.post_form("/teams/42/announce", {"message": announcement, "idempotency_key": "e2e-announce-1"})
    assert status == 201, f"announce: {status} {body[:300]!r}"
    stored = json.loads(body)
    for client in (a, c):
        got = await client.until(lambda f: f["type"] == "message" and f.get("offset") == stored["offset"])
        assert got["payload"] == {"message": announcement, "announcement": True, "by": "alice"}, got
        assert got["from"]["id"] == "server" and got["offset"] == stored["offset"], (got, stored)
    status, body = alice.post_form("/teams/42/announce", {"message": announcement, "idempotency_key": "e2e-announce-1"})
    assert status == 201 and json.loads(body)["offset"] == stored["offset"], f"retried announce: {status} {body!r}"
    checks.ok("a message Django publishes from a view (server API) reaches alice and carol; a retry with its Idempotency-Key is stored once")
    await wait_rows(stack.db, "team.42", lambda r: r[3] == announcement, "Django's announcement")
    status, body = alice.request("GET", "/teams/42/messages")
    texts = [m["text"] for m in json.loads(body)["messages"]]
    assert status == 200 and texts == [text, announcement], f"/teams/42/messages: {status} {texts}"
    checks.ok("Django's own view lists both messages from its database, in order, once each")

    # 5. The same through the real page (room.html) in headless Chromium.
    typed, posted = f"typed in Chromium {secrets.token_hex(4)}", f"announced from the page {secrets.token_hex(4)}"
    shots = HERE / ".run" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    node = await asyncio.create_subprocess_exec(
        "node", str(HERE / "browser_check.mjs"),
        env={**os.environ, "DJANGO_URL": dj, "TEXT": typed, "ANNOUNCEMENT": posted, "SHOTS": str(shots)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(node.communicate(), 60)
    except TimeoutError:
        node.kill()
        raise AssertionError("browser_check.mjs did not finish within 60 s") from None
    print(out.decode(errors="replace"), end="", flush=True)
    assert node.returncode == 0, f"browser_check.mjs exited with {node.returncode} (screenshots: {shots})"
    got = await a.until(lambda f: f["type"] == "message" and f["payload"].get("message") == typed)
    assert got["from"]["id"] == "carol", got
    got = await a.until(lambda f: f["type"] == "message" and f["payload"].get("message") == posted)
    assert got["from"]["id"] == "server" and got["payload"].get("by") == "carol", got
    rows = await wait_rows(stack.db, "team.42", lambda r: r[3] == typed, "the message typed in Chromium")
    assert len(rows) == 1 and rows[0][2] == "carol", rows
    checks.ok(f"in Chromium, carol's page sends a message, which alice's socket receives and Django stores; "
              f"the page's announcement reaches alice; bob's page shows the refusal (screenshots: {shots})")

    # 6. Only Confab may call the hooks and webhooks: signed, fresh.
    hooks, events = f"{dj}/confab/hooks", f"{dj}/confab/events"
    join = json.dumps({"hook": "join", "room": "team.42", "user": {"id": "bob", "name": "Bob"}}).encode()
    status, answer = signed_post(hooks, join, stack.backend_secret)
    assert status == 200 and answer["result"] == "deny", f"a good signature must be accepted: {status} {answer}"
    member = json.dumps({"hook": "join", "room": "team.42", "user": {"id": "carol"}}).encode()
    forged = {
        "unsigned": unsigned_post(hooks, member),
        "wrong secret": signed_post(hooks, member, "not-the-secret"),
        "garbage signature": signed_post(hooks, member, stack.backend_secret, sig="v1=00"),
        "tampered body": signed_post(hooks, member, stack.backend_secret, sign_body=join),
        "replayed (timestamp 301 s old)": signed_post(hooks, member, stack.backend_secret, ts=int(time.time()) - 301),
        "timestamp 301 s ahead": signed_post(hooks, member, stack.backend_secret, ts=int(time.time()) + 301),
    }
    for what, (status, answer) in forged.items():
        assert status == 403 and "result" not in answer, f"{what}: {status} {answer}"
    assert "stale" in forged["replayed (timestamp 301 s old)"][1]["error"], forged
    checks.ok(f"the join hook refuses {', '.join(forged)} requests (403) and answers a signed one")

    fake = {"id": "e2e-fake-1", "event": "message_stored", "ts": int(time.time() * 1000), "room": "team.42",
            "message": {"room": "team.42", "offset": 9999, "from": {"id": "mallory", "name": "Mallory"},
                        "ts": int(time.time() * 1000), "payload": {"message": "forged"}}}
    batch = json.dumps({"events": [fake]}).encode()
    for what, (status, _) in {
        "unsigned": unsigned_post(events, batch),
        "wrong secret": signed_post(events, batch, "not-the-secret"),
        "replayed": signed_post(events, batch, stack.backend_secret, ts=int(time.time()) - 400),
    }.items():
        assert status == 403, f"webhook {what}: {status}"
    assert not [r for r in stored_rows(stack.db, "team.42") if r[0] == "e2e-fake-1"], "a refused webhook was stored"
    for _ in range(2):  # at least once: the same batch twice
        status, answer = signed_post(events, batch, stack.backend_secret)
        assert status == 200, (status, answer)
    rows = [r for r in stored_rows(stack.db, "team.42") if r[0] == "e2e-fake-1"]
    assert len(rows) == 1, f"a batch posted twice must be stored once: {rows}"
    checks.ok("the webhook refuses unsigned, forged and replayed batches (nothing stored); a batch posted twice is stored once")

    # 7. Django down: team rooms fail closed (confab.toml: fail_open = false).
    joined = await b.reply({"type": "join", "room": "team.7"})
    assert joined["type"] == "joined", f"bob, a member of team 7: {joined}"
    stack.stop_one("django")
    refused = await c.reply({"type": "join", "room": "team.7"})
    assert refused["type"] == "error" and refused["code"] == "hook_unavailable", refused
    checks.ok("with Django up bob joins team.7; with Django stopped carol's join of team.7 is refused (hook_unavailable)")

    for client in (a, b, c):
        await client.ws.close()


def main() -> int:
    server_bin = os.environ.get("CONFAB_SERVER") or str(HERE.parent.parent / "target/debug/confab-server")
    if not Path(server_bin).is_file():
        print(f"no confab-server at {server_bin} (cargo build -p confab-server, or set CONFAB_SERVER)")
        return 1
    stack = Stack(server_bin)
    checks = Checks()
    ok = False
    try:
        stack.start()
        asyncio.run(asyncio.wait_for(run(stack, checks), 60))
        stack.check_alive()
        ok = True
    except (AssertionError, TimeoutError, OSError, subprocess.SubprocessError) as e:
        checks.failed += 1
        print(f"not ok {checks.passed + checks.failed} - {type(e).__name__}: {e}", flush=True)
    finally:
        stack.stop(show_logs=not ok)
        if ok:
            shutil.rmtree(stack.tmp, ignore_errors=True)
    print(f"django-e2e: {checks.passed} passed, {checks.failed} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
