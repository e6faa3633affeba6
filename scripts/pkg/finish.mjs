// Turns the build's output in pkg/ into the npm package `prejoin`: adds the Node.js entry of each
// module (`prejoin` in pkg/, `prejoin/preview` in pkg/preview/) and writes package.json from the
// template next to this file, keeping the crate's metadata (name, version, description, license,
// repository) from the package.json wasm-pack generated.
// Idempotent: running it again on its own output writes nothing.
import { access, readFile, writeFile } from "node:fs/promises";

const here = new URL("./", import.meta.url);
const pkg = new URL("../../pkg/", import.meta.url);

/** The modules of the package: their folder in pkg/ and the name wasm-bindgen gave their files. */
const modules = [
  { dir: pkg, name: "prejoin" },
  { dir: new URL("preview/", pkg), name: "prejoin_preview" },
];

const generated = JSON.parse(await readFile(new URL("package.json", pkg), "utf8"));
const template = JSON.parse(await readFile(new URL("package.json", here), "utf8"));

const kept = Object.fromEntries(
  ["name", "version", "description", "license", "repository"]
    .filter((key) => generated[key] !== undefined)
    .map((key) => [key, generated[key]]),
);
if (kept.name !== "prejoin") throw new Error(`expected the crate's package name "prejoin", got ${kept.name}`);

const files = [...template.files];
for (const { dir, name } of modules) {
  const folder = dir.href.slice(pkg.href.length);
  for (const file of [`${name}.js`, `${name}_bg.wasm`]) {
    await access(new URL(file, dir)).catch(() => {
      throw new Error(`pkg/${folder}${file} is missing: run scripts/build.sh`);
    });
  }
  if (await exists(new URL("snippets", dir))) files.push(`${folder}snippets`);
  // The template is written for pkg/prejoin.js; each module's entry names its own files.
  for (const file of ["node.js", "node.d.ts"]) {
    const text = (await readFile(new URL(file, here), "utf8"))
      .replaceAll("prejoin_bg.wasm", `${name}_bg.wasm`)
      .replaceAll("prejoin.js", `${name}.js`);
    await writeIfChanged(new URL(file, dir), text);
  }
}
const manifest = { ...kept, ...template, files };
await writeIfChanged(new URL("package.json", pkg), JSON.stringify(manifest, null, 2) + "\n");

async function exists(url) {
  return access(url).then(() => true, () => false);
}

/** Writes `text` to `url` unless the file holds it already (keeps mtimes for up-to-date checks). */
async function writeIfChanged(url, text) {
  const current = await readFile(url, "utf8").catch(() => undefined);
  if (current !== text) await writeFile(url, text);
}
