// The tiny app every bundler setup builds (tests/bundlers/run.mjs): the
// npm package imported by its name, one client that joins a room, publishes
// and receives its own message through a real confab-server.
import { ConfabClient } from "confab-client";

const ws = new URLSearchParams(location.search).get("ws");

async function main() {
  const client = new ConfabClient(ws, { name: "Bundled" });
  const room = await client.join(`bundler_${Math.floor(Math.random() * 1e9)}`);
  const text = `hello ${Date.now()}`;
  const received = new Promise((resolve, reject) => {
    room.on("message", (m) => m.payload.text === text && resolve(m));
    setTimeout(() => reject(new Error("no message within 10 s")), 10000);
  });
  const ack = await room.publish({ text });
  const m = await received;
  client.close();
  return { ok: m.from.name === "Bundled" && m.offset === ack.offset, from: m.from.name, offset: m.offset };
}

main().then(
  (r) => { window.__result = r; },
  (e) => { window.__result = { ok: false, error: String(e && e.stack || e) }; },
);
