// What the SDK adds to a real app: a Vite 8 production build (default
// config, the pinned Vite in tools/bundlers) of a one-line app importing the
// npm package in client-sdk/pkg, against the same app without it. Prints
// the gzip -9 sizes of the built .js and .wasm (what a browser downloads).
// Usage: node size-vite.mjs   (after scripts/build.sh; called by size.sh)
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";

const sdk = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const vite = await import(path.join(sdk, "../tools/bundlers/node_modules/vite/dist/node/index.js"));
const gz = (f) => execFileSync("gzip", ["-9c", f], { maxBuffer: 1 << 26 }).length;

async function build(dir, main) {
  writeFileSync(path.join(dir, "index.html"), '<!doctype html><script type="module" src="/main.js"></script>\n');
  writeFileSync(path.join(dir, "main.js"), main);
  await vite.build({ root: dir, configFile: false, logLevel: "silent" });
  const assets = path.join(dir, "dist/assets");
  const sum = { js: 0, wasm: 0 };
  for (const f of readdirSync(assets)) {
    const ext = path.extname(f).slice(1);
    if (ext in sum) sum[ext] += gz(path.join(assets, f));
  }
  return sum;
}

const work = mkdtempSync(path.join(os.tmpdir(), "confab-size-vite-"));
try {
  const withSdk = path.join(work, "with");
  mkdirSync(path.join(withSdk, "node_modules"), { recursive: true });
  cpSync(path.join(sdk, "pkg"), path.join(withSdk, "node_modules/confab-client"), { recursive: true });
  const a = await build(withSdk, 'import { ConfabClient } from "confab-client";\nwindow.Client = ConfabClient;\n');
  const without = path.join(work, "without");
  mkdirSync(without);
  const b = await build(without, "window.Client = null;\n");
  const js = a.js - b.js;
  console.log(`vite 8   wasm gzip ${a.wasm} B + js gzip ${js} B (app ${a.js} B − ${b.js} B without the SDK) = ${a.wasm + js} B = ${((a.wasm + js) / 1024).toFixed(1)} KB`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
