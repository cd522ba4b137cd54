// The browser half of the SDK soak. soak/driver.mjs calls window.soakStep()
// in batches and reads the heap between them (after a forced GC).
//   "fresh":     a new ConfabClient per cycle: open, join, publish (acked),
//                close, free — the per-connection path
//   "reconnect": one ConfabClient, client.reconnect() per cycle: the link is
//                dropped, re-opened, the room resumed (no gap), a publish acked
// After every batch the SDK's own liveHandles() count is reported.
import init, { ConfabClient, liveHandles } from "./pkg/confab_client.js";

const wasm = await init();
const WS = `ws://${location.host}/ws`;
const out = document.getElementById("out");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, ms, cond) {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(1);
  }
}

const base = liveHandles();
let cycles = { fresh: 0, reconnect: 0 };
let sticky = null; // { client, room, received }

async function freshCycle(i) {
  const client = new ConfabClient(WS, { name: `fresh${i % 10}`, ackTimeoutMs: 5000 });
  await until("open", 5000, () => client.state === "open" && client.me);
  const room = await client.join("soak-fresh");
  const ack = await room.publish({ i });
  if (!(ack.offset > 0)) throw new Error(`bad ack ${JSON.stringify(ack)}`);
  client.close();
  room.free();
  client.free();
}

async function stickyClient() {
  if (sticky) return sticky;
  // A link open for less than stableAfterMs does not reset the backoff
  // attempt counter, so back-to-back forced reconnects would wait longer
  // and longer: keep the backoff short for the soak.
  const client = new ConfabClient(WS, {
    name: "sticky",
    ackTimeoutMs: 5000,
    backoff: { minMs: 1, maxMs: 20, stableAfterMs: 1 },
  });
  await until("open", 5000, () => client.state === "open" && client.me);
  const room = await client.join("soak-reconnect");
  sticky = { client, room, received: 0 };
  room.on("message", () => sticky.received++);
  return sticky;
}

async function reconnectCycle(i) {
  const s = await stickyClient();
  const before = s.client.sessionId;
  s.client.reconnect();
  await until(`a new session (state ${s.client.state}, ${JSON.stringify(s.client.stateInfo)}, session ${s.client.sessionId} was ${before})`, 5000, () => s.client.state === "open" && s.client.sessionId !== before);
  await until("room re-joined", 5000, () => s.room.state === "joined");
  if (i % 10 === 0) {
    const ack = await s.room.publish({ i });
    if (!(ack.offset > 0)) throw new Error(`bad ack ${JSON.stringify(ack)}`);
  }
}

window.soakStep = async (kind, n) => {
  const run = kind === "fresh" ? freshCycle : reconnectCycle;
  const t0 = performance.now();
  for (let k = 0; k < n; k++) await run(cycles[kind]++);
  // Let the last close events and timers settle before counting handles.
  if (kind === "fresh") await until("handles released", 3000, () => liveHandles() === base).catch(() => {});
  const r = {
    kind,
    cycles: cycles[kind],
    ms: Math.round(performance.now() - t0),
    liveHandles: liveHandles(),
    baseHandles: base,
    wasmBytes: wasm.memory.buffer.byteLength,
    gaps: sticky ? sticky.room.gaps : 0,
    received: sticky ? sticky.received : 0,
  };
  out.textContent = JSON.stringify(r, null, 1);
  return r;
};

window.soakFinish = () => {
  if (sticky) {
    sticky.client.close();
    sticky.room.free();
    sticky.client.free();
    sticky = null;
  }
  return until("all handles released", 3000, () => liveHandles() === base)
    .then(() => liveHandles(), () => liveHandles());
};

window.soakReady = true;
out.textContent = "ready";
if (new URLSearchParams(location.search).get("auto")) {
  for (const kind of ["fresh", "reconnect"]) for (let b = 0; b < 10; b++) await window.soakStep(kind, 100);
  out.textContent += `\nfinished, liveHandles after close: ${await window.soakFinish()}`;
}
