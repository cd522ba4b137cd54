// The READMEs' JavaScript and TypeScript snippets, taken from the files as
// they are, so they cannot drift from the package's API:
//   node readme.mjs js DIR WS_URL   writes DIR/readme-N.mjs for each ```js
//       block that connects a ConfabClient to ws://127.0.0.1:8000/ws (the
//       URL swapped for WS_URL; a second client "Bob" gives the snippet its
//       otherUserId); tests/bundlers/ssr.sh runs each under Node.js with a
//       WebSocket against the real server: it must run to its end.
//   node readme.mjs ts DIR          writes DIR/readme.ts: every ```ts block
//       of client-sdk/README.md in a function, with declarations for the
//       names it leaves to the reader (room, show, Profile); test-js.sh
//       type-checks it with tsc --strict against the installed package.
// Prints the files written, one per line.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../..");
const readmes = ["README.md", "client-sdk/README.md"];
const blocks = (file, lang) =>
  [...readFileSync(path.join(root, file), "utf8").matchAll(new RegExp("^```" + lang + "\\n([\\s\\S]*?)^```", "gm"))].map((m) => m[1]);

const [mode, dir, ws] = process.argv.slice(2);
const written = [];
if (mode === "js" && ws) {
  const url = "ws://127.0.0.1:8000/ws";
  let n = 0;
  for (const file of readmes) {
    for (const code of blocks(file, "js").filter((c) => c.includes(`new ConfabClient("${url}"`))) {
      const out = path.join(dir, `readme-${++n}.mjs`);
      writeFileSync(out, `// ${file}, snippet ${n}
import { ConfabClient as Bob } from "confab-client";
const timer = setTimeout(() => { console.error("FAIL readme snippet ${n} (${file}): timed out"); process.exit(1); }, 20000);
const bob = new Bob(${JSON.stringify(ws)}, { name: "Bob" });
const otherUserId = (await new Promise((resolve) => bob.on("welcome", resolve))).id;
const oldestShown = { offset: 2 }, lastSeenOffset = 1;
// ---- the snippet ----
${code.replaceAll(url, ws)}// ---- end ----
bob.close();
clearTimeout(timer);
console.log("ok   readme snippet ${n} (${file}) ran to its end under Node.js " + process.version);
process.exit(0); // a snippet may leave its client open (the first one does)
`);
      written.push(out);
    }
  }
  if (n < 2) throw new Error(`expected a snippet in each of ${readmes.join(", ")}, found ${n}`);
} else if (mode === "ts" && dir) {
  const code = blocks("client-sdk/README.md", "ts");
  if (!code.length) throw new Error("no ```ts block in client-sdk/README.md");
  const out = path.join(dir, "readme.ts");
  writeFileSync(out, `// client-sdk/README.md's TypeScript snippets (tests/bundlers/readme.mjs).
import type { ConfabRoom, ConfabMessage } from "confab-client";
declare const room: ConfabRoom;
declare function show(text: string): void;
interface Profile { avatar: string }
export async function readme(): Promise<void> {
${code.join("\n")}}
`);
  written.push(out);
} else {
  throw new Error("usage: node readme.mjs js DIR WS_URL | ts DIR");
}
console.log(written.join("\n"));
