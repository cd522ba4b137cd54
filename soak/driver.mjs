// Drives soak/index.html in headless Chromium (Playwright, Debian's
// /usr/bin/chromium): CYCLES connect/close cycles and CYCLES forced
// reconnects of the Confab JS SDK, in batches; after each batch a forced GC
// (CDP HeapProfiler.collectGarbage) and the JS heap in use (CDP
// Runtime.getHeapUsage), the wasm linear memory and the SDK's liveHandles().
// Exit 1 when the heap after GC grows by more than MAX_GROWTH_KB between the
// first batch and the last, wasm memory grows after the first batch, or
// handles are not released.
// Usage: node soak/driver.mjs URL [cycles=1000] [batch=100]
import { createRequire } from "node:module";

const { chromium } = createRequire(new URL("../tools/package.json", import.meta.url))("playwright-core");
const [url, cyclesArg = "1000", batchArg = "100"] = process.argv.slice(2);
const CYCLES = Number(cyclesArg);
const BATCH = Number(batchArg);
const MAX_GROWTH_KB = Number(process.env.SOAK_MAX_HEAP_GROWTH_KB ?? 512);

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let ok = true;
const rows = [];
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => { console.log(`[page error] ${e.message}`); ok = false; });
  page.on("console", (m) => { if (m.type() === "error") console.log(`[page] ${m.text()}`); });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.enable");
  await page.goto(url);
  await page.waitForFunction(() => window.soakReady === true, null, { timeout: 30000 });
  const heap = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    await cdp.send("HeapProfiler.collectGarbage");
    return cdp.send("Runtime.getHeapUsage");
  };
  const h0 = await heap();
  console.log(`start: JS heap used ${(h0.usedSize / 1024).toFixed(0)} KiB (after GC, SDK loaded, nothing connected)`);
  console.log("kind       cycles   batch_ms  ms/cycle  heap_used_KiB  heap_total_KiB  wasm_KiB  liveHandles  gaps");
  for (const kind of ["fresh", "reconnect"]) {
    const series = [];
    for (let done = 0; done < CYCLES; done += BATCH) {
      const r = await page.evaluate(([k, n]) => window.soakStep(k, n), [kind, Math.min(BATCH, CYCLES - done)]);
      const h = await heap();
      const row = { ...r, used: h.usedSize, total: h.totalSize };
      series.push(row);
      rows.push(row);
      console.log(`${kind.padEnd(10)} ${String(r.cycles).padStart(6)}  ${String(r.ms).padStart(8)}  ${(r.ms / BATCH).toFixed(1).padStart(8)}  ` +
        `${(h.usedSize / 1024).toFixed(0).padStart(13)}  ${(h.totalSize / 1024).toFixed(0).padStart(14)}  ` +
        `${(r.wasmBytes / 1024).toFixed(0).padStart(8)}  ${String(r.liveHandles).padStart(11)}  ${r.gaps}`);
    }
    const [first, last] = [series[0], series[series.length - 1]];
    const growth = (last.used - first.used) / 1024;
    const wasmGrowth = (last.wasmBytes - first.wasmBytes) / 1024;
    console.log(`${kind}: JS heap after GC ${(first.used / 1024).toFixed(0)} KiB after the first ${BATCH} → ` +
      `${(last.used / 1024).toFixed(0)} KiB after ${last.cycles} (${growth >= 0 ? "+" : ""}${growth.toFixed(0)} KiB); ` +
      `wasm memory ${(first.wasmBytes / 1024).toFixed(0)} → ${(last.wasmBytes / 1024).toFixed(0)} KiB`);
    if (growth > MAX_GROWTH_KB) { console.log(`FAIL: ${kind}: heap grew more than ${MAX_GROWTH_KB} KiB`); ok = false; }
    if (wasmGrowth > 0) { console.log(`FAIL: ${kind}: wasm memory grew after the first batch`); ok = false; }
    if (kind === "fresh" && last.liveHandles !== last.baseHandles) {
      console.log(`FAIL: fresh: ${last.liveHandles} live handles after closing every client (base ${last.baseHandles})`);
      ok = false;
    }
    if (kind === "reconnect" && last.gaps !== 0) { console.log(`FAIL: reconnect: ${last.gaps} gaps`); ok = false; }
  }
  const left = await page.evaluate(() => window.soakFinish());
  const hEnd = await heap();
  console.log(`end: JS heap used ${(hEnd.usedSize / 1024).toFixed(0)} KiB after GC; liveHandles after closing everything: ${left}`);
  if (left !== rows[0].baseHandles) { console.log("FAIL: handles not released"); ok = false; }
} catch (e) {
  console.log(`FAILED: ${e.stack ?? e}`);
  ok = false;
} finally {
  await browser.close();
}
console.log(ok ? "result: ok" : "result: FAIL");
process.exit(ok ? 0 : 1);
