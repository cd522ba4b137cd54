#!/usr/bin/env node
"use strict";
// Cross-check of confab-load's Socket.IO fan-out figures with the official
// client (socket.io-client, pinned in package.json). Independent of the Rust
// load generator: its own connect, publish schedule, latency and loss
// accounting, and its own reading of the server's CPU.
//
//   npm ci && node socketio-fanout.js --url http://127.0.0.1:18102 \
//     --members 1000 --publishers 4 --rates 1.333,4,12,40 --secs 5 --server-pid PID
//
// One room of --members sockets (websocket transport only, room in the
// handshake query, as the anchor expects), of which --publishers publish
// (or, with --rooms R, R rooms of members/R sockets, --publishers of each
// room publishing: the many-rooms scenario).
// For each rate (messages per second into the room, all publishers together)
// the publishers send for --secs, spread evenly: message m of the phase
// leaves at m / rate (publisher m mod P), so the room sees one message every
// 1/rate s. Every message is "<publisher>:<seq>:<send µs>" on this process's
// monotonic clock; receivers compute end-to-end latency and count what
// arrived within --drain s after the last send. Server CPU is the sum of the
// first field of /proc/PID/task/*/schedstat (ns on CPU, every thread) over
// the phase and its drain. Prints one JSON object; progress on stderr.
// Bounded: at most --members sockets, each phase --secs + --drain s.

const fs = require("fs");
const { io } = require("socket.io-client");

function parseArgs(argv) {
  const a = {
    url: "http://127.0.0.1:18102",
    members: 1000,
    publishers: 4,
    room: "xcheck",
    rooms: 1,
    rates: [1.333, 4, 12, 40],
    secs: 5,
    drain: 2,
    warmup: 2,
    serverPid: null,
    json: null,
    concurrency: 64,
  };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    switch (k) {
      case "--url": a.url = v; i++; break;
      case "--members": a.members = parseInt(v, 10); i++; break;
      case "--publishers": a.publishers = parseInt(v, 10); i++; break;
      case "--room": a.room = v; i++; break;
      case "--rooms": a.rooms = parseInt(v, 10); i++; break;
      case "--rates": a.rates = v.split(",").map(Number); i++; break;
      case "--secs": a.secs = Number(v); i++; break;
      case "--drain": a.drain = Number(v); i++; break;
      case "--warmup": a.warmup = Number(v); i++; break;
      case "--server-pid": a.serverPid = parseInt(v, 10); i++; break;
      case "--json": a.json = v; i++; break;
      case "--concurrency": a.concurrency = parseInt(v, 10); i++; break;
      default: throw new Error(`unknown argument ${k}`);
    }
  }
  if (!/^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(a.url)) throw new Error("loopback URLs only");
  if (a.rooms < 1 || a.members % a.rooms) throw new Error("--members must be a multiple of --rooms");
  a.perRoom = a.members / a.rooms;
  if (a.perRoom < a.publishers || a.publishers < 1 || a.members > 20000) throw new Error("need 1 <= publishers <= members per room, members <= 20000");
  return a;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ns on CPU of every live thread of pid, and utime+stime (ticks) of the process.
function serverCpu(pid) {
  if (!pid) return null;
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  }
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(")").pop().trim().split(/\s+/);
  return { ns, ticks: Number(f[11]) + Number(f[12]) };
}

function quantile(sorted, q) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function connectAll(a) {
  const sockets = new Array(a.members);
  let next = 0;
  let failed = 0;
  let firstError = null;
  async function worker() {
    while (next < a.members) {
      const i = next++;
      const room = a.rooms > 1 ? `${a.room}${Math.floor(i / a.perRoom)}` : a.room;
      const s = io(a.url, {
        transports: ["websocket"],
        query: { room },
        forceNew: true,
        reconnection: false,
        timeout: 20000,
      });
      await new Promise((resolve) => {
        s.once("connect", resolve);
        s.once("connect_error", (e) => {
          failed++;
          firstError = firstError || String(e);
          resolve();
        });
      });
      sockets[i] = s;
    }
  }
  const t0 = Date.now();
  await Promise.all(Array.from({ length: a.concurrency }, worker));
  return { sockets, failed, firstError, secs: (Date.now() - t0) / 1000 };
}

async function main() {
  const a = parseArgs(process.argv);
  const crowd = await connectAll(a);
  const sockets = crowd.sockets;
  process.stderr.write(`socket.io-client: ${a.members - crowd.failed} connected, ${crowd.failed} failed in ${crowd.secs.toFixed(1)} s${crowd.firstError ? ` (${crowd.firstError})` : ""}\n`);
  if (crowd.failed) throw new Error(`${crowd.failed} connections failed`);

  // Receive side: every socket records latency and which (publisher, seq) it got.
  let phase = null; // { lat: [], got: Map (socket, seq) -> count, delivered, seqFrom }
  let closed = 0;
  sockets.forEach((s, idx) => {
    s.on("chat", (p) => {
      const now = nowUs();
      if (!phase || !p || typeof p.message !== "string") return;
      const [pub, seq, sent] = p.message.split(":").map(Number);
      if (seq < phase.seqFrom) return; // a message of an earlier phase
      phase.lat.push(now - sent);
      phase.delivered++;
      // seq is unique across publishers; a (socket, seq) pair seen twice is a duplicate.
      const k = idx * 1e9 + seq;
      phase.got.set(k, (phase.got.get(k) || 0) + 1);
      void pub;
    });
    s.on("disconnect", () => closed++);
  });
  // The first --publishers members of every room publish.
  const pubs = [];
  for (let r = 0; r < a.rooms; r++) for (let k = 0; k < a.publishers; k++) pubs.push(sockets[r * a.perRoom + k]);
  let seq = 0; // one sequence across phases, so late deliveries are recognised

  async function runPhase(rate, secs, label) {
    const n = Math.max(1, Math.round(rate * secs));
    phase = { lat: [], got: new Map(), delivered: 0, seqFrom: seq };
    const cpu0 = serverCpu(a.serverPid);
    const own0 = process.cpuUsage();
    const t0 = nowUs();
    let sent = 0;
    for (let m = 0; m < n; m++) {
      const due = t0 + (m * 1e6) / rate;
      const wait = due - nowUs();
      if (wait > 1000) await sleep(wait / 1000);
      const p = m % pubs.length;
      pubs[p].emit("chat", { message: `${p}:${seq}:${nowUs()}` });
      seq++;
      sent++;
    }
    const sendEnd = nowUs();
    const expected = sent * a.perRoom; // every member of the publisher's room, itself included
    const drainEnd = Date.now() + a.drain * 1000;
    while (Date.now() < drainEnd && phase.delivered < expected) await sleep(20);
    const wallUs = nowUs() - t0;
    const cpu1 = serverCpu(a.serverPid);
    const own = process.cpuUsage(own0);
    const lat = Float64Array.from(phase.lat).sort();
    let dups = 0;
    for (const c of phase.got.values()) dups += c - 1;
    const distinct = phase.delivered - dups;
    const publishSecs = Math.max(secs, (sendEnd - t0) / 1e6);
    const r = {
      label,
      target_rate: rate,
      published: sent,
      publish_rate: sent / publishSecs,
      expected,
      delivered: distinct,
      lost: expected - distinct,
      dups,
      deliveries_per_sec: distinct / publishSecs,
      p50_ms: quantile(lat, 0.5) / 1000,
      p99_ms: quantile(lat, 0.99) / 1000,
      max_ms: lat.length ? lat[lat.length - 1] / 1000 : null,
      server_cpu_secs: cpu0 && cpu1 ? (cpu1.ns - cpu0.ns) / 1e9 : null,
      server_cpu_secs_ticks: cpu0 && cpu1 ? (cpu1.ticks - cpu0.ticks) / 100 : null,
      wall_secs: wallUs / 1e6,
      client_cpu_secs: (own.user + own.system) / 1e6,
      closed,
    };
    r.server_cpu = r.server_cpu_secs == null ? null : r.server_cpu_secs / r.wall_secs;
    r.server_cpu_us_per_delivery = r.server_cpu_secs == null || !distinct ? null : (r.server_cpu_secs * 1e6) / distinct;
    phase = null;
    process.stderr.write(
      `${label}: ${rate} msg/s in -> ${r.deliveries_per_sec.toFixed(0)} deliveries/s, lost ${r.lost}/${expected}, dups ${dups}, ` +
        `p50 ${r.p50_ms?.toFixed(2)} ms, p99 ${r.p99_ms?.toFixed(2)} ms, server cpu ${r.server_cpu == null ? "?" : (r.server_cpu * 100).toFixed(0) + "%"}` +
        `${r.server_cpu_us_per_delivery == null ? "" : `, ${r.server_cpu_us_per_delivery.toFixed(2)} µs/delivery`}, client cpu ${((r.client_cpu_secs / r.wall_secs) * 100).toFixed(0)}%\n`,
    );
    await sleep(500);
    return r;
  }

  await sleep(500);
  const phases = [];
  if (a.warmup > 0) await runPhase(a.rates[0], a.warmup, "warm-up");
  for (const rate of a.rates) phases.push(await runPhase(rate, a.secs, `rate ${rate}`));
  for (const s of sockets) s.close();
  const out = JSON.stringify(
    {
      tool: "socket.io-client",
      version: require("socket.io-client/package.json").version,
      args: { ...a, json: undefined },
      connected: sockets.length,
      failed: crowd.failed,
      connect_secs: crowd.secs,
      phases,
    },
    null,
    1,
  );
  if (a.json) fs.writeFileSync(a.json, out + "\n");
  else process.stdout.write(out + "\n");
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(`socketio-fanout: ${e.stack || e}\n`);
  process.exit(1);
});
