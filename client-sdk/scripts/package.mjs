// Turns wasm-pack's `--target web` output directory into the npm package
// `confab-client` (called by build.sh before minifying):
//   index.js  the default entry: browsers and bundlers, initialised at import
//   node.js   the `node` condition: imports without loading the .wasm
//   confab_client.js  the glue itself, as the `confab-client/web` subpath
// and its package.json (exports map), and the .d.ts files: index.d.ts is
// the glue's declarations without the init functions (they need the DOM
// lib), both without `[Symbol.dispose]` (it needs lib esnext.disposable,
// which create-vite's and `tsc --init`'s defaults do not have).
// Usage: node package.mjs <out-dir>
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const dir = process.argv[2];
const src = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "npm");
const read = (f) => readFileSync(path.join(dir, f), "utf8");
const write = (f, s) => writeFileSync(path.join(dir, f), s);

for (const f of ["index.js", "node.js"]) copyFileSync(path.join(src, f), path.join(dir, f));

const dispose = /^\s*\[Symbol\.dispose\]\(\): void;\n/gm;
const dts = read("confab_client.d.ts");
if (!dispose.test(dts)) throw new Error("no [Symbol.dispose] in the generated .d.ts: check package.mjs");
const web = dts.replace(dispose, "");
const init = web.indexOf("\nexport type InitInput");
if (init < 0) throw new Error("no `export type InitInput` in the generated .d.ts: check package.mjs");
write("confab_client.d.ts", web);
write("index.d.ts", web.slice(0, init) + "\n");

const generated = JSON.parse(read("package.json"));
const pkg = {
  name: generated.name,
  version: generated.version,
  description: generated.description,
  license: generated.license,
  repository: generated.repository,
  keywords: generated.keywords,
  type: "module",
  files: ["index.js", "index.d.ts", "node.js", "confab_client.js", "confab_client.d.ts",
    "confab_client_bg.wasm", "snippets"],
  main: "./index.js",
  types: "./index.d.ts",
  exports: {
    ".": {
      types: "./index.d.ts",
      browser: "./index.js",
      node: "./node.js",
      default: "./index.js",
    },
    "./web": { types: "./confab_client.d.ts", default: "./confab_client.js" },
    "./confab_client_bg.wasm": "./confab_client_bg.wasm",
    "./package.json": "./package.json",
  },
  sideEffects: ["./index.js", "./node.js", "./confab_client.js", "./snippets/*"],
};
write("package.json", JSON.stringify(pkg, null, 2) + "\n");
console.error(`package: ${generated.name}@${generated.version} in ${dir}`);
