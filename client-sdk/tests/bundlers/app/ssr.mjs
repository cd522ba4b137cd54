// The package under Node.js, as a server render imports it (the `node`
// export condition; tests/bundlers/ssr.sh runs this in a project with the
// tarball installed).
//   node ssr.mjs no-websocket WS_URL                          (Node 20: no global WebSocket)
//   node --experimental-websocket ssr.mjs websocket WS_URL    (Node's own WebSocket)
// Exit 0 and an "ok" line, or exit 1 with the reason.
const [mode, ws] = process.argv.slice(2);
const fail = (why) => {
  console.error(`FAIL ssr ${mode}: ${why}`);
  process.exit(1);
};
if (mode === "no-websocket" && globalThis.WebSocket) delete globalThis.WebSocket; // Node 22+
if (mode === "websocket" && typeof WebSocket !== "function") fail("run with --experimental-websocket (Node 20)");

// Importing must work without a WebSocket and without loading the .wasm.
const { ConfabClient, ConfabSocket } = await import("confab-client");
if (typeof ConfabClient !== "function" || typeof ConfabSocket !== "function") fail("exports");

if (mode === "no-websocket") {
  for (const Class of [ConfabClient, ConfabSocket]) {
    try {
      new Class(ws);
      fail(`new ${Class.name}() without a WebSocket did not throw`);
    } catch (e) {
      if (e.code !== "no_websocket" || !/WebSocket/.test(e.message)) fail(`wrong error: ${e.code} ${e.message}`);
    }
  }
  console.log(`ok   ssr no-websocket (node ${process.version}): import works, use throws no_websocket`);
  process.exit(0);
}

const { liveHandles } = await import("confab-client");
const client = new ConfabClient(ws, { name: "Server" });
const timeout = setTimeout(() => fail(`timed out (state ${client.state})`), 10000);
const me = await new Promise((resolve) => client.on("welcome", resolve));
const room = await client.join(`ssr_${Math.floor(Math.random() * 1e9)}`);
const received = new Promise((resolve) => room.on("message", resolve));
await room.publish({ text: "from node" });
const m = await received;
client.close();
clearTimeout(timeout);
if (me.name !== "Server" || m.payload.text !== "from node" || m.from.id !== me.id) fail(JSON.stringify({ me, m }));
if (liveHandles() !== 0) fail(`leaked ${liveHandles()} handles`);
console.log(`ok   ssr websocket (node ${process.version}): welcome, join, publish, message`);
process.exit(0);
