// The npm package's entry under Node.js (the `node` export condition: server
// renders of Next.js, SvelteKit, …): importing it loads nothing; the .wasm is
// read and instantiated on first use. The classes then need a global
// `WebSocket` (Node.js 22, or 20 with --experimental-websocket); without one
// their constructors throw a ConfabError with code "no_websocket".
import { readFileSync } from "node:fs";
import * as glue from "./confab_client.js";

let loaded = false;
function load() {
  if (loaded) return;
  glue.initSync({ module: readFileSync(new URL("./confab_client_bg.wasm", import.meta.url)) });
  loaded = true;
}

export class ConfabClient extends glue.ConfabClient {
  constructor(url, options) {
    load();
    super(url, options);
  }
}

export class ConfabSocket extends glue.ConfabSocket {
  constructor(url, options) {
    load();
    super(url, options);
  }
}

export const ConfabRoom = glue.ConfabRoom;

export function liveHandles() {
  load();
  return glue.liveHandles();
}
