// The npm package's entry for browsers and bundlers: the wasm-bindgen glue
// (`--target web`, in ./confab_client.js), initialised here at import by a
// top-level await, so `new ConfabClient(…)` works as soon as the import
// resolves (no `init()` call). `confab-client/web` is the glue itself, for
// applications that load the .wasm themselves (`await init(url)`).
import init from "./confab_client.js";

export { ConfabClient, ConfabRoom, ConfabSocket, liveHandles } from "./confab_client.js";

// Vite, webpack 5 and Parcel see this `new URL(…, import.meta.url)` and ship
// the .wasm as an asset; without a bundler (or after esbuild/Rollup, with the
// file copied next to the bundle) it is fetched from beside this module.
let wasm = new URL("./confab_client_bg.wasm", import.meta.url);
// Vite 7's dev server pre-bundles dependencies into node_modules/.vite/deps/
// without their assets (Vite 8 rewrites the URL itself): the package's own
// copy is served from node_modules/confab-client/.
wasm = new URL(wasm.href.replace("/node_modules/.vite/deps/", "/node_modules/confab-client/"));
await init({ module_or_path: wasm }).catch((e) => {
  throw new Error(`confab-client: could not load ${wasm} (see the README for your bundler): ${e}`);
});
