// Opens a page in headless Chromium (Playwright, Debian's /usr/bin/chromium)
// and waits for it to set window.__result. Exit 1 unless {ok: true}.
// Usage: node run-page.mjs URL [timeout_ms]
import { createRequire } from "node:module";

// The pinned dev tools live in the repo's tools/node_modules.
const { chromium } = createRequire(new URL("../../../tools/package.json", import.meta.url))("playwright-core");

const [url, timeout = "60000"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let code = 1;
try {
  const page = await browser.newPage();
  page.on("console", (m) => console.log(`  [page] ${m.text()}`));
  page.on("pageerror", (e) => console.log(`  [page error] ${e.message}`));
  await page.goto(url);
  const handle = await page.waitForFunction(() => window.__result, null, { timeout: Number(timeout) });
  const result = await handle.jsonValue();
  console.log(`  result: ${JSON.stringify(result)}`);
  code = result.ok === true ? 0 : 1;
} catch (e) {
  console.log(`  FAILED: ${e.message}`);
} finally {
  await browser.close();
}
process.exit(code);
