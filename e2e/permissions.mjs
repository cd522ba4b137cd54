// #14 in the demo, in headless Chromium against a real confab-server run
// with the documented policy "Public chat with private team rooms"
// (docs/PERMISSIONS.md, worked policy 1, read from the doc itself) and user
// tokens minted by `confab-server token`:
//   - Alice's token grants team.42.general: the room is listed and she
//     talks there; her avatar (the token's `info`) shows in Bob's list;
//   - Bob has no grant: the room is absent from his list, and opening it by
//     its address shows "You don't have access to #team.42.general." with
//     a way back, not a dead page.
// Run through e2e/run.sh (CONFAB_SERVER, STATIC_DIR, SHOTS, PIDFILE set).

import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { appendFileSync, readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const require = createRequire(path.join(root, "tools", "package.json"));
const { chromium } = require("playwright-core");

const SERVER = process.env.CONFAB_SERVER ?? path.join(root, "target/debug/confab-server");
const STATIC_DIR = process.env.STATIC_DIR ?? path.join(root, "dist");
const SHOTS = process.env.SHOTS ?? path.join(here, "screenshots");
const PIDFILE = process.env.PIDFILE;
const PORT = Number(process.env.CONFAB_POLICY_PORT ?? 18124);
const BASE = `http://127.0.0.1:${PORT}/`;
const SECRET = "e2e-policy-secret";
const T = 10_000;
const ROOM = "team.42.general";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const check = (cond, msg) => {
  if (!cond) throw new Error(`check failed: ${msg}`);
};
const log = (m) => console.log(`[e2e-policy] ${m}`);

/** The TOML of worked policy 1 in docs/PERMISSIONS.md. */
function documentedPolicy() {
  const doc = readFileSync(process.env.PERMISSIONS_MD ?? path.join(root, "docs", "PERMISSIONS.md"), "utf8");
  const at = doc.indexOf("**1. Public chat with private team rooms.**");
  check(at >= 0, "docs/PERMISSIONS.md has worked policy 1");
  const block = doc.slice(at).match(/```toml\n([\s\S]*?)```/);
  check(block, "worked policy 1 has a toml block");
  return block[1];
}

function token(user, name, extra) {
  return execFileSync(SERVER, ["token", "--user", user, "--name", name, "--ttl", "1h", "--token-secret", SECRET, ...extra])
    .toString()
    .trim();
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "confab-e2e-policy-"));
  const config = path.join(dir, "confab.toml");
  writeFileSync(config, documentedPolicy());
  const server = spawn(
    SERVER,
    ["--bind", `127.0.0.1:${PORT}`, "--static-dir", STATIC_DIR, "--in-memory", "--config", config, "--token-secret", SECRET],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let serverLog = "";
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  if (PIDFILE) appendFileSync(PIDFILE, `${server.pid}\n`);
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
  const pages = {};
  let code = 0;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${BASE}healthz`)).ok) break;
      } catch {}
      check(i < 200 && server.exitCode === null, `server up (${serverLog})`);
      await sleep(100);
    }
    const aliceToken = token("alice", "Alice", ["--grant", `${ROOM}=all`, "--info", JSON.stringify({ avatar: "https://example.invalid/alice.png" })]);
    const bobToken = token("bob", "Bob", []);
    const open = async (name, tok, hash = "") => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      page.setDefaultTimeout(T);
      page.on("pageerror", (e) => console.log(`[${name} pageerror] ${e.message}`));
      await page.goto(`${BASE}?token=${encodeURIComponent(tok)}${hash}`);
      await page.locator('.app[data-link="open"]').waitFor();
      await page.waitForFunction((n) => document.querySelector("[data-testid=my-name]")?.textContent === n, name);
      check(!(await page.evaluate(() => location.search.includes("token"))), `${name}: the token left the address`);
      pages[name] = page;
      return page;
    };

    log("Alice (granted) sees the private room listed and talks there");
    const alice = await open("Alice", aliceToken);
    await alice.locator(`.rooms .item[data-name="#${ROOM}"]`).click();
    await alice.waitForFunction((t) => document.querySelector("[data-testid=chat-title]")?.textContent === t, `#${ROOM}`);
    await alice.locator(".composer input").fill("team only");
    await alice.locator(".composer input").press("Enter");
    await alice.waitForFunction(() => [...document.querySelectorAll(".msg.mine")].some((m) => m.dataset.status === "sent"));

    log("Bob (no grant) does not see it; by its address he gets a clear message");
    const bob = await open("Bob", bobToken);
    check((await bob.locator(`.rooms .item[data-name="#${ROOM}"]`).count()) === 0, "the private room is absent for Bob");
    await bob.locator('.people .item[data-name="Alice"] img.avatar-img').waitFor({ state: "attached" });
    check((await bob.locator('.people .item[data-name="Alice"] img.avatar-img').getAttribute("src")) === "https://example.invalid/alice.png", "Alice's avatar from her token's info");
    await bob.goto(`${BASE}#${ROOM}`);
    await bob.locator("[data-testid=refused]").waitFor();
    const text = await bob.locator("[data-testid=refused] .refused-title").textContent();
    check(text === `You don't have access to #${ROOM}.`, `clear message (got ${text})`);
    check((await bob.locator(".composer").count()) === 0, "no write box into a refused room");
    check((await bob.locator(".msg").count()) === 0, "nothing of the room leaked");
    await bob.screenshot({ path: path.join(SHOTS, "desktop-forbidden-room.png") });
    await bob.locator("[data-testid=refused] button").click();
    await bob.waitForFunction(() => document.querySelector("[data-testid=chat-title]")?.textContent === "#lobby");
    check((await bob.locator(`.rooms .item[data-name="#${ROOM}"]`).count()) === 0, "gone from the list once left");
    log("PASS");
  } catch (e) {
    code = 1;
    console.error(`[e2e-policy] FAIL: ${e.stack ?? e}\n${serverLog}`);
    for (const [n, p] of Object.entries(pages)) await p.screenshot({ path: path.join(SHOTS, `failure-policy-${n}.png`) }).catch(() => {});
  } finally {
    await browser.close().catch(() => {});
    server.kill("SIGKILL");
  }
  process.exit(code);
}

await main();
