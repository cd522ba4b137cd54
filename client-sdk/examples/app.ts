// A small TypeScript app on the npm package: type-checked with
// `tsc --noEmit` against the generated .d.ts, bundled with esbuild and run
// in headless Chromium by scripts/test-js.sh (from an installed `npm pack`
// tarball, the way a user gets it).
import {
  ConfabClient,
  ConfabSocket,
  liveHandles,
  type Ack,
  type ConfabError,
  type ConfabMessage,
  type ConnectionStateInfo,
  type HistoryPage,
  type Member,
  type PresenceDiff,
  type RoomSignal,
} from "confab-client";

interface Receipt {
  read: number;
}

interface Chat {
  text: string;
  n: number;
}

declare global {
  interface Window {
    __result?: { ok: boolean; error?: string; received?: number };
  }
}

const log = (s: string): void => {
  console.log(s);
  const el = document.getElementById("log");
  if (el) el.textContent += s + "\n";
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, ms: number, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function main(ws: string): Promise<number> {
  const room = `ts_${Math.floor(Math.random() * 1e9)}`;
  const alice = new ConfabClient(ws, {
    name: "Alice",
    ackTimeoutMs: 5000,
    sendBuffer: 50,
    overflow: "reject-new",
    backoff: { minMs: 100, maxMs: 2000 },
    tokenProvider: async () => null,
  });
  const bob = new ConfabClient(ws, { name: "Bob" });
  alice.on("state", (s: ConnectionStateInfo) => log(`alice: ${s.state}`));
  alice.on("error", (e: ConfabError) => log(`alice error ${e.code} (room ${e.room ?? "-"}): ${e.message}`));
  const saved: string | undefined = alice.guestToken;
  void saved;

  const lobby = await alice.join(room);
  const bobLobby = await bob.join(room);
  const received: ConfabMessage<Chat>[] = [];
  bobLobby.on("message", (m) => received.push(m as ConfabMessage<Chat>));
  bobLobby.on("presence", (p: PresenceDiff) => log(`presence: +${p.joins.length} -${p.leaves.length}`));

  const acks: Ack[] = [];
  for (let n = 0; n < 5; n++) {
    const chat: Chat = { text: `hello ${n}`, n };
    acks.push(await lobby.publish(chat));
  }
  await until("5 messages", 5000, () => received.length === 5);
  if (received.map((m) => m.payload.n).join() !== "0,1,2,3,4") throw new Error("order");
  if (acks.some((a, i) => a.offset !== received[i]?.offset)) throw new Error("ack offsets");
  const members: Member[] = lobby.members();
  if (members.length !== 2) throw new Error(`members ${JSON.stringify(members)}`);
  if (!received.every((m) => typeof m.cid === "string")) throw new Error("every publish has a cid");

  // Typing signal, older history, read receipts.
  const signals: RoomSignal[] = [];
  bobLobby.on("signal", (s: RoomSignal) => signals.push(s));
  lobby.signal({ typing: true });
  await until("signal", 5000, () => signals.length === 1);
  const page: HistoryPage<Chat> = (await bobLobby.history({ before: 3, limit: 10 })) as HistoryPage<Chat>;
  if (page.messages.map((m) => m.payload.n).join() !== "0,1" || page.more) throw new Error("history page");
  const ack: Ack = await lobby.setState({ read: 5 } satisfies Receipt);
  void ack;
  await until("receipt", 5000, () =>
    (bobLobby.members() as Member<unknown, Receipt>[]).some((m) => m.state?.read === 5),
  );

  // The generic socket, iterated with for await.
  const sock = new ConfabSocket(ws.replace(/\/ws$/, `/ws/chat/${room}/`), { readBuffer: 100 });
  sock.send({ message: "from a plain socket" });
  for await (const frame of sock.messages()) {
    if ((frame as { message?: string }).message === "from a plain socket") break;
  }
  sock.close();

  alice.close();
  bob.close();
  await sleep(200);
  if (liveHandles() !== 0) throw new Error(`leaked ${liveHandles()} handles`);
  return received.length;
}

const ws = new URLSearchParams(location.search).get("ws") ?? "ws://127.0.0.1:8000/ws";
main(ws).then(
  (received) => {
    log(`ts app ok: ${received} messages`);
    window.__result = { ok: true, received };
  },
  (e: unknown) => {
    log(`FAILED: ${e instanceof Error ? e.stack : String(e)}`);
    window.__result = { ok: false, error: String(e) };
  },
);
