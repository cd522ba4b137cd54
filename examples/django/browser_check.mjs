// The browser half of the Django example's end-to-end test (e2e_test.py
// runs it while Django and confab-server are up): the real page,
// teamchat/templates/teamchat/room.html, in headless Chromium (Playwright).
//
//   carol logs in, opens team 42, sends TEXT over Confab's WebSocket, posts
//   ANNOUNCEMENT through Django's announce view (server API), and sees both
//   in the page and in what Django stored; bob opens team 42 and the page
//   shows the join hook's refusal.
//
// Env: DJANGO_URL, TEXT, ANNOUNCEMENT, SHOTS (screenshot dir). Every wait
// has a timeout; a failure exits 1 after a screenshot.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "..", "tools", "package.json"));
const { chromium } = require("playwright-core");

const { DJANGO_URL, TEXT, ANNOUNCEMENT, SHOTS } = process.env;
const T = 10_000;
let step = 0;
const ok = (what) => console.log(`browser ok ${++step} - ${what}`);

async function login(browser, user) {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${DJANGO_URL}/accounts/login/`, { timeout: T });
  await page.fill("#id_username", user);
  await page.fill("#id_password", "confab-demo");
  await Promise.all([page.waitForURL(`${DJANGO_URL}/`, { timeout: T }), page.click("button[type=submit]")]);
  return { page, errors };
}

const logLine = (page, text) =>
  page.locator("#log div", { hasText: text }).first().waitFor({ timeout: T });

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
let current;
let code = 0;
try {
  const carol = await login(browser, "carol");
  current = carol.page;
  await carol.page.goto(`${DJANGO_URL}/teams/42/`, { timeout: T });
  await logLine(carol.page, "joined team.42");
  ok("carol's page got a token from Django and joined team.42 on Confab");

  await carol.page.fill("#text", TEXT);
  await carol.page.press("#text", "Enter");
  await logLine(carol.page, `Carol: ${TEXT}`);
  ok("carol's message went out on the WebSocket and came back from the room");

  await carol.page.fill("#announce input[name=message]", ANNOUNCEMENT);
  await carol.page.press("#announce input[name=message]", "Enter");
  await logLine(carol.page, `carol (via Django): ${ANNOUNCEMENT}`);
  ok("carol's announcement, published by Django's view through the server API, reached the page");

  // The webhook may take a moment: ask until Django lists both.
  const deadline = Date.now() + T;
  for (;;) {
    await carol.page.click("#saved");
    const stored = await carol.page.locator("#stored").innerText({ timeout: T });
    if (stored.includes(`carol: ${TEXT}`) && stored.includes(`server: ${ANNOUNCEMENT}`)) break;
    if (Date.now() > deadline) throw new Error(`Django's stored messages lack them: ${JSON.stringify(stored)}`);
    await carol.page.waitForTimeout(200);
  }
  ok("the page lists both messages from Django's database");
  if (carol.errors.length) throw new Error(`page errors: ${carol.errors.join("; ")}`);
  await carol.page.screenshot({ path: path.join(SHOTS, "django-carol.png") });

  const bob = await login(browser, "bob");
  current = bob.page;
  await bob.page.goto(`${DJANGO_URL}/teams/42/`, { timeout: T });
  await logLine(bob.page, "refused: hook_denied: not_a_member: you are not in team 42");
  ok("bob's page shows Django's join hook refusing team.42");
  await bob.page.screenshot({ path: path.join(SHOTS, "django-bob.png") });
  if (bob.errors.length) throw new Error(`page errors: ${bob.errors.join("; ")}`);
} catch (e) {
  code = 1;
  console.log(`browser not ok ${++step} - ${e.message ?? e}`);
  if (current) {
    await current.screenshot({ path: path.join(SHOTS, "django-failure.png") }).catch(() => {});
    console.log(await current.locator("#log").innerText({ timeout: 1000 }).catch(() => "(no #log)"));
  }
} finally {
  await browser.close();
}
process.exit(code);
