// esbuild the scratch app (which imports the installed "confab-client").
// Usage: node bundle.mjs ENTRY OUTDIR
import { createRequire } from "node:module";
import { wasmEsm } from "./esbuild-wasm-plugin.mjs";

// The pinned dev tools live in the repo's tools/node_modules.
const esbuild = createRequire(new URL("../../../tools/package.json", import.meta.url))("esbuild");

const [entry, outdir] = process.argv.slice(2);
await esbuild.build({
  entryPoints: [entry],
  bundle: true,
  format: "esm",
  target: "es2022",
  outdir,
  assetNames: "[name]-[hash]",
  plugins: [wasmEsm],
  logLevel: "info",
});
