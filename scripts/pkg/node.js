// Node.js entry of a module of the prejoin package (scripts/pkg/finish.mjs writes one per module,
// with its file names): the same module as prejoin.js, with an init() that reads
// the .wasm file from disk (Node's fetch cannot load file: URLs).
import { readFile } from "node:fs/promises";
import initWeb from "./prejoin.js";

export * from "./prejoin.js";

let ready;

/**
 * Loads the WebAssembly module; await it once before calling any other export. Calling it again
 * returns the same instance. Takes the same optional argument as the browser build's init().
 */
export default function init(moduleOrPath) {
  if (moduleOrPath !== undefined) return initWeb(moduleOrPath);
  ready ??= readFile(new URL("./prejoin_bg.wasm", import.meta.url))
    .then((bytes) => initWeb({ module_or_path: bytes }))
    .catch((error) => {
      ready = undefined;
      throw error;
    });
  return ready;
}
