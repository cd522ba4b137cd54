// End-to-end test of the Yew chat demo in headless Chromium (Playwright),
// against the release build served by a real confab-server process.
//
// Run through e2e/run.sh (it builds everything and sets the variables):
//   CONFAB_SERVER=target/debug/confab-server CONFAB_PORT=18123 STATIC_DIR=dist \
//   SHOTS=e2e/screenshots node e2e/chat.mjs
//
// Every wait has a timeout; any failure exits non-zero after saving
// failure-*.png screenshots next to the others.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync, appendFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const require = createRequire(path.join(root, "tools", "package.json"));
const { chromium } = require("playwright-core");

const SERVER = process.env.CONFAB_SERVER ?? path.join(root, "target/debug/confab-server");
const PORT = Number(process.env.CONFAB_PORT ?? 18123);
const STATIC_DIR = process.env.STATIC_DIR ?? path.join(root, "dist");
const SHOTS = process.env.SHOTS ?? path.join(here, "screenshots");
const PIDFILE = process.env.PIDFILE; // run.sh kills what is listed here
// History and the guest-token key live here, so the restarted server knows
// its guests again (same ids) and resumes the same history.
const DATA_DIR = process.env.DATA_DIR;
const BASE = `http://127.0.0.1:${PORT}/`;
const T = 10_000; // default per-step timeout (ms)

const XSS = "<img src=x onerror=alert(1)>";
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

mkdirSync(SHOTS, { recursive: true });

// ---------------------------------------------------------------- server

let server = null;
let serverLog = "";

async function startServer() {
  // A short join history, so that older messages are paged in by scrolling.
  const args = ["--bind", `127.0.0.1:${PORT}`, "--static-dir", STATIC_DIR, "--join-history", "20"];
  args.push(...(DATA_DIR ? ["--data-dir", DATA_DIR] : ["--in-memory"]));
  const child = spawn(SERVER, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  child.stdout.on("data", (d) => (serverLog += d));
  child.stderr.on("data", (d) => (serverLog += d));
  if (PIDFILE) appendFileSync(PIDFILE, `${child.pid}\n`);
  server = child;
  // Ready when /healthz answers.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited early (${child.exitCode}):\n${serverLog}`);
    try {
      const r = await fetch(`${BASE}healthz`);
      if (r.ok) return child;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`server not healthy within 20 s:\n${serverLog}`);
}

async function killServer() {
  const child = server;
  server = null;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL"); // a crash, not a graceful shutdown
  await Promise.race([exited, sleep(5_000)]);
}

// ---------------------------------------------------------------- helpers

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let step = "start";
function log(msg) {
  step = msg;
  console.log(`[e2e] ${msg}`);
}
function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

const pages = {};
const dialogs = [];
const pageErrors = [];

function watch(page, name) {
  page.setDefaultTimeout(T);
  page.on("dialog", (d) => {
    dialogs.push(`${name}: ${d.message()}`);
    d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") console.log(`[${name} console] ${m.text()}`);
  });
}

/** Another device of a user: a new browser with that user's saved
 *  identity (name, guest token, earlier ids), opened at `hash`. */
async function openSecondDevice(browser, from, name, viewport, hash = "") {
  const saved = await from.evaluate(() => ({ ...localStorage }));
  const context = await browser.newContext({ viewport });
  await context.addInitScript((items) => {
    if (!sessionStorage.getItem("seeded")) {
      for (const [k, v] of Object.entries(items)) localStorage.setItem(k, v);
      sessionStorage.setItem("seeded", "1");
    }
  }, saved);
  const page = await context.newPage();
  watch(page, name);
  await page.goto(BASE + hash);
  await page.locator('.app[data-link="open"]').waitFor();
  pages[name] = page;
  return page;
}

async function openUser(browser, name, viewport, hash = "") {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  watch(page, name);
  await page.goto(BASE + hash);
  // First visit asks for a name.
  await page.locator(".welcome input[name=name]").waitFor();
  if (viewport === PHONE) await shot(page, "phone-welcome");
  await page.locator(".welcome input[name=name]").fill(name);
  await page.locator(".welcome button[type=submit]").click();
  await page.locator('.app[data-link="open"]').waitFor();
  await page.waitForFunction((n) => document.querySelector("[data-testid=my-name]")?.textContent === n, name);
  pages[name] = page;
  return page;
}

/** Sends text from the write box (Enter, or the Send button). */
async function send(page, text, { button = false } = {}) {
  const input = page.locator(".composer input");
  await input.fill(text);
  if (button) await page.locator(".composer button.send").click();
  else await input.press("Enter");
}

/** The bubbles whose text is exactly `text`: side, sender shown, status. */
function bubbles(page, text) {
  return page.evaluate((t) => {
    return [...document.querySelectorAll(".msg")]
      .filter((m) => m.querySelector(".text")?.textContent === t)
      .map((m) => ({
        side: m.classList.contains("mine") ? "mine" : "theirs",
        from: m.dataset.from,
        sender: m.querySelector(".sender")?.textContent ?? null,
        status: m.dataset.status,
      }));
  }, text);
}

async function waitBubble(page, text, side, status = "sent", timeout = T) {
  await page.waitForFunction(
    ([t, s, st]) =>
      [...document.querySelectorAll(`.msg.${s}`)].some(
        (m) => m.querySelector(".text")?.textContent === t && m.dataset.status === st,
      ),
    [text, side, status],
    { timeout },
  );
}

async function openItem(page, kind, name) {
  const title = kind === "room" ? `#${name}` : name;
  await page.locator(`.item[data-kind="${kind}"][data-name="${title}"]`).click();
  await page.waitForFunction(
    (t) => document.querySelector("[data-testid=chat-title]")?.textContent === t,
    title,
  );
}

async function shot(page, name) {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  console.log(`[e2e] screenshot ${file}`);
}

// ---------------------------------------------------------------- the test

async function run(browser) {
  log(`server ${SERVER} on ${BASE}`);
  await startServer();

  log("Alice, Bob (desktop) and Carol (phone) open the page and pick names");
  const alice = await openUser(browser, "Alice", DESKTOP);
  const bob = await openUser(browser, "Bob", DESKTOP);
  const carol = await openUser(browser, "Carol", PHONE);

  log("they see each other in the people list, online");
  await alice.locator('.people .item[data-name="Bob"] .dot.online').waitFor();
  await alice.locator('.people .item[data-name="Carol"] .dot.online').waitFor();
  await bob.locator('.people .item[data-name="Alice"] .dot.online').waitFor();

  log("the search box filters people and rooms as you type");
  await alice.locator(".search input").fill("car");
  await alice.waitForFunction(() => {
    const names = [...document.querySelectorAll(".people .item")].map((e) => e.dataset.name);
    return names.length === 1 && names[0] === "Carol" && !document.querySelector('.rooms .item[data-kind="room"]');
  });
  await alice.locator(".search input").fill("");
  await alice.locator('.people .item[data-name="Bob"]').waitFor();

  log("lobby messages: Enter and the Send button; mine right, others left with the name");
  await send(alice, "Hello Bob, welcome to the lobby!");
  await waitBubble(alice, "Hello Bob, welcome to the lobby!", "mine");
  await waitBubble(bob, "Hello Bob, welcome to the lobby!", "theirs");
  await send(bob, "Hi Alice, good to see you :)", { button: true });
  await waitBubble(alice, "Hi Alice, good to see you :)", "theirs");
  await waitBubble(bob, "Hi Alice, good to see you :)", "mine");
  {
    const [b] = await bubbles(bob, "Hello Bob, welcome to the lobby!");
    check(b.sender === "Alice", `Bob sees Alice's name on her bubble (got ${JSON.stringify(b)})`);
    const [a] = await bubbles(alice, "Hi Alice, good to see you :)");
    check(a.sender === "Bob", `Alice sees Bob's name on his bubble (got ${JSON.stringify(a)})`);
  }
  {
    const divider = await alice.locator("[data-testid=conversation-start]").textContent();
    check(/^Beginning of the conversation · Today \d\d:\d\d$/.test(divider), `beginning divider with the time (got ${divider})`);
  }
  await waitBubble(carol, "Hello Bob, welcome to the lobby!", "theirs");
  await send(carol, "Carol here, on my phone");
  await waitBubble(alice, "Carol here, on my phone", "theirs");

  log("the write box placeholder fits a phone's width (the /name hint is its tooltip)");
  {
    const fit = await carol.evaluate(() => {
      const input = document.querySelector(".composer input");
      const style = getComputedStyle(input);
      const ctx = document.createElement("canvas").getContext("2d");
      ctx.font = `${style.fontSize} ${style.fontFamily}`;
      const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return { text: input.placeholder, width: ctx.measureText(input.placeholder).width, room, title: input.title };
    });
    check(fit.text === "Message #lobby", `short placeholder (got ${fit.text})`);
    check(fit.width <= fit.room, `placeholder fits (${fit.width} px in ${fit.room} px)`);
    check(fit.title.includes("/name NEW"), `the hint is kept as the tooltip (${fit.title})`);
  }

  log("read receipts: 'Seen by Bob, Carol' under the last message they have read");
  await send(alice, "Did everyone see this?");
  await waitBubble(bob, "Did everyone see this?", "theirs");
  await waitBubble(carol, "Did everyone see this?", "theirs");
  const seenUnder = (page, text) =>
    page.evaluate((t) => {
      const m = [...document.querySelectorAll(".msg")].find((e) => e.querySelector(".text")?.textContent === t);
      return m?.querySelector("[data-testid=seen]")?.textContent ?? null;
    }, text);
  await alice.waitForFunction(() => {
    const m = [...document.querySelectorAll(".msg")].find((e) => e.querySelector(".text")?.textContent === "Did everyone see this?");
    return m?.querySelector("[data-testid=seen]")?.textContent === "Seen by Bob, Carol";
  });
  check((await alice.locator("[data-testid=seen]").count()) === 1, "one 'Seen by' line: under the last message read");
  await shot(alice, "desktop-receipts");

  log("typing: 'Bob is typing…', then 'Bob and Carol are typing…', gone when they send or stop");
  await bob.locator(".composer input").fill("I am writing a long");
  await alice.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "Bob is typing…");
  await carol.locator(".composer input").fill("me too");
  await alice.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "Bob and Carol are typing…");
  await bob.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "Carol is typing…");
  await shot(alice, "desktop-typing");
  await shot(bob, "desktop-typing-bob");
  await bob.locator(".composer input").press("Enter");
  await waitBubble(alice, "I am writing a long", "theirs");
  await alice.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "Carol is typing…");
  // Carol stops without sending: no more signals, the indicator expires.
  const stopped = Date.now();
  await alice.waitForFunction(() => document.querySelector("[data-testid=typing]")?.textContent === "", null, { timeout: 8_000 });
  const expiredAfter = Date.now() - stopped;
  check(expiredAfter < 6_000, `the indicator expired on the receiver (${expiredAfter} ms)`);
  await carol.locator(".composer input").fill("");

  log("the XSS string renders literally and runs nothing");
  await send(alice, XSS);
  await waitBubble(bob, XSS, "theirs");
  await waitBubble(alice, XSS, "mine");
  check((await bob.locator(".messages img").count()) === 0, "no <img> element was created");
  await sleep(300);
  check(dialogs.length === 0, `no dialog fired (${dialogs.join("; ")})`);

  log("a room joined by name from the search box");
  for (const p of [alice, bob]) {
    await p.locator(".search input").fill("random");
    await p.locator('.item[data-kind="join"]').click();
    await p.waitForFunction(() => document.querySelector("[data-testid=chat-title]")?.textContent === "#random");
    check((await p.locator(".search input").inputValue()) === "", "the search box is cleared");
  }
  await alice.locator('.chat-sub:text("2 here")').waitFor();

  log("auto-scroll follows new messages, unless the reader scrolled up");
  const atBottom = (p) =>
    p.evaluate(() => {
      const el = document.querySelector(".messages");
      return el.scrollHeight - el.scrollTop - el.clientHeight < 4;
    });
  for (let i = 1; i <= 25; i++) await send(bob, `filler line ${i}`);
  await waitBubble(alice, "filler line 25", "theirs");
  await sleep(100);
  check(await atBottom(alice), "Alice's list followed to the newest message");
  check(await alice.evaluate(() => document.querySelector(".messages").scrollHeight > document.querySelector(".messages").clientHeight + 200), "the list overflows");
  await alice.evaluate(() => {
    const el = document.querySelector(".messages");
    el.scrollTop = 0;
    el.dispatchEvent(new Event("scroll"));
  });
  await send(bob, "while Alice reads older messages");
  await waitBubble(alice, "while Alice reads older messages", "theirs");
  await alice.locator(".messages .jump").waitFor();
  check((await alice.evaluate(() => document.querySelector(".messages").scrollTop)) === 0, "Alice's scroll position was kept");
  await alice.locator(".messages .jump").click();
  await alice.waitForFunction(() => {
    const el = document.querySelector(".messages");
    return el.scrollHeight - el.scrollTop - el.clientHeight < 4;
  });

  log("a DM from Alice reaches Bob only");
  const secret = "psst Bob, this is just for you";
  await openItem(alice, "person", "Bob");
  await send(alice, secret);
  await waitBubble(alice, secret, "mine");
  await bob.locator('.people .item[data-name="Alice"] .badge').waitFor();
  await openItem(bob, "person", "Alice");
  await waitBubble(bob, secret, "theirs");
  await send(bob, "got it, thanks");
  await waitBubble(alice, "got it, thanks", "theirs");
  // The DM was read by Bob: "Seen" under it on Alice's side.
  await alice.waitForFunction((t) => {
    const m = [...document.querySelectorAll(".msg")].find((e) => e.querySelector(".text")?.textContent === t);
    return m?.querySelector("[data-testid=seen]")?.textContent === "Seen";
  }, secret);
  await sleep(500);
  for (const where of ["body"]) {
    const seen = await carol.evaluate((w) => document.querySelector(w).innerText, where);
    check(!seen.includes(secret) && !seen.includes("got it, thanks"), "Carol does not see the DM");
  }
  await shot(bob, "desktop-dm");

  log("/name renames Bob on Alice's screen (and is remembered)");
  const myId = (page) => page.locator("[data-testid=my-name]").getAttribute("data-id");
  const bobId = await myId(bob);
  check(/^g-/.test(bobId ?? ""), `Bob is a guest (id ${bobId})`);
  await send(bob, "/name Robert");
  await alice.locator('.people .item[data-name="Robert"]').waitFor();
  check((await alice.locator('.people .item[data-name="Bob"]').count()) === 0, "the old name is gone");
  await alice.waitForFunction(() => document.querySelector("[data-testid=chat-title]")?.textContent === "Robert");
  await bob.waitForFunction(() => document.querySelector("[data-testid=my-name]")?.textContent === "Robert");
  check((await bob.evaluate(() => localStorage.getItem("confab.name"))) === "Robert", "name kept in localStorage");

  log("the dice game: Alice rolls, both see the same roll 1–6 and the game status");
  await openItem(alice, "game", "Dice game");
  await openItem(bob, "game", "Dice game");
  await alice.waitForFunction(() => document.querySelector(".chat-sub")?.textContent === "Game on");
  await bob.waitForFunction(() => document.querySelector(".chat-sub")?.textContent === "Game on");
  await alice.locator(".dice-panel button.roll").click();
  const rollOf = (page) =>
    page.waitForFunction(() => {
      const line = [...document.querySelectorAll(".dice-line")].find((e) => e.textContent.includes("Alice rolls"));
      return line ? Number(line.dataset.position) : null;
    });
  const aRoll = await (await rollOf(alice)).jsonValue();
  const bRoll = await (await rollOf(bob)).jsonValue();
  check(aRoll >= 1 && aRoll <= 6, `roll in 1..6 (got ${aRoll})`);
  check(aRoll === bRoll, `both see the same roll (${aRoll} vs ${bRoll})`);
  await shot(alice, "desktop-dice");

  log("back to the lobby; a seed-style client on /ws/chat/lobby/ (websocat) talks to the demo");
  await openItem(alice, "room", "lobby");
  await openItem(bob, "room", "lobby");
  {
    // A plain WebSocket on the seed-compatible endpoint, as websocat or the
    // Django Channels tutorial page would use it (test code, not the demo).
    const ctx = await browser.newContext();
    const compat = await ctx.newPage();
    compat.setDefaultTimeout(T);
    await compat.goto(`${BASE}healthz`);
    await compat.evaluate((url) => {
      window.got = [];
      window.ws = new WebSocket(url);
      window.ws.onmessage = (e) => window.got.push(JSON.parse(e.data));
      return new Promise((ok, err) => {
        window.ws.onopen = ok;
        window.ws.onerror = () => err(new Error("compat socket failed"));
      });
    }, `ws://127.0.0.1:${PORT}/ws/chat/lobby/`);
    await compat.evaluate(() => window.ws.send(JSON.stringify({ message: "hello from websocat" })));
    await waitBubble(alice, "hello from websocat", "theirs");
    await send(alice, "hi websocat user");
    await compat.waitForFunction(() => window.got.some((m) => m.message === "hi websocat user"));
    await ctx.close();
  }
  await shot(alice, "desktop-lobby");
  await shot(carol, "phone-chat");
  await carol.locator("button.back").click();
  await carol.locator(".sidebar .people").waitFor();
  check(!(await carol.locator(".chat").isVisible()), "phone shows one pane at a time");
  await shot(carol, "phone-list");
  await openItem(carol, "room", "lobby");

  log("older messages: a newcomer opening #random by its address scrolls up, the view stays, down to the beginning");
  {
    const dave = await openUser(browser, "Dave", DESKTOP, "#random");
    await dave.waitForFunction(() => document.querySelector("[data-testid=chat-title]")?.textContent === "#random");
    await waitBubble(dave, "while Alice reads older messages", "theirs");
    const shown = () => dave.evaluate(() => document.querySelectorAll(".messages .msg").length);
    const before = await shown();
    check(before <= 21, `only the join history at first (${before} lines)`);
    check((await dave.locator("[data-beginning]").count()) === 0, "no beginning marker yet");
    // Scroll to the top: the page above loads, the line that was on top stays put.
    const anchor = await dave.evaluate(() => {
      const list = document.querySelector(".messages");
      list.scrollTop = 0;
      const first = list.querySelector(".msg .text");
      const top = first.getBoundingClientRect().top;
      list.dispatchEvent(new Event("scroll"));
      return { text: first.textContent, top };
    });
    await dave.locator("[data-beginning]").waitFor();
    await dave.waitForFunction((n) => document.querySelectorAll(".messages .msg").length > n, before);
    const moved = await dave.evaluate((t) => {
      const el = [...document.querySelectorAll(".messages .msg .text")].find((e) => e.textContent === t);
      return el.getBoundingClientRect().top;
    }, anchor.text);
    check(Math.abs(moved - anchor.top) < 4, `the view did not jump (${anchor.text}: ${anchor.top} → ${moved})`);
    const first = await dave.evaluate(() => document.querySelector(".messages .msg .text")?.textContent);
    check(first === "filler line 1", `the first message is the room's first (got ${first})`);
    check(/^Beginning of the conversation · Today \d\d:\d\d$/.test(await dave.locator("[data-beginning]").textContent()), "beginning marker text");
    await dave.evaluate(() => (document.querySelector(".messages").scrollTop = 0));
    await shot(dave, "desktop-paging");
    await dave.context().close();
    delete pages.Dave;
  }

  log("unread badges come from my read offset: right on a second device");
  {
    // Alice reads the lobby, then looks at #random; Bob writes twice in the lobby.
    await openItem(alice, "room", "lobby");
    await openItem(alice, "room", "random");
    await send(bob, "lobby news 1");
    await send(bob, "lobby news 2");
    await alice.locator('.rooms .item[data-name="#lobby"] .badge:text("2")').waitFor();
    // Alice's phone: same person, opened at #random; the lobby's badge agrees.
    const phone = await openSecondDevice(browser, alice, "Alice-phone", PHONE, "#random");
    await phone.locator("button.back").click();
    await phone.locator('.rooms .item[data-name="#lobby"] .badge:text("2")').waitFor();
    await shot(phone, "phone-unread-second-device");
    // Read on the phone: the desktop's badge goes too.
    await openItem(phone, "room", "lobby");
    await alice.waitForFunction(() => !document.querySelector('.rooms .item[data-name="#lobby"] .badge'));
    await phone.context().close();
    delete pages["Alice-phone"];
    await openItem(alice, "room", "lobby");
  }

  log("server killed: both pages show reconnecting; the people stay, greyed, as last known");
  await killServer();
  for (const p of [alice, bob, carol]) {
    await p.locator('.app[data-link="reconnecting"]').waitFor();
    await p.waitForFunction(() => /^reconnecting( in \d+ s)?…$/.test(document.querySelector(".offline .status-text")?.textContent ?? ""));
  }
  await alice.locator(".people.stale").waitFor();
  check((await alice.locator('.people .item[data-name="Robert"]').count()) === 1, "Robert still listed while offline");
  check((await alice.locator(".lists h2", { hasText: "People · last known" }).count()) === 1, "the people header says last known");
  check((await alice.locator(".lists .empty", { hasText: "Nobody else is here yet." }).count()) === 0, "not 'Nobody else is here yet.'");
  const offline = "typed while the server was down";
  await send(alice, offline);
  await waitBubble(alice, offline, "mine", "pending");
  await shot(alice, "desktop-reconnecting");
  await shot(carol, "phone-reconnecting");

  log("server restarted on the same port: pages recover by themselves");
  await startServer();
  for (const p of [alice, bob, carol]) await p.locator('.app[data-link="open"]').waitFor({ timeout: 20_000 });
  for (const p of [alice, bob, carol]) check((await p.locator(".offline").count()) === 0, "the offline banner is gone");
  await alice.waitForFunction(() => !document.querySelector(".people.stale"));
  await waitBubble(alice, offline, "mine", "sent", 20_000);
  await waitBubble(bob, offline, "theirs", "sent", 20_000);
  await sleep(1_500); // let any duplicate arrive before counting
  for (const [who, p] of [["Alice", alice], ["Bob", bob], ["Carol", carol]]) {
    const n = (await bubbles(p, offline)).length;
    check(n === 1, `${who} sees the offline message exactly once (saw ${n})`);
  }
  log("after the restart Bob is the same person: same id and name, one entry on Alice's screen");
  await alice.locator('.people .item[data-name="Robert"] .dot.online').waitFor();
  check((await myId(bob)) === bobId, `Bob kept his guest id across the restart (${await myId(bob)} vs ${bobId})`);
  await bob.waitForFunction(() => document.querySelector("[data-testid=my-name]")?.textContent === "Robert");
  {
    const names = await alice.evaluate(() => [...document.querySelectorAll(".people .item")].map((e) => e.dataset.name));
    check(names.filter((n) => n === "Robert").length === 1, `one "Robert" in Alice's people list (got ${JSON.stringify(names)})`);
    check(!names.includes("Bob"), `no stale "Bob" entry (got ${JSON.stringify(names)})`);
  }
  await send(bob, "back online");
  await waitBubble(alice, "back online", "theirs");
  check((await alice.locator(".chat .error").count()) === 0, "no error banner after the restart");
  await shot(alice, "desktop-after-restart");

  log("a reload is the same person: name and guest id from localStorage, DM history still his");
  await bob.reload();
  await bob.locator('.app[data-link="open"]').waitFor();
  check((await bob.locator(".welcome").count()) === 0, "no name prompt on the second visit");
  await bob.waitForFunction(() => document.querySelector("[data-testid=my-name]")?.textContent === "Robert");
  check((await myId(bob)) === bobId, `Bob kept his guest id across the reload (${await myId(bob)} vs ${bobId})`);
  await openItem(bob, "person", "Alice");
  await waitBubble(bob, secret, "theirs");
  await sleep(500);
  {
    const names = await alice.evaluate(() => [...document.querySelectorAll(".people .item")].map((e) => e.dataset.name));
    check(names.filter((n) => n === "Robert").length === 1, `still one "Robert" after the reload (got ${JSON.stringify(names)})`);
  }

  check(pageErrors.length === 0, `no page errors (${pageErrors.join("; ")})`);
  check(dialogs.length === 0, `no dialogs (${dialogs.join("; ")})`);
}

// ---------------------------------------------------------------- main

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
let code = 0;
try {
  await run(browser);
  console.log(`[e2e] PASS. Screenshots in ${SHOTS}`);
} catch (e) {
  code = 1;
  console.error(`[e2e] FAIL during "${step}": ${e.stack ?? e}`);
  for (const [name, p] of Object.entries(pages)) {
    await p.screenshot({ path: path.join(SHOTS, `failure-${name}.png`) }).catch(() => {});
  }
  writeFileSync(path.join(SHOTS, "failure-server.log"), serverLog);
  console.error(`[e2e] failure screenshots and server log in ${SHOTS}`);
} finally {
  await browser.close().catch(() => {});
  await killServer();
}
process.exit(code);
