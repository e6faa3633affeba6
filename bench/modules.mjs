// A static server for the bench pages that also serves node_modules/ to the browser as ES
// modules, so that a page can `import` matrix-js-sdk's own lib/ files without a bundler:
//
// - an ES module (.mjs, or .js in a package of "type": "module") is served with its bare
//   specifiers (`from "loglevel"`) rewritten to /node_modules/… paths, resolved as a browser
//   bundler would (package.json `exports` with the conditions browser, import, default; else
//   `browser`, `module`, `main`);
// - a CommonJS file (.cjs, or .js elsewhere) is served as an ES module holding it and every file
//   it requires (a minimal CommonJS runtime), whose default export is `module.exports` and whose
//   named exports are its keys, as Node.js gives an ES module importing CommonJS.
//
// Everything else (pkg/, bench/, target/bench/) is served as is. Every answer carries the
// cross-origin isolation headers: performance.now() then has a grain of microseconds.

import { createReadStream, existsSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";

const TYPES = {
  ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".cjs": "text/javascript",
  ".wasm": "application/wasm", ".json": "application/json",
};
const CONDITIONS = new Set(["browser", "import", "default"]);

/** Serves `root` on a free loopback port; resolves to the http.Server. */
export function serve(root) {
  const cache = new Map();
  const server = createServer((req, res) => {
    const file = path.join(root, decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!file.startsWith(root + path.sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const headers = {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
      "cache-control": "no-store",
    };
    const inModules = file.includes(`${path.sep}node_modules${path.sep}`);
    if (inModules && /\.(m|c)?js$/.test(file)) {
      let body = cache.get(file);
      try {
        if (body === undefined) cache.set(file, (body = isEsm(file) ? rewriteEsm(root, file) : wrapCommonJs(root, file)));
      } catch (error) {
        res.writeHead(500, { "content-type": "text/plain" }).end(String(error?.stack ?? error));
        return;
      }
      res.writeHead(200, { ...headers, "content-type": "text/javascript" }).end(body);
      return;
    }
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

function packageJsonOf(file) {
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, "package.json");
    if (existsSync(candidate)) return JSON.parse(readFileSync(candidate, "utf8"));
  }
  return {};
}

function isEsm(file) {
  if (file.endsWith(".mjs")) return true;
  if (file.endsWith(".cjs")) return false;
  return packageJsonOf(file).type === "module";
}

/** Picks the target of an `exports` entry for CONDITIONS (in the entry's own key order). */
function conditional(target) {
  if (typeof target === "string" || target === null) return target;
  if (Array.isArray(target)) return target.map(conditional).find((t) => t) ?? null;
  for (const [key, value] of Object.entries(target)) {
    if (CONDITIONS.has(key)) {
      const picked = conditional(value);
      if (picked) return picked;
    }
  }
  return null;
}

function withExtension(file) {
  for (const candidate of [file, `${file}.js`, path.join(file, "index.js")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return null;
}

/** Resolves a bare specifier imported from `parent` to a file, as a browser bundler would. */
function resolveBare(specifier, parent) {
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const subpath = specifier.slice(name.length); // "" or "/x/y"
  for (let dir = path.dirname(parent); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkgDir = path.join(dir, "node_modules", name);
    if (!existsSync(path.join(pkgDir, "package.json"))) continue;
    const pkg = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8"));
    if (pkg.exports !== undefined) {
      const key = `.${subpath}`;
      const exportsMap = typeof pkg.exports === "string" || Array.isArray(pkg.exports) || !Object.keys(pkg.exports).some((k) => k.startsWith("."))
        ? { ".": pkg.exports }
        : pkg.exports;
      let target = key in exportsMap ? conditional(exportsMap[key]) : null;
      if (!target) {
        for (const [pattern, value] of Object.entries(exportsMap)) {
          const star = pattern.indexOf("*");
          if (star < 0) continue;
          const [before, after] = [pattern.slice(0, star), pattern.slice(star + 1)];
          if (key.startsWith(before) && key.endsWith(after) && key.length >= pattern.length - 1) {
            const picked = conditional(value);
            if (picked) target = picked.replace("*", key.slice(before.length, key.length - after.length));
            break;
          }
        }
      }
      if (!target) throw new Error(`${specifier} (from ${parent}): not exported for ${[...CONDITIONS]}`);
      return path.join(pkgDir, target);
    }
    if (subpath) {
      const file = withExtension(path.join(pkgDir, subpath));
      if (file) return file;
      throw new Error(`${specifier} (from ${parent}): no such file`);
    }
    const main = (typeof pkg.browser === "string" && pkg.browser) || pkg.module || pkg.main || "index.js";
    const file = withExtension(path.join(pkgDir, main));
    if (file) return file;
    throw new Error(`${specifier} (from ${parent}): no main file`);
  }
  throw new Error(`${specifier} (from ${parent}): package not found`);
}

const url = (root, file) => `/${path.relative(root, file).split(path.sep).join("/")}`;

const IMPORT_SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])([^"'./][^"']*)\2/g;

/** An ES module with its bare specifiers made into URLs. */
function rewriteEsm(root, file) {
  const source = readFileSync(file, "utf8");
  return source.replace(IMPORT_SPECIFIER, (whole, lead, quote, specifier) => {
    if (specifier.startsWith("node:") || /^[a-z]+:\/\//.test(specifier)) return whole;
    let resolved;
    try {
      resolved = resolveBare(specifier, file);
    } catch {
      return whole; // in a comment or a string, most likely; a real miss fails in the page
    }
    return `${lead}${quote}${url(root, resolved)}${quote}`;
  });
}

/** A CommonJS file and everything it requires, as one ES module. */
function wrapCommonJs(root, entry) {
  const modules = new Map(); // file -> { source, requires: {specifier: file} }
  const pending = [entry];
  while (pending.length) {
    const file = pending.pop();
    if (modules.has(file)) continue;
    const source = readFileSync(file, "utf8");
    const requires = {};
    const require = createRequire(file);
    for (const [, , specifier] of source.matchAll(/\brequire\s*\(\s*(["'])([^"']+)\1\s*\)/g)) {
      try {
        const resolved = require.resolve(specifier);
        if (path.isAbsolute(resolved)) {
          requires[specifier] = resolved;
          pending.push(resolved);
        }
      } catch {
        /* optional or in a comment: a call fails at run time */
      }
    }
    modules.set(file, { source: file.endsWith(".json") ? `module.exports = ${source};` : source, requires });
  }
  let names = [];
  try {
    const exported = createRequire(entry)(entry);
    if (exported && (typeof exported === "object" || typeof exported === "function")) {
      names = Object.keys(exported).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default");
    }
  } catch {
    /* no named exports then */
  }
  const id = (file) => JSON.stringify(url(root, file));
  const definitions = [...modules].map(([file, { source, requires }]) =>
    `[${id(file)}, [${JSON.stringify(Object.fromEntries(Object.entries(requires).map(([s, f]) => [s, url(root, f)])))}, ` +
    `function (module, exports, require, process, global) {\n${source}\n}]]`,
  );
  return `// CommonJS ${url(root, entry)} and what it requires, as an ES module (bench/modules.mjs)
const definitions = new Map([\n${definitions.join(",\n")}\n]);
const cache = new Map();
const process = { env: { NODE_ENV: "production" }, browser: true };
function load(id) {
  if (cache.has(id)) return cache.get(id).exports;
  const [requires, define] = definitions.get(id);
  const module = { exports: {} };
  cache.set(id, module);
  const require = (specifier) => {
    if (!(specifier in requires)) throw new Error(\`\${id}: cannot require \${specifier} in the browser\`);
    return load(requires[specifier]);
  };
  define.call(module.exports, module, module.exports, require, process, globalThis);
  return module.exports;
}
const exported = load(${id(entry)});
export default exported;
${names.length ? `export const { ${names.join(", ")} } = exported;` : ""}
`;
}
