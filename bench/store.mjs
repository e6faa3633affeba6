#!/usr/bin/env node
// Benchmark: the event store in headless Chromium over real IndexedDB, each figure against a
// raw IndexedDB baseline measured in the same page in the same run (ratios, because these
// machines are noisy).
//
//   npm run bench                       (builds pkg/, then the preview bench, then this one)
//   node bench/store.mjs --runs 5 --big 100000
//
// 1. persist: the 10,000 events of one room (room version 10, ids computed) in batches of 100
//    through EventStore.persistEvents, against a raw IndexedDB `put` of the same events, 100 per
//    readwrite transaction. Ratio: raw time / prejoin time (prejoin's share of raw throughput).
// 2. open: a store holding 100,000 events (and one holding 1,000): EventStore.open until
//    currentToken() is known, against indexedDB.open of the same database plus one small read.
//    Ratio: prejoin time / raw time.
// 3. stateAtEvent in a room of 10,000 joined members, with a members-only and a no-members
//    filter, against a raw getAll of the same 10,000 member events from a plain object store.
//
// Each measured step runs --runs times (default 5; opening 40 times as often), prejoin and raw
// alternating; medians.
// The rooms come from `cargo run --example bench_rooms` (tests/common/synthetic.rs), cached in
// target/bench/.

import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

function parseArgs(argv) {
  const opts = { runs: 5, big: 100_000, persist: 10_000, members: 10_000, small: 1_000 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    if (!(name in opts)) die(`unknown option ${argv[i]}`);
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value <= 0) die(`--${name} needs a positive integer`);
    opts[name] = value;
  }
  return opts;
}

function die(message) {
  console.error(`bench/store: ${message}`);
  process.exit(2);
}

/** The synthetic rooms as one JSON file, generated once per set of sizes. */
function rooms(opts) {
  const specs = [
    `messages:${opts.persist}`,
    `messages:${opts.big}`,
    `messages:${opts.small}`,
    `members:${opts.members}`,
  ];
  const dir = path.join(ROOT, "target", "bench");
  const file = path.join(dir, `rooms-${specs.join("-").replaceAll(":", "")}.json`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    console.error(`bench/store: generating ${specs.join(", ")} …`);
    const out = spawnSync("cargo", ["run", "-q", "--release", "--example", "bench_rooms", "--", ...specs], {
      cwd: ROOT,
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (out.status !== 0) die("cargo run --example bench_rooms failed");
    writeFileSync(file, out.stdout);
  }
  return path.relative(ROOT, file);
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };

/** Serves the repository root (pkg/, bench/, target/bench/) on a free loopback port. */
function serve() {
  const server = createServer((req, res) => {
    const file = path.join(ROOT, decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!file.startsWith(ROOT) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
      // Cross-origin isolation: performance.now() then has a grain of microseconds, not a tenth
      // of a millisecond, which an open of about a millisecond needs.
      "cross-origin-opener-policy": "same-origin",
      "cross-origin-embedder-policy": "require-corp",
    });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const opts = parseArgs(process.argv.slice(2));
if (!existsSync(path.join(ROOT, "pkg", "prejoin.js"))) die("pkg/ is missing: run `npm run build`");
const roomsFile = rooms(opts);
const server = await serve();
const profile = mkdtempSync(path.join(tmpdir(), "prejoin-bench-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => console.error(`page: ${message.text()}`));
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  const { port } = server.address();
  await page.goto(`http://127.0.0.1:${port}/bench/store.html`);
  const results = await page.evaluate(
    ({ roomsFile, opts }) => window.runStoreBench(`/${roomsFile}`, opts),
    { roomsFile, opts },
  );
  print(results, opts);
} finally {
  await context.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}

function print(r, opts) {
  const ms = (x) => `${x.toFixed(x < 10 ? 2 : 1)} ms`;
  const row = (label, ours, raw, ratio, target) =>
    console.log(`${label.padEnd(52)} ${ms(ours).padStart(11)} ${ms(raw).padStart(11)} ${ratio.padStart(8)}  ${target}`);
  console.log(`\nEvent store in headless Chromium (${r.userAgent}), medians of ${opts.runs} runs`);
  console.log(`${"".padEnd(52)} ${"prejoin".padStart(11)} ${"raw IDB".padStart(11)} ${"ratio".padStart(8)}  target`);
  const p = r.persist;
  row(`persist ${p.events} events, batches of ${p.batch}`, p.prejoin, p.raw, `${(p.raw / p.prejoin).toFixed(2)}×`, "≥ 0.6× raw throughput");
  console.log(`${"".padEnd(52)} ${(p.events / p.prejoin * 1000).toFixed(0).padStart(8)} ev/s ${(p.events / p.raw * 1000).toFixed(0).padStart(8)} ev/s`);
  for (const o of r.open) {
    row(`open a store of ${o.events} events (${o.runs} runs)`, o.prejoin, o.raw, `${(o.prejoin / o.raw).toFixed(2)}×`, "≤ 1.2× raw open");
  }
  for (const s of r.stateAtEvent) {
    row(`stateAtEvent, ${s.members} members, ${s.label}`, s.prejoin, s.raw, `${(s.prejoin / s.raw).toFixed(2)}×`, `(${s.rows} rows; raw: getAll of ${s.members} member events)`);
  }
  console.log(`(setup: ${Object.entries(r.setup).map(([k, v]) => `${k} ${ms(v)}`).join(", ")})`);
}
