// Turns wasm-pack's output in pkg/ into the npm package `prejoin`: adds the Node.js entry and
// writes package.json from the template next to this file, keeping the crate's metadata
// (name, version, description, license, repository) from the package.json wasm-pack generated.
// Idempotent: running it again on its own output writes nothing.
import { access, readFile, writeFile } from "node:fs/promises";

const here = new URL("./", import.meta.url);
const pkg = new URL("../../pkg/", import.meta.url);

const generated = JSON.parse(await readFile(new URL("package.json", pkg), "utf8"));
const template = JSON.parse(await readFile(new URL("package.json", here), "utf8"));

const kept = Object.fromEntries(
  ["name", "version", "description", "license", "repository"]
    .filter((key) => generated[key] !== undefined)
    .map((key) => [key, generated[key]]),
);
if (kept.name !== "prejoin") throw new Error(`expected the crate's package name "prejoin", got ${kept.name}`);

const files = [...template.files];
const hasSnippets = await access(new URL("snippets", pkg)).then(() => true, () => false);
if (hasSnippets) files.push("snippets");

for (const file of ["node.js", "node.d.ts"]) {
  await writeIfChanged(new URL(file, pkg), await readFile(new URL(file, here), "utf8"));
}
const manifest = { ...kept, ...template, files };
await writeIfChanged(new URL("package.json", pkg), JSON.stringify(manifest, null, 2) + "\n");

/** Writes `text` to `url` unless the file holds it already (keeps mtimes for up-to-date checks). */
async function writeIfChanged(url, text) {
  const current = await readFile(url, "utf8").catch(() => undefined);
  if (current !== text) await writeFile(url, text);
}
