#!/usr/bin/env node
// Regenerates www/sample-syncs.json: the initial /sync responses of the three fixture users,
// copied unchanged from the recorded Synapse fixture.
//
//   node www/tools/extract-sample.mjs           write the file
//   node www/tools/extract-sample.mjs --check   exit 1 if the committed file is out of date

import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const fixture = new URL("../../tests/fixtures/synapse-1.163.2/scenarios.json", import.meta.url);
const output = new URL("../sample-syncs.json", import.meta.url);

const { initial_syncs: syncs } = JSON.parse(await readFile(fixture, "utf8"));
if (syncs === null || typeof syncs !== "object" || Array.isArray(syncs)) {
  throw new Error("scenarios.json has no initial_syncs object");
}
const text = `${JSON.stringify(syncs, null, 2)}\n`;

if (process.argv.includes("--check")) {
  const current = await readFile(output, "utf8").catch(() => "");
  if (current !== text) {
    console.error(`${fileURLToPath(output)} is out of date: run node www/tools/extract-sample.mjs`);
    process.exit(1);
  }
  console.log("sample-syncs.json is up to date");
} else {
  await writeFile(output, text);
  const summary = Object.entries(syncs).map(([user, sync]) => {
    const invites = Object.keys(sync.rooms?.invite ?? {}).length;
    const knocks = Object.keys(sync.rooms?.knock ?? {}).length;
    return `${user}: ${invites} invites, ${knocks} knocks`;
  });
  console.log(`wrote ${fileURLToPath(output)}\n  ${summary.join("\n  ")}`);
}
