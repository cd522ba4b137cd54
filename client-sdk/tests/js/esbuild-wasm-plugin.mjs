// Minimal WebAssembly/ES-module integration for esbuild (what webpack's
// asyncWebAssembly or vite-plugin-wasm do), so the `--target bundler`
// package bundles: `import * as wasm from "./x_bg.wasm"` becomes a module
// that instantiates the (embedded) .wasm with its imports and re-exports its
// exports. Synchronous instantiation, because esbuild cannot keep a
// top-level await in a module of an import cycle (the wasm imports its own
// JS glue); fine for modules well under Chromium's 8 MB sync-compile limit.
import { readFile } from "node:fs/promises";
import path from "node:path";

export const wasmEsm = {
  name: "wasm-esm",
  setup(build) {
    build.onResolve({ filter: /\.wasm$/ }, (args) => {
      if (args.namespace === "wasm-esm") return { path: args.path, namespace: "wasm-file" };
      return { path: path.resolve(args.resolveDir, args.path), namespace: "wasm-esm" };
    });
    build.onLoad({ filter: /.*/, namespace: "wasm-file" }, async (args) => ({
      contents: await readFile(args.path),
      loader: "binary",
    }));
    build.onLoad({ filter: /.*/, namespace: "wasm-esm" }, async (args) => {
      const mod = await WebAssembly.compile(await readFile(args.path));
      const importMods = [...new Set(WebAssembly.Module.imports(mod).map((i) => i.module))];
      const names = WebAssembly.Module.exports(mod).map((e) => e.name);
      const lines = importMods.map((m, i) => `import * as i${i} from ${JSON.stringify(m)};`);
      lines.push(`import bytes from ${JSON.stringify(args.path)};`);
      const imports = importMods.map((m, i) => `${JSON.stringify(m)}: i${i}`).join(", ");
      lines.push(`const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { ${imports} });`);
      lines.push(`export const { ${names.join(", ")} } = instance.exports;`);
      return { contents: lines.join("\n"), resolveDir: path.dirname(args.path), loader: "js" };
    });
  },
};
