// Trunk post-build hook (Trunk.toml): beside each compressible file of a
// release build, NAME.br (brotli, quality 11) and NAME.gz (gzip -9), which
// confab-server sends by the request's Accept-Encoding
// (server/src/endpoints/static_files.rs). Debug builds (`trunk serve`) are
// left alone: compressing a debug wasm takes long and nothing serves it so.
//
//   node scripts/precompress.mjs DIR   # by hand, on a built dist/
import { readdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const dir = process.argv[2] ?? process.env.TRUNK_STAGING_DIR;
if (!dir) {
  console.error("usage: node scripts/precompress.mjs DIR (or run as a trunk hook)");
  process.exit(2);
}
if (process.env.TRUNK_PROFILE && process.env.TRUNK_PROFILE !== "release") process.exit(0);

const COMPRESSIBLE = /\.(html|js|mjs|css|wasm|svg|json|txt|map)$/;

function* files(d) {
  for (const name of readdirSync(d)) {
    const p = path.join(d, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (COMPRESSIBLE.test(name)) yield p;
  }
}

for (const file of [...files(dir)]) {
  const raw = readFileSync(file);
  const br = zlib.brotliCompressSync(raw, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  const gz = zlib.gzipSync(raw, { level: 9 });
  // A variant that saves nothing is not worth a second copy.
  if (br.length < raw.length) writeFileSync(`${file}.br`, br);
  if (gz.length < raw.length) writeFileSync(`${file}.gz`, gz);
  console.log(`${path.relative(dir, file)}: ${raw.length} B, br ${br.length} B, gzip ${gz.length} B`);
}
