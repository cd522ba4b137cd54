// Shortens the names that tie the .wasm to its JS glue in a wasm-bindgen
// output directory: the imports of "./<name>_bg.js" (`__wbg_send_cd51063c…`,
// hashed and incompressible) and the wasm's exports (`confabclient_join`,
// …) become `__wN` / `__xN`, in the .wasm, the .js glue and the
// `_bg.wasm.d.ts` alike. The public JS API (classes, methods, functions)
// is untouched. Usage: node short-names.mjs <out-dir>
import { readFileSync, writeFileSync, readdirSync } from "node:fs";
import path from "node:path";

const dir = process.argv[2];
const wasmFile = readdirSync(dir).find((f) => f.endsWith("_bg.wasm"));
if (!wasmFile) throw new Error(`no *_bg.wasm in ${dir}`);
const glueModule = `./${wasmFile.replace(/\.wasm$/, ".js")}`;
const bytes = readFileSync(path.join(dir, wasmFile));

// --- wasm reading/writing helpers -----------------------------------------
function readU32(buf, pos) {
  let n = 0, shift = 0, b;
  do {
    b = buf[pos++];
    n |= (b & 0x7f) << shift;
    shift += 7;
  } while (b & 0x80);
  return [n >>> 0, pos];
}
function u32(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}
function readName(buf, pos) {
  const [len, p] = readU32(buf, pos);
  return [buf.toString("utf8", p, p + len), p + len];
}
const name = (s) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);

// Skips an import descriptor (after module/field names); returns its bytes' end.
function skipImportDesc(buf, pos) {
  const kind = buf[pos++];
  switch (kind) {
    case 0: return readU32(buf, pos)[1]; // func: type index
    case 1: { // table: reftype + limits
      pos++;
      const flags = buf[pos++];
      pos = readU32(buf, pos)[1];
      return flags & 1 ? readU32(buf, pos)[1] : pos;
    }
    case 2: { // memory: limits
      const flags = buf[pos++];
      pos = readU32(buf, pos)[1];
      return flags & 1 ? readU32(buf, pos)[1] : pos;
    }
    case 3: return pos + 2; // global: valtype + mut
    default: throw new Error(`unknown import kind ${kind}`);
  }
}

const renames = new Map(); // import field → short
const exportRenames = new Map(); // export name → short
const sections = [];
let pos = 8;
while (pos < bytes.length) {
  const id = bytes[pos];
  const [size, start] = readU32(bytes, pos + 1);
  const end = start + size;
  let body = bytes.subarray(start, end);
  if (id === 2) {
    const [count, p0] = readU32(body, 0);
    const parts = [u32(count)];
    let p = p0;
    for (let i = 0; i < count; i++) {
      const [mod, p1] = readName(body, p);
      const [field, p2] = readName(body, p1);
      const p3 = skipImportDesc(body, p2);
      let short = field;
      if (mod === glueModule) {
        short = renames.get(field) ?? `__w${renames.size.toString(36)}`;
        renames.set(field, short);
      }
      parts.push(name(mod), name(short), body.subarray(p2, p3));
      p = p3;
    }
    body = Buffer.concat(parts);
  } else if (id === 7) {
    const [count, p0] = readU32(body, 0);
    const parts = [u32(count)];
    let p = p0;
    for (let i = 0; i < count; i++) {
      const [exp, p1] = readName(body, p);
      const p2 = readU32(body, p1 + 1)[1]; // kind byte + index
      // `memory` is what hosts look for; the rest are only called by the glue.
      const short = exp === "memory" ? exp : `__x${exportRenames.size.toString(36)}`;
      if (short !== exp) exportRenames.set(exp, short);
      parts.push(name(short), body.subarray(p1, p2));
      p = p2;
    }
    body = Buffer.concat(parts);
  }
  sections.push(Buffer.from([id]), u32(body.length), body);
  pos = end;
}
writeFileSync(path.join(dir, wasmFile), Buffer.concat([bytes.subarray(0, 8), ...sections]));

// --- the glue ---------------------------------------------------------------
const escape = (s) => s.replace(/[$]/g, "\\$&");
const importRe = new RegExp(`\\b(${[...renames.keys()].map(escape).join("|")})\\b`, "g");
const exportRe = new RegExp(`\\bwasm\\.(${[...exportRenames.keys()].map(escape).join("|")})\\b`, "g");
const dtsRe = new RegExp(`\\b(export const |export function )(${[...exportRenames.keys()].map(escape).join("|")})\\b`, "g");
const shorts = [...renames.values(), ...exportRenames.values()].filter((s) => s !== "memory");
const clash = new RegExp(`\\b(${shorts.join("|")})\\b`);
for (const f of readdirSync(dir, { recursive: true })) {
  const file = path.join(dir, f);
  if (f.endsWith(".js")) {
    const src = readFileSync(file, "utf8");
    if (clash.test(src)) throw new Error(`${file} already uses a name like ${src.match(clash)[0]}`);
    const out = src
      .replace(importRe, (m) => renames.get(m))
      .replace(exportRe, (_, e) => `wasm.${exportRenames.get(e)}`);
    writeFileSync(file, out);
  } else if (f.endsWith("_bg.wasm.d.ts")) {
    const src = readFileSync(file, "utf8");
    writeFileSync(file, src.replace(dtsRe, (_, kw, e) => kw + exportRenames.get(e)));
  }
}
console.error(`short-names: ${renames.size} imports, ${exportRenames.size} exports renamed in ${dir}`);
