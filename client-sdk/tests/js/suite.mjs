// Behaviour checks of the npm package's JS API, run in headless Chromium by
// run-page.mjs (web.html imports the --target web build with no bundler).
// `lib` is the package's module namespace, `ws` the native endpoint URL.

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, ms, cond) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

function eq(a, b, msg) {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  if (x !== y) throw new Error(`${msg}: ${x} !== ${y}`);
}

export async function run(lib, ws, log) {
  const { ConfabClient, ConfabSocket, liveHandles } = lib;
  const base = liveHandles();
  const room = `js_${Math.floor(Math.random() * 1e9)}`;

  // Connect, state events.
  const alice = new ConfabClient(ws, { name: "Alice", ackTimeoutMs: 5000 });
  const bob = new ConfabClient(ws, { name: "Bob" });
  const states = [];
  alice.on("state", (s) => states.push(s.state));
  await until("welcome", 5000, () => alice.me && bob.me);
  eq(alice.state, "open", "state");
  eq(alice.me.name, "Alice", "me.name");
  assert(liveHandles() > base, "liveHandles counts the open clients");

  // Join, publish / receive with acks.
  const ra = await alice.join(room);
  const rb = await bob.join(room);
  eq(ra.state, "joined", "room state");
  const got = [];
  rb.on("message", (m) => got.push(m));
  const acks = await Promise.all([1, 2, 3].map((n) => ra.publish({ text: `hi ${n}`, n })));
  eq(acks.map((a) => a.offset), [1, 2, 3], "ack offsets");
  await until("3 messages", 5000, () => got.length === 3);
  eq(got.map((m) => m.payload.n), [1, 2, 3], "payloads in order");
  eq(got[0].from.name, "Alice", "from");
  eq(got.map((m) => m.offset), [1, 2, 3], "offsets");
  eq(rb.recent().length, 3, "recent");
  assert(got.every((m) => typeof m.cid === "string" && m.cid.length > 0), "every publish has a cid");
  eq(new Set(got.map((m) => m.cid)).size, 3, "cids differ");

  // Signals: ephemeral, to the members, with the sender.
  const signals = [];
  rb.on("signal", (s) => signals.push(s));
  ra.signal({ typing: true });
  await until("signal", 5000, () => signals.length === 1);
  eq([signals[0].from.id, signals[0].payload], [alice.me.id, { typing: true }], "signal from and payload");
  try {
    ra.signal(undefined);
    throw new Error("undefined signal accepted");
  } catch (e) {
    eq(e.code, "serde", "signal of undefined");
  }

  // History pages: older messages, oldest first, `more` until the beginning.
  const page = await rb.history({ before: 3, limit: 1 });
  eq([page.messages.map((m) => m.offset), page.more], [[2], true], "history page");
  const first = await rb.history({ before: 2 });
  eq([first.messages.map((m) => m.payload.n), first.more], [[1], false], "first page");
  eq((await rb.history()).messages.length, 3, "history() without options: the newest");

  // Member state (read receipts): set by Alice, seen by Bob.
  const stateAck = await ra.setState({ read: 3 });
  assert(stateAck.ref !== undefined, "setState acknowledged");
  await until("receipt", 5000, () => rb.members().some((m) => m.id === alice.me.id && m.state?.read === 3));

  // off() removes a listener.
  let extra = 0;
  const listener = () => extra++;
  rb.on("message", listener);
  rb.off("message", listener);
  await ra.publish({ n: 4 });
  await until("4th message", 5000, () => got.length === 4);
  eq(extra, 0, "off() listener not called");

  // Presence: rename shows up as an update; members() is the snapshot.
  const presence = [];
  ra.on("presence", (p) => presence.push(p));
  await bob.rename("Bobby");
  await until("rename", 5000, () => ra.members().some((m) => m.name === "Bobby"));
  assert(presence.some((p) => p.updates.some((m) => m.name === "Bobby")), "presence update event");

  // DM.
  const dms = [];
  bob.on("direct", (m) => dms.push(m));
  const dmAck = await alice.direct(bob.me.id, { secret: 42 });
  assert(dmAck.room.startsWith("dm:"), "dm ack room");
  await until("dm", 5000, () => dms.length === 1);
  eq(dms[0].payload, { secret: 42 }, "dm payload");

  // Errors are Error objects with a code.
  await rb.leave();
  eq(rb.state, "left", "left");
  try {
    await rb.publish({ n: 5 });
    throw new Error("publish after leave resolved");
  } catch (e) {
    assert(e instanceof Error, "Error object");
    eq(e.code, "not_joined", "error code");
  }
  try {
    alice.room("bad room name!");
    throw new Error("invalid room accepted");
  } catch (e) {
    eq(e.code, "room_name_invalid", "room name error code");
  }

  // A refused join goes to the room: state "errored", an "error" event
  // whose Error carries code and room; it is not re-joined on reconnect.
  const refusedName = "dm:g-x:g-y";
  const refused = alice.room(refusedName);
  const roomErrors = [];
  refused.on("error", (e) => roomErrors.push(e));
  await until("refused", 5000, () => refused.state === "errored" && roomErrors.length === 1);
  assert(roomErrors[0] instanceof Error, "room error is an Error");
  eq([roomErrors[0].code, roomErrors[0].room], ["unauthorized", refusedName], "room error code and room");

  // The guest token: a new client started with it is the same guest.
  assert(typeof alice.guestToken === "string" && alice.guestToken.length > 0, "guestToken");
  const again = new ConfabClient(ws, { name: "Alice2", guestToken: alice.guestToken });
  await until("same guest", 5000, () => again.me);
  eq([again.me.id, again.me.name], [alice.me.id, "Alice2"], "same guest id, own name");
  again.close();
  again.free();

  // The token provider (sync or async) runs before every (re)connect.
  let tokenCalls = 0;
  const carol = new ConfabClient(ws, { tokenProvider: async () => { tokenCalls++; return null; } });
  await until("carol welcome", 5000, () => carol.me);
  eq(tokenCalls, 1, "token provider on connect");
  const firstSession = carol.sessionId;
  carol.reconnect();
  await until("carol reconnected", 5000, () => carol.state === "open" && carol.me && carol.sessionId !== firstSession);
  eq(tokenCalls, 2, "token provider on reconnect");
  carol.close();
  carol.free();

  // Reconnect resumes the room without duplicates.
  const seen = [];
  ra.on("message", (m) => seen.push(m.payload.n));
  alice.reconnect();
  await until("reconnecting", 5000, () => states.includes("reconnecting"));
  await until("re-joined", 8000, () => alice.state === "open" && ra.state === "joined");
  eq(refused.state, "errored", "refused room not re-joined after the reconnect");
  eq(roomErrors.length, 1, "no second refusal");
  await ra.publish({ n: 6 });
  await until("own message after resume", 5000, () => seen.length >= 1);
  await sleep(100);
  eq(seen, [6], "only the new message after resume (no replayed duplicates)");
  eq(ra.gaps, 0, "no gap");

  // ConfabSocket: buffered send, read API, async iteration.
  const url = ws.replace(/\/ws$/, `/ws/chat/${room}/`);
  const reader = new ConfabSocket(url);
  await until("reader open", 5000, () => reader.state === "open");
  const writer = new ConfabSocket(url);
  writer.send({ message: "early" });
  eq(writer.buffered, 1, "buffered while connecting");
  eq((await reader.wait()).message, "early", "wait()");
  writer.send({ message: "a" });
  writer.send({ message: "b" });
  await until("2 unread", 5000, () => reader.countMessages() >= 2);
  assert(reader.hasMessages(), "hasMessages");
  eq([reader.read().message, reader.read().message], ["a", "b"], "read()");
  eq(reader.read(), undefined, "read() when empty");
  writer.send({ message: "c" });
  writer.send({ message: "d" });
  const iterated = [];
  setTimeout(() => reader.close(), 500);
  for await (const m of reader.messages()) iterated.push(m.message);
  eq(iterated, ["c", "d"], "async iterator ends at close");
  writer.close();
  try {
    writer.send({ message: "late" });
    throw new Error("send after close accepted");
  } catch (e) {
    eq(e.code, "closed", "send after close");
  }

  // Close: no reconnect, every closure/listener/timer released.
  alice.close();
  bob.close();
  eq(alice.stateInfo, { state: "closed", code: 1000, reason: "" }, "closed info");
  try {
    await ra.publish({ n: 7 });
    throw new Error("publish after close resolved");
  } catch (e) {
    eq(e.code, "closed", "publish after close() (the README's promise)");
  }
  await sleep(800);
  eq(alice.state, "closed", "still closed");
  eq(liveHandles(), base, "live handles back to baseline");
  for (const o of [alice, bob, ra, rb, refused, reader, writer]) o.free();
  log(`js suite ok: ${got.length} messages, states ${states.join(">")}`);
  return { ok: true, states };
}
