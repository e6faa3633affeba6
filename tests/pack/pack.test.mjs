// The package as users get it: `npm pack` of pkg/, installed from the tarball into a fresh project,
// then used from Node, from TypeScript (resolving types through package.json `exports`) and from a
// browser page served by a static server and loaded in headless Chromium.
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
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

test("the tarball holds the package files and nothing else", () => {
  assert.equal(packed.name, "prejoin");
  const files = packed.files.map((f) => f.path).sort();
  const required = [
    "node.d.ts", "node.js", "package.json", "prejoin.d.ts", "prejoin.js", "prejoin_bg.wasm",
    "prejoin_bg.wasm.d.ts",
  ];
  for (const file of required) assert.ok(files.includes(file), `${file} missing from ${files}`);
  const extra = files.filter((f) => !required.includes(f) && !/^(README|LICENSE)|^snippets\//.test(f));
  assert.deepEqual(extra, [], "unexpected files in the tarball");
});

test("Node: import init from 'prejoin' computes Synapse's stripped state", async () => {
  await writeFile(
    join(consumer, "node-consumer.mjs"),
    `import { readFileSync } from "node:fs";
import init, { computeStrippedState } from "prejoin";

const scenario = JSON.parse(readFileSync(new URL("./scenario.json", import.meta.url), "utf8"));
const membershipEvent = scenario.state.find(
  (e) => e.type === "m.room.member" && e.state_key === scenario.target_user,
);
await init();
process.stdout.write(JSON.stringify(computeStrippedState(scenario.state, { kind: scenario.kind, membershipEvent })));
`,
  );
  const { stdout } = await exec(process.execPath, ["node-consumer.mjs"], { cwd: consumer });
  assert.deepEqual(JSON.parse(stdout), scenario.synapse_stripped, scenario.name);
});

for (const resolution of ["node16", "bundler"]) {
  test(`TypeScript (moduleResolution ${resolution}): types resolve through package.json exports`, async () => {
    await writeFile(
      join(consumer, "ts-consumer.ts"),
      `import init, { computeStrippedState, roomPreview, type RoomPreview, type StrippedEvent } from "prejoin";

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
export { source, strippedIsAny, previewIsAny };
`,
    );
    const config = `tsconfig.${resolution}.json`;
    await writeJson(join(consumer, config), {
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
      files: ["ts-consumer.ts"],
    });
    await exec(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", config], { cwd: consumer })
      .catch((error) => assert.fail(`tsc failed:\n${error.stdout}${error.stderr}`));
  });
}

test("browser: a page importing 'prejoin' through an import map renders a preview", { timeout: 120_000 }, async () => {
  await writeFile(
    join(consumer, "index.html"),
    `<!doctype html>
<meta charset="utf-8">
<title>prejoin consumer</title>
<link rel="icon" href="data:,">
<script type="importmap">{ "imports": { "prejoin": "./node_modules/prejoin/prejoin.js" } }</script>
<pre id="result">loading</pre>
<script type="module">
  import init, { computeStrippedState, roomPreview } from "prejoin";

  const out = document.getElementById("result");
  try {
    const scenario = await (await fetch("./scenario.json")).json();
    await init();
    const membershipEvent = scenario.state.find(
      (e) => e.type === "m.room.member" && e.state_key === scenario.target_user,
    );
    const stripped = computeStrippedState(scenario.state, { kind: scenario.kind, membershipEvent });
    const preview = roomPreview(stripped, { roomId: scenario.room_id, ownUserId: scenario.target_user });
    out.textContent = JSON.stringify({ stripped, preview });
    out.dataset.state = "done";
  } catch (error) {
    out.textContent = String(error?.stack ?? error);
    out.dataset.state = "error";
  }
</script>
`,
  );
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
    await page.goto(`${server.url}/index.html`);
    const result = page.locator("#result[data-state]");
    await result.waitFor({ timeout: 30_000 });
    const [state, text] = [await result.getAttribute("data-state"), await result.textContent()];
    assert.equal(state, "done", `${text}\n${problems.join("\n")}`);
    const { stripped, preview } = JSON.parse(text);
    assert.deepEqual(stripped, scenario.synapse_stripped, scenario.name);
    assert.equal(preview.displayName, roomName, scenario.name);
    assert.equal(preview.displayNameSource, "name", scenario.name);
    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    server.close();
  }
});

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
