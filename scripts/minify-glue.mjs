// Trunk post-build hook (Trunk.toml, before precompress.mjs): minifies the
// wasm-bindgen JS glue of a release build with esbuild (tools/, pinned) and
// puts the new file's hash in index.html's integrity attribute. Trunk's
// own JS minifier gives up on this glue (it warns "Failed to minify JS" on
// wasm-bindgen's `export { …, __wbg_init as default }`) and ships it as
// written, comments and all. Exported names stay, so the page's
// `import init, * as bindings` is unchanged.
//
//   node scripts/minify-glue.mjs DIR   # by hand, on a built dist/
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const esbuild = createRequire(path.join(root, "tools", "package.json"))("esbuild");

const dir = process.argv[2] ?? process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error("usage: node scripts/minify-glue.mjs DIR (or run as a trunk hook)");
  process.exit(2);
}
if (process.env.TRUNK_PROFILE && process.env.TRUNK_PROFILE !== "release") process.exit(0);

const sri = (bytes) => `sha384-${createHash("sha384").update(bytes).digest("base64")}`;
const indexPath = path.join(dir, "index.html");
let index = readFileSync(indexPath, "utf8");
for (const name of readdirSync(dir).filter((n) => n.endsWith(".js"))) {
  const file = path.join(dir, name);
  const before = readFileSync(file);
  const { code } = esbuild.transformSync(before.toString("utf8"), {
    format: "esm",
    minify: true,
    legalComments: "none",
  });
  const oldHash = sri(before);
  if (!index.includes(oldHash)) throw new Error(`index.html does not name ${name} by its integrity hash ${oldHash}`);
  writeFileSync(file, code);
  index = index.replaceAll(oldHash, sri(code));
  console.log(`${name}: ${before.length} B → ${Buffer.byteLength(code)} B minified`);
}
writeFileSync(indexPath, index);
