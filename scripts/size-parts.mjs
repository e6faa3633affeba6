#!/usr/bin/env node
// What a wasm module's gzipped size is made of, part by part: the module as `npm run build`
// ships it, but with its function names, then, for each part (a regular expression over the
// functions' demangled names), how many bytes gzip -9 saves when the bodies of the part's
// functions are emptied. Raw code sizes mislead: gzip stores the copies of a generic function
// compiled for several types almost as cheaply as one, so a part's share of the gzipped module
// can be far from its share of the raw code.
//
//   node scripts/size-parts.mjs                                  the whole package's module
//   node scripts/size-parts.mjs --preview                        prejoin/preview's
//   node scripts/size-parts.mjs 'serde_json::ser' 'prejoin::persist'   parts of your own
//
// Run after `npm run build` (it reads the build's unstripped module from target/). The shares of
// overlapping parts overlap ("async methods as promises" lies within the glue, for one); they do
// not add up to the module.

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = new URL("..", import.meta.url).pathname;
const PARTS = [
  ["ordered maps and sets (std BTreeMap/BTreeSet)", "alloc::collections::btree"],
  ["persistent maps (imbl)", "^<?imbl"],
  ["JSON reading (serde Deserialize, serde_json)", "serde_json::de|serde_core::de|Deserialize"],
  ["JSON writing (serde Serialize, serde_json)", "serde_json::ser|serde_core::ser|Serialize"],
  ["state resolution, auth rules, signatures", "ruma_state_res|ruma_signatures|ed25519|curve25519|sha2|base64"],
  ["other ruma", "^<?ruma_(common|events)"],
  ["wasm-bindgen, js-sys, web-sys glue", "wasm_bindgen|js_sys|web_sys"],
  ["async methods as promises", "future_to_promise"],
  ["indexed_db_futures", "indexed_db_futures"],
  ["core (fmt, slices, sorting, …)", "^<?core::"],
  ["prejoin::storage::event_store", "^<?prejoin::storage::event_store"],
  ["prejoin::storage::indexeddb", "^<?prejoin::storage::indexeddb"],
  ["prejoin::persist", "^<?prejoin::persist"],
  ["prejoin::bindings", "^<?prejoin::bindings"],
  ["prejoin::model", "^<?prejoin::model"],
  ["prejoin::prejoin (previews, stripped state)", "^<?prejoin::prejoin"],
];

const args = process.argv.slice(2);
const preview = args.includes("--preview");
const parts = args.filter((arg) => arg !== "--preview").map((re) => [re, re]);
const profile = preview ? "preview" : "release";
const out = join(ROOT, "target", "size-parts", profile);
mkdirSync(out, { recursive: true });
// Through scripts/lib.sh: the pinned tools, and the build's wasm-opt passes.
const bash = (script) =>
  execFileSync("bash", ["-c", `. scripts/lib.sh && ${script}`], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
bash(`wasm-bindgen --target web --out-dir ${out} --out-name named target/wasm32-unknown-unknown/${profile}/prejoin.wasm`);
const wasm = join(out, "named_bg.wasm");
bash(`wasm-opt "\${WASM_OPT_PASSES[@]}" -g --strip-producers ${wasm} -o ${wasm}`);

const module = readModule(readFileSync(wasm));
const whole = gzipped(module, null);
const shipped = gzipSize(readFileSync(join(ROOT, preview ? "pkg/preview/prejoin_preview_bg.wasm" : "pkg/prejoin_bg.wasm")));
console.log(`${preview ? "prejoin/preview" : "prejoin"}: ${whole} B gzip -9 built with names, names left out ` +
  `(${module.bodies.length} functions; as shipped: ${shipped} B)`);
for (const [label, source] of parts.length > 0 ? parts : PARTS) {
  const re = new RegExp(source);
  const emptied = module.names.filter((name) => re.test(name)).length;
  const saved = whole - gzipped(module, re);
  console.log(`${String(saved).padStart(8)} B ${(saved / whole * 100).toFixed(1).padStart(5)}%  ${label} (${emptied} functions)`);
}

/** The sections of a module, its function bodies, and each body's function name. */
function readModule(bytes) {
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    let byte;
    do {
      byte = bytes[at++];
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value >>> 0;
  };
  const skipName = () => {
    const length = leb();
    at += length;
  };
  const sections = [];
  const byIndex = new Map();
  let imported = 0;
  let bodies = [];
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++];
    const end = leb() + at;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        skipName();
        skipName();
        const kind = bytes[at++];
        if (kind === 0) {
          leb();
          imported++;
        } else if (kind === 1) {
          at++;
          if (bytes[at++] & 1) leb();
          leb();
        } else if (kind === 2) {
          if (bytes[at++] & 1) leb();
          leb();
        } else if (kind === 3) {
          at += 2;
        } else {
          at++;
          leb();
        }
      }
    } else if (id === 10) {
      bodies = Array.from({ length: leb() }, () => {
        const size = leb();
        at += size;
        return bytes.subarray(at - size, at);
      });
    } else if (id === 0) {
      const nameLength = leb();
      const name = bytes.subarray(at, at + nameLength).toString();
      at += nameLength;
      while (name === "name" && at < end) {
        const subsection = bytes[at++];
        const subsectionEnd = leb() + at;
        if (subsection === 1) {
          for (let n = leb(); n > 0; n--) {
            const index = leb();
            const length = leb();
            byIndex.set(index, bytes.subarray(at, at + length).toString());
            at += length;
          }
        }
        at = subsectionEnd;
      }
    }
    sections.push({ id, bytes: bytes.subarray(start, end) });
    at = end;
  }
  const names = bodies.map((_, i) => byIndex.get(imported + i) ?? "");
  return { header: bytes.subarray(0, 8), sections, bodies, names };
}

/** The module's gzip -9 size without its custom sections, with the bodies of the functions whose
 *  names match `emptied` replaced by `unreachable`. */
function gzipped({ header, sections, bodies, names }, emptied) {
  const leb = (n) => {
    const out = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    return Buffer.from(out);
  };
  // No locals, `unreachable`, `end`.
  const trap = Buffer.from([0x00, 0x00, 0x0b]);
  const parts = [header];
  for (const { id, bytes } of sections) {
    if (id === 0) continue;
    if (id !== 10) {
      parts.push(bytes);
      continue;
    }
    const code = [leb(bodies.length)];
    bodies.forEach((body, i) => {
      const kept = emptied?.test(names[i]) ? trap : body;
      code.push(leb(kept.length), kept);
    });
    const content = Buffer.concat(code);
    parts.push(Buffer.from([10]), leb(content.length), content);
  }
  return gzipSize(Buffer.concat(parts));
}

/** The size of `bytes` gzipped by gzip -9, as `npm run size` measures (zlib's level 9 gives
 *  other sizes). */
function gzipSize(bytes) {
  return execFileSync("gzip", ["-9", "-c"], { input: bytes, maxBuffer: 1 << 28 }).length;
}
