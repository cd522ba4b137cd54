// The npm package in every JS setup issue #18 names, the way a user takes
// it: the `npm pack` tarball installed into a fresh project per setup, the
// tiny app in ./app built by the real bundler (pinned in tools/bundlers,
// no bundler configuration unless the README asks for it), then loaded in
// headless Chromium against a real confab-server: each page must join a
// room, publish and receive its message.
//
//   plain      <script type="module"> + import map, no bundler
//   vite8-dev / vite8-build (vite preview), vite7-dev / vite7-build
//   webpack (current), webpack-5.99
//   esbuild, rollup (+ @rollup/plugin-node-resolve; the .wasm copied next
//   to the bundle, as the README says for both)
//
// Usage: node run.mjs TARBALL WORKDIR WS_URL [setup...]
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { execFileSync } from "node:child_process";

const here = path.dirname(new URL(import.meta.url).pathname);
const tools = path.resolve(here, "../../../tools");
const fromBundlers = createRequire(path.join(tools, "bundlers/package.json"));
const { chromium } = createRequire(path.join(tools, "package.json"))("playwright-core");
const importTool = (name) => import(path.join(tools, "bundlers/node_modules", name, "dist/node/index.js"));

const [tarball, work, ws, ...only] = process.argv.slice(2);
if (!ws) throw new Error("usage: node run.mjs TARBALL WORKDIR WS_URL [setup...]");

/** A fresh project with the tarball installed (npm install, as a user does) and the app's files. */
function project(name) {
  const dir = path.join(work, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(path.join(here, "app"), dir, { recursive: true });
  cpSync(path.join(work, ".template"), dir, { recursive: true });
  return dir;
}

const copyWasm = (dir) =>
  cpSync(path.join(dir, "node_modules/confab-client/confab_client_bg.wasm"), path.join(dir, "dist/confab_client_bg.wasm"));

// A static file server for the built apps (application/wasm, as any host serves it).
const types = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
function serveStatic() {
  const server = createServer((req, res) => {
    const file = path.join(work, decodeURIComponent(new URL(req.url, "http://x").pathname));
    try {
      if (!file.startsWith(work) || !statSync(file).isFile()) throw new Error("not a file");
      res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
      res.end(readFileSync(file));
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function viteSetup(pkg, mode) {
  const vite = await importTool(pkg);
  const name = `${pkg}-${mode}`;
  const root = project(name);
  const common = { root, configFile: false, logLevel: "warn" };
  if (mode === "dev") {
    const server = await vite.createServer({ ...common, server: { host: "127.0.0.1", port: 0, strictPort: false } });
    await server.listen();
    return { name, url: server.resolvedUrls.local[0], close: () => server.close() };
  }
  await vite.build(common);
  const server = await vite.preview({ ...common, preview: { host: "127.0.0.1", port: 0 } });
  return { name, url: server.resolvedUrls.local[0], close: () => server.close() };
}

async function webpackSetup(pkg) {
  const webpack = fromBundlers(pkg);
  const root = project(pkg);
  const stats = await new Promise((resolve, reject) =>
    webpack({ mode: "production", context: root, entry: "./main.js", output: { path: path.join(root, "dist"), filename: "main.js" } },
      (err, s) => (err ? reject(err) : resolve(s))));
  if (stats.hasErrors()) throw new Error(stats.toString("errors-only"));
  return { name: pkg, page: `${pkg}/webpack.html` };
}

async function esbuildSetup() {
  const esbuild = fromBundlers("esbuild");
  const root = project("esbuild");
  await esbuild.build({ entryPoints: [path.join(root, "main.js")], bundle: true, format: "esm", outdir: path.join(root, "dist"), logLevel: "warning" });
  copyWasm(root);
  return { name: "esbuild", page: "esbuild/bundle.html" };
}

async function rollupSetup() {
  const { rollup } = fromBundlers("rollup");
  const { nodeResolve } = fromBundlers("@rollup/plugin-node-resolve");
  const root = project("rollup");
  const bundle = await rollup({ input: path.join(root, "main.js"), plugins: [nodeResolve({ browser: true })] });
  await bundle.write({ dir: path.join(root, "dist"), format: "es" });
  await bundle.close();
  copyWasm(root);
  return { name: "rollup", page: "rollup/bundle.html" };
}

const setups = {
  plain: async () => (project("plain"), { name: "plain", page: "plain/plain.html" }),
  "vite8-dev": () => viteSetup("vite", "dev"),
  "vite8-build": () => viteSetup("vite", "build"),
  "vite7-dev": () => viteSetup("vite7", "dev"),
  "vite7-build": () => viteSetup("vite7", "build"),
  webpack: () => webpackSetup("webpack"),
  "webpack-5.99": () => webpackSetup("webpack-5-99"),
  esbuild: esbuildSetup,
  rollup: rollupSetup,
};
const chosen = only.length ? only : Object.keys(setups);

// The package, installed once the way a user installs it.
const template = path.join(work, ".template");
rmSync(template, { recursive: true, force: true });
mkdirSync(template, { recursive: true });
writeFileSync(path.join(template, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--silent", tarball], { cwd: template, stdio: "inherit" });

const statics = await serveStatic();
const staticBase = `http://127.0.0.1:${statics.address().port}/`;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let passed = 0;
const failed = [];
try {
  for (const name of chosen) {
    const started = Date.now();
    let setup;
    let result;
    try {
      if (!setups[name]) throw new Error(`unknown setup ${name}`);
      setup = await setups[name]();
      const url = new URL(setup.page ?? "", setup.url ?? staticBase);
      url.searchParams.set("ws", ws);
      const page = await browser.newPage();
      const errors = [];
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(url.href);
      try {
        const handle = await page.waitForFunction(() => window.__result, null, { timeout: 30000 });
        result = await handle.jsonValue();
      } catch (e) {
        result = { ok: false, error: `${e.message}; page errors: ${errors.join(" | ") || "none"}` };
      }
      await page.close();
    } catch (e) {
      result = { ok: false, error: String(e && e.stack || e) };
    } finally {
      await setup?.close?.();
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`${result.ok ? "ok  " : "FAIL"} ${name.padEnd(13)} ${secs.padStart(5)} s  ${JSON.stringify(result)}`);
    if (result.ok) passed++;
    else failed.push(name);
  }
} finally {
  await browser.close();
  statics.close();
}
console.log(`bundlers: ${passed} passed, ${failed.length} failed${failed.length ? ` (${failed.join(", ")})` : ""}`);
process.exit(failed.length ? 1 : 0);
