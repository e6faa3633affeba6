// The package as users get it: `npm pack` of pkg/, installed from the tarball into a fresh project,
// then each entry (`prejoin` and `prejoin/preview`) used from Node, from TypeScript (resolving
// types through package.json `exports`) and from a browser page served by a static server and
// loaded in headless Chromium. `prejoin/preview` must carry no store code.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { chromium } from "playwright-core";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = (name) => join(root, "node_modules", ".bin", name);
const exec = promisify(execFile);

const { scenarios } = JSON.parse(
  await readFile(join(root, "tests/fixtures/synapse-1.163.2/scenarios.json"), "utf8"),
);
const scenario = scenarios.find((s) => s.name === "named_room_with_avatar_topic_alias_encryption");
const roomName = scenario.synapse_stripped.find((e) => e.type === "m.room.name").content.name;
const { rooms: pduRooms } = JSON.parse(
  await readFile(join(root, "tests/fixtures/synapse-1.163.2/pdus.json"), "utf8"),
);
/** Rooms persisted by the EventStore page: the room version 12 room, then two more at once. */
const storeRooms = ["v12", "v4", "v5"].map((name) => pduRooms.find((room) => room.name === name));

let work;
let consumer;
let packed;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "prejoin-pack-"));
  consumer = join(work, "consumer");
  await mkdir(consumer);
  const { stdout } = await exec("npm", ["pack", join(root, "pkg"), "--json", "--pack-destination", work]);
  [packed] = JSON.parse(stdout);
  await writeJson(join(consumer, "package.json"), {
    name: "prejoin-consumer",
    private: true,
    type: "module",
    dependencies: { prejoin: `file:${join(work, packed.filename)}` },
  });
  await exec("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: consumer });
  await writeJson(join(consumer, "scenario.json"), scenario);
  await writeJson(join(consumer, "rooms.json"), storeRooms);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test("the tarball holds the package files and nothing else", () => {
  assert.equal(packed.name, "prejoin");
  const files = packed.files.map((f) => f.path).sort();
  const required = [
    "node.d.ts", "node.js", "package.json", "prejoin.d.ts", "prejoin.js", "prejoin_bg.wasm",
    "prejoin_bg.wasm.d.ts", "preview/node.d.ts", "preview/node.js", "preview/prejoin_preview.d.ts",
    "preview/prejoin_preview.js", "preview/prejoin_preview_bg.wasm",
    "preview/prejoin_preview_bg.wasm.d.ts",
  ];
  for (const file of required) assert.ok(files.includes(file), `${file} missing from ${files}`);
  const extra = files.filter((f) => !required.includes(f) && !/^(README|LICENSE)|^(preview\/)?snippets\//.test(f));
  assert.deepEqual(extra, [], "unexpected files in the tarball");
});

// What both Node consumers start with: the scenario and its invite or knock event.
const SCENARIO = `const scenario = JSON.parse(readFileSync(new URL("./scenario.json", import.meta.url), "utf8"));
const membershipEvent = scenario.state.find(
  (e) => e.type === "m.room.member" && e.state_key === scenario.target_user,
);
`;

test("Node: import init from 'prejoin' computes Synapse's stripped state", async () => {
  await writeFile(
    join(consumer, "node-consumer.mjs"),
    `import { readFileSync } from "node:fs";
import init, { computeStrippedState } from "prejoin";

${SCENARIO}await init();
process.stdout.write(JSON.stringify(computeStrippedState(scenario.state, { kind: scenario.kind, membershipEvent })));
`,
  );
  const { stdout } = await exec(process.execPath, ["node-consumer.mjs"], { cwd: consumer });
  assert.deepEqual(JSON.parse(stdout), scenario.synapse_stripped, scenario.name);
});

test("Node: import init from 'prejoin/preview' gives what 'prejoin' gives", async () => {
  await writeFile(
    join(consumer, "node-preview-consumer.mjs"),
    `import { readFileSync } from "node:fs";
import init, * as preview from "prejoin/preview";
import initWhole, * as whole from "prejoin";

${SCENARIO}const run = (module) => {
  const stripped = module.computeStrippedState(scenario.state, { kind: scenario.kind, membershipEvent });
  const roomPreview = module.roomPreview(stripped, { roomId: scenario.room_id, ownUserId: scenario.target_user });
  let error;
  try { module.roomPreview(stripped, {}); } catch (thrown) { error = { name: thrown.name, code: thrown.code }; }
  const rooms = { [scenario.kind]: { [scenario.room_id]: { [scenario.kind + "_state"]: { events: stripped } } } };
  const batch = module.previewSyncRooms(rooms, { ownUserId: scenario.target_user });
  return { stripped, roomPreview, error, batch };
};
await init();
await initWhole();
process.stdout.write(JSON.stringify({ exports: Object.keys(preview).sort(), preview: run(preview), whole: run(whole) }));
`,
  );
  const { stdout } = await exec(process.execPath, ["node-preview-consumer.mjs"], { cwd: consumer });
  const result = JSON.parse(stdout);
  for (const name of ["default", "initSync", "computeStrippedState", "roomPreview", "previewSyncRooms"]) {
    assert.ok(result.exports.includes(name), `prejoin/preview lacks ${name}: ${result.exports}`);
  }
  assert.ok(!result.exports.includes("EventStore"), "prejoin/preview exports EventStore");
  assert.deepEqual(result.preview.stripped, scenario.synapse_stripped, scenario.name);
  assert.equal(result.preview.roomPreview.displayName, roomName);
  assert.deepEqual(result.preview.error, { name: "PrejoinError", code: "INVALID_OPTIONS" });
  assert.deepEqual(result.preview.batch, [{ ...result.preview.roomPreview }], "previewSyncRooms is roomPreview per room");
  assert.deepEqual(result.preview, result.whole, "both entries compute the same");
});

test("prejoin/preview carries no store code (and the check finds the store in prejoin)", async () => {
  const installed = join(consumer, "node_modules", "prejoin");
  const preview = await storeTraces(join(installed, "preview"), "prejoin_preview");
  assert.deepEqual(preview, [], "store code in prejoin/preview");
  // The same check on the whole module, so that a check that finds nothing cannot pass unseen.
  const whole = await storeTraces(installed, "prejoin");
  for (const kind of ["wasm export", "wasm import", "wasm bytes", "JS glue", "types"]) {
    assert.ok(whole.some((trace) => trace.startsWith(kind)), `the check finds no ${kind} trace in prejoin`);
  }
});

for (const resolution of ["node16", "bundler"]) {
  test(`TypeScript (moduleResolution ${resolution}): types resolve through package.json exports`, async () => {
    await writeFile(
      join(consumer, "ts-consumer.ts"),
      `import init, { computeStrippedState, EventStore, roomPreview, type RoomPreview, type StrippedEvent } from "prejoin";

type IsAny<T> = 0 extends 1 & T ? true : false;

await init();
const stripped: StrippedEvent[] = computeStrippedState([], {
  kind: "invite",
  membershipEvent: { type: "m.room.member", state_key: "@bob:x", sender: "@alice:x", content: { membership: "invite" } },
});
const preview: RoomPreview = roomPreview(stripped, { roomId: "!r:x", ownUserId: "@bob:x" });
const source: "name" | "alias" | "inviter" | "heroes" | "empty" = preview.displayNameSource;
const strippedIsAny: IsAny<ReturnType<typeof computeStrippedState>> = false;
const previewIsAny: IsAny<ReturnType<typeof roomPreview>> = false;
const store: EventStore = await EventStore.open({ name: "events", inMemory: true });
const token: number = store.currentToken();
const eventIsAny: IsAny<Awaited<ReturnType<EventStore["getEvent"]>>> = false;
export { source, strippedIsAny, previewIsAny, token, eventIsAny };
`,
    );
    const config = `tsconfig.${resolution}.json`;
    await writeJson(join(consumer, config), tsconfig(resolution, "ts-consumer.ts"));
    await exec(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", config], { cwd: consumer })
      .catch((error) => assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`));
  });
}

for (const resolution of ["node16", "bundler"]) {
  test(`TypeScript (moduleResolution ${resolution}): 'prejoin/preview' is typed as 'prejoin', without the store`, async () => {
    await writeFile(
      join(consumer, "ts-preview-consumer.ts"),
      `import init, { computeStrippedState, previewSyncRooms, roomPreview, type PrejoinError, type RoomPreview, type StrippedEvent, type SyncRooms } from "prejoin/preview";
// @ts-expect-error: the store is not part of prejoin/preview.
import { EventStore } from "prejoin/preview";
import type * as Whole from "prejoin";

type IsAny<T> = 0 extends 1 & T ? true : false;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

await init();
const stripped: StrippedEvent[] = computeStrippedState([], {
  kind: "invite",
  membershipEvent: { type: "m.room.member", state_key: "@bob:x", sender: "@alice:x", content: { membership: "invite" } },
});
const preview: RoomPreview = roomPreview(stripped, { roomId: "!r:x", ownUserId: "@bob:x" });
const source: "name" | "alias" | "inviter" | "heroes" | "empty" = preview.displayNameSource;
const strippedIsAny: IsAny<ReturnType<typeof computeStrippedState>> = false;
const previewIsAny: IsAny<ReturnType<typeof roomPreview>> = false;
const samePreview: Same<RoomPreview, Whole.RoomPreview> = true;
const sameStrip: Same<typeof computeStrippedState, typeof Whole.computeStrippedState> = true;
const sameRoomPreview: Same<typeof roomPreview, typeof Whole.roomPreview> = true;
const sameError: Same<PrejoinError, Whole.PrejoinError> = true;
const rooms: SyncRooms = { invite: { "!r:x": { invite_state: { events: stripped } } } };
const batch: RoomPreview[] = previewSyncRooms(rooms, { ownUserId: "@bob:x" });
const batchIsAny: IsAny<ReturnType<typeof previewSyncRooms>> = false;
const roomsIsAny: IsAny<Parameters<typeof previewSyncRooms>[0]> = false;
const sameBatch: Same<typeof previewSyncRooms, typeof Whole.previewSyncRooms> = true;
// @ts-expect-error: the options take ownUserId only.
previewSyncRooms(rooms, { ownUserId: "@bob:x", kind: "join" });
export { source, strippedIsAny, previewIsAny, samePreview, sameStrip, sameRoomPreview, sameError, batch, batchIsAny, roomsIsAny, sameBatch };
`,
    );
    const config = `tsconfig.preview.${resolution}.json`;
    await writeJson(join(consumer, config), tsconfig(resolution, "ts-preview-consumer.ts"));
    await exec(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", config], { cwd: consumer })
      .catch((error) => assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`));
  });
}

test("browser: a page importing 'prejoin' through an import map renders a preview", { timeout: 120_000 }, async () => {
  await writeConsumerPage("index.html", "prejoin consumer", ["computeStrippedState", "roomPreview"], `
    const scenario = await (await fetch("./scenario.json")).json();
    const membershipEvent = scenario.state.find(
      (e) => e.type === "m.room.member" && e.state_key === scenario.target_user,
    );
    const stripped = computeStrippedState(scenario.state, { kind: scenario.kind, membershipEvent });
    const preview = roomPreview(stripped, { roomId: scenario.room_id, ownUserId: scenario.target_user });
    return { stripped, preview };
  `);
  const { stripped, preview } = await runPage("index.html");
  assert.deepEqual(stripped, scenario.synapse_stripped, scenario.name);
  assert.equal(preview.displayName, roomName, scenario.name);
  assert.equal(preview.displayNameSource, "name", scenario.name);
});

test("browser: a page importing 'prejoin/preview' through an import map renders a preview", { timeout: 120_000 }, async () => {
  await writeConsumerPage("preview.html", "prejoin/preview consumer", ["computeStrippedState", "roomPreview"], `
    const scenario = await (await fetch("./scenario.json")).json();
    const membershipEvent = scenario.state.find(
      (e) => e.type === "m.room.member" && e.state_key === scenario.target_user,
    );
    const stripped = computeStrippedState(scenario.state, { kind: scenario.kind, membershipEvent });
    const preview = roomPreview(stripped, { roomId: scenario.room_id, ownUserId: scenario.target_user });
    return { stripped, preview };
  `, "prejoin/preview");
  const { stripped, preview } = await runPage("preview.html");
  assert.deepEqual(stripped, scenario.synapse_stripped, scenario.name);
  assert.equal(preview.displayName, roomName, scenario.name);
  assert.equal(preview.displayNameSource, "name", scenario.name);
});

test("browser: an EventStore over IndexedDB persists, reads, closes and reads again after reopening", { timeout: 120_000 }, async () => {
  await writeConsumerPage("event-store.html", "prejoin EventStore", ["EventStore"], `
    const [room, roomA, roomB] = await (await fetch("./rooms.json")).json();
    const pdus = (r) => r.events.map((e) => e.pdu);
    const store = await EventStore.open({ name: "prejoin-pack", instanceName: "tab-pack" });
    const persisted = await store.persistEvents(pdus(room));
    const first = await store.getEvent(room.events[0].event_id);
    store.close();
    let closed;
    try { await store.getEvent(room.events[0].event_id); } catch (error) { closed = error.code; }

    const again = await EventStore.open({ name: "prejoin-pack" });
    const reread = await again.getEvent(room.events[0].event_id);
    const state = await again.currentState(room.room_id);
    const extremities = await again.forwardExtremities(room.room_id);
    const missing = await again.getEvent("$" + "A".repeat(43));
    again.close();
    // Two persists in flight at once take turns.
    const fresh = await EventStore.open({ name: "prejoin-pack-2" });
    const both = await Promise.all([fresh.persistEvents(pdus(roomA)), fresh.persistEvents(pdus(roomB))]);
    fresh.close();
    return {
      persisted, first, closed, reread, extremities,
      stateIds: state.map((e) => e.event_id),
      missing: missing === undefined,
      orderings: both.map((result) => result.rooms[0].streamOrderings),
    };
  `);
  const result = await runPage("event-store.html");
  const [room, roomA, roomB] = storeRooms;
  const ids = room.events.map((e) => e.event_id);
  const [chunk] = result.persisted.rooms;
  assert.equal(chunk.roomId, room.room_id);
  assert.deepEqual(chunk.persisted, ids);
  assert.equal(chunk.error, null);
  assert.deepEqual(chunk.streamOrderings, { first: 1, last: ids.length });

  const create = room.events[0];
  assert.equal(result.first.eventId, create.event_id);
  assert.equal(result.first.formatVersion, create.format_version);
  assert.equal(result.first.roomVersion, room.room_version);
  assert.equal(result.first.event.room_id, room.room_id, "a v12 create event gets its room_id back");
  assert.deepEqual(result.first.internalMetadata, {
    outlier: false, softFailed: false, streamOrdering: 1, instanceName: "tab-pack",
    outOfBandMembership: false, txnId: null, redacted: false,
  });
  assert.equal(result.closed, "STORE_CLOSED");
  assert.deepEqual(result.reread, result.first, "the reopened store reads the same event");

  const byKey = (a, b) => (a.type === b.type ? cmp(a.state_key, b.state_key) : cmp(a.type, b.type));
  assert.deepEqual(result.stateIds, [...room.current_state].sort(byKey).map((row) => row.event_id));
  assert.deepEqual(result.extremities, room.forward_extremities);
  assert.equal(result.missing, true);
  const [a, b] = [roomA.events.length, roomB.events.length];
  assert.deepEqual(result.orderings, [{ first: 1, last: a }, { first: a + 1, last: a + b }]);
});

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Loads `file` of the consumer project in headless Chromium; returns the JSON the page puts in
 *  #result once its data-state is set, failing on an error state or any page error. */
/**
 * Writes a page of the consumer project that imports `names` from `specifier` ("prejoin" or
 * "prejoin/preview") through an import map, runs `body` (the body of an async function) after
 * `init()`, and shows what it returns (or its error) for `runPage`.
 */
async function writeConsumerPage(file, title, names, body, specifier = "prejoin") {
  await writeFile(
    join(consumer, file),
    `<!doctype html>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="data:,">
<script type="importmap">{ "imports": {
  "prejoin": "./node_modules/prejoin/prejoin.js",
  "prejoin/preview": "./node_modules/prejoin/preview/prejoin_preview.js"
} }</script>
<pre id="result">loading</pre>
<script type="module">
  import init, { ${names.join(", ")} } from "${specifier}";

  const out = document.getElementById("result");
  try {
    await init();
    const result = await (async () => {${body}})();
    out.textContent = JSON.stringify(result);
    out.dataset.state = "done";
  } catch (error) {
    out.textContent = String(error?.stack ?? error) + " " + (error?.code ?? "");
    out.dataset.state = "error";
  }
</script>
`,
  );
}

async function runPage(file) {
  const server = await serve(consumer);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      if (["error", "warning"].includes(message.type())) problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${server.url}/${file}`);
    const result = page.locator("#result[data-state]");
    await result.waitFor({ timeout: 30_000 });
    const [state, text] = [await result.getAttribute("data-state"), await result.textContent()];
    assert.equal(state, "done", `${text}\n${problems.join("\n")}`);
    assert.deepEqual(problems, []);
    return JSON.parse(text);
  } finally {
    await browser.close();
    server.close();
  }
}

async function writeJson(path, value) {
  await writeFile(path, JSON.stringify(value, null, 2) + "\n");
}

/** Serves `dir` with the static server on a free loopback port; resolves once it listens. */
function serve(dir) {
  // The server reads PORT and HOST from the environment before its flags. With port 0 it picks a
  // free port, which it prints along with the address.
  const env = { ...process.env, HOST: "127.0.0.1", PORT: "0", NO_COLOR: "1" };
  const child = spawn(bin("sirv"), [dir, "--no-clear"], { env, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => fail(new Error(`static server did not start:\n${output}`)), 15_000);
    const fail = (error) => {
      clearTimeout(timer);
      child.kill();
      reject(error);
    };
    const collect = (chunk) => {
      output += chunk;
      const match = /Local:\s+(http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ url: match[1].replace(/\/$/, ""), close: () => child.kill() });
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", fail);
    child.on("exit", (code) => fail(new Error(`static server exited (${code}):\n${output}`)));
  });
}

/** A consumer's tsconfig.json checking `file` with TypeScript's `resolution` strategy. */
function tsconfig(resolution, file) {
  return {
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: "ES2022",
      module: resolution === "node16" ? "node16" : "ESNext",
      moduleResolution: resolution,
      lib: ["ES2022", "DOM"],
      types: [],
      skipLibCheck: false,
    },
    files: [file],
  };
}

/**
 * What of the event store a module of the installed package (`dir`, files named `name`) carries,
 * one line per trace: its wasm's exports and imports (the EventStore class, IndexedDB, the tabs'
 * channel and locks), strings of the store's crates and modules in its wasm (panic locations,
 * error messages), and the store in its JS glue and types.
 */
async function storeTraces(dir, name) {
  const traces = [];
  const bytes = await readFile(join(dir, `${name}_bg.wasm`));
  const module = new WebAssembly.Module(bytes);
  for (const { name: exported } of WebAssembly.Module.exports(module)) {
    if (/^eventstore_/i.test(exported)) traces.push(`wasm export ${exported}`);
  }
  const storeImport = /eventstore|indexeddb|idb|cursor|objectstore|transaction|channel|lock|writechunk|subscriber/i;
  for (const { name: imported } of WebAssembly.Module.imports(module)) {
    if (storeImport.test(imported)) traces.push(`wasm import ${imported}`);
  }
  const text = bytes.toString("latin1");
  const storeStrings = [
    "indexed_db_futures", "ruma-state-res", "ruma_state_res", "imbl", "src/storage/", "src/persist/",
    "src/sync/", "src/replication/", "src/streams/", "storage quota exceeded", "the store is closed",
  ];
  for (const marker of storeStrings) if (text.includes(marker)) traces.push(`wasm bytes ${marker}`);
  const glue = await readFile(join(dir, `${name}.js`), "utf8");
  for (const marker of glue.match(/EventStore|indexedDB|IDB[A-Z]\w+|BroadcastChannel|navigator\.locks/g) ?? []) {
    traces.push(`JS glue ${marker}`);
  }
  const types = await readFile(join(dir, `${name}.d.ts`), "utf8");
  for (const marker of types.match(/\b(EventStore|SyncResponse|Pdu|ClientEvent)\b/g) ?? []) {
    traces.push(`types ${marker}`);
  }
  return [...new Set(traces)];
}
