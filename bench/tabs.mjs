#!/usr/bin/env node
// Benchmark: several tabs over one store, in headless Chromium (pages of one origin share
// IndexedDB, BroadcastChannel and Web Locks as tabs do).
//
//   npm run bench                 (builds pkg/, then every bench)
//   node bench/tabs.mjs --chunks 1000 --events 2000 --runs 2
//
// 1. replication latency: tab A ingests --chunks /sync responses of one room and 5 new events
//    each; for each chunk, the time from A's own subscriber being handed it (right after the
//    commit) to tab B's subscriber being handed it. Median and p99; target p99 < 50 ms.
// 2. what several writers cost: --events events per writer for 3 writers (rooms of their own,
//    chunks of 1–30 events), stored by one tab after the other's data, against 3 tabs storing
//    their own at once, each into a fresh database. Ratio: 3 tabs' time / 1 tab's time (target
//    <= 1: three writers together at least as fast as one).
// 3. what `stream_positions` costs: its upkeep is one put of a small row in each chunk's
//    transaction. Raw IndexedDB, one page: --chunks transactions of 6 event-sized records and
//    the `sequences` row, with and without that put, alternated. Ratio: with / without.

import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, ROOT, loadPackage, serveStatic, stopServer } from "../tests/e2e/harness.mjs";
import { ACCOUNT, prng, syncResponses } from "../tests/e2e/tabs-data.mjs";

function parseArgs(argv) {
  const opts = { chunks: 1000, events: 2000, runs: 2 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, "");
    const value = Number(argv[++i]);
    if (!(name in opts) || !Number.isInteger(value) || value <= 0) {
      console.error(`bench/tabs: bad option ${argv[i - 1]}`);
      process.exit(2);
    }
    opts[name] = value;
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const { server, base } = await serveStatic(`${ROOT}/www`, "/pkg/package.json");
const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const context = await browser.newContext();

/** A page with the store `database` open as `instance`, its subscriber noting when each row
 *  reached it (ms since the epoch, on the browser's one clock). */
async function openTab(database, instance) {
  const page = await loadPackage(await context.newPage(), base);
  await page.evaluate(async ({ database, instance }) => {
    globalThis.store = await prejoin.EventStore.open({ name: database, instanceName: instance });
    globalThis.handed = new Map();
    store.subscribe((rows) => {
      const now = performance.timeOrigin + performance.now();
      for (const row of rows) handed.set(row.streamOrdering, now);
    });
  }, { database, instance });
  return page;
}

function ingest(page, responses, ownUserId) {
  return page.evaluate(async ({ responses, ownUserId }) => {
    const started = performance.now();
    let events = 0;
    for (const response of responses) {
      const result = await store.ingestSync(response, { ownUserId });
      for (const room of result.rooms) events += room.persisted.length;
    }
    return { ms: performance.now() - started, events };
  }, { responses, ownUserId });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
let databases = 0;

async function latency() {
  const database = `bench-tabs-${++databases}`;
  const [a, b] = [await openTab(database, "a"), await openTab(database, "b")];
  let n = 0;
  const event = () => ({
    event_id: `$lat${String(++n).padStart(40, "A")}`, type: "m.room.message", sender: ACCOUNT,
    origin_server_ts: 1_700_000_000_000 + n, content: { msgtype: "m.text", body: `message ${n}` },
  });
  const roomId = "!latency:example.org";
  const state = [
    { ...event(), type: "m.room.create", state_key: "", content: { room_version: "10" } },
    { ...event(), type: "m.room.member", state_key: ACCOUNT, content: { membership: "join" } },
  ];
  const responses = Array.from({ length: opts.chunks }, (_, k) => ({
    next_batch: `s${k + 1}`,
    rooms: { join: { [roomId]: { state: { events: k === 0 ? state : [] }, timeline: { events: Array.from({ length: 5 }, event) } } } },
  }));
  await ingest(a, responses, ACCOUNT);
  const total = await a.evaluate(() => store.currentToken());
  await b.waitForFunction((total) => store.currentToken() === total, total, { timeout: 60_000 });
  const [ta, tb] = await Promise.all([a, b].map((page) => page.evaluate(() => [...handed.entries()])));
  const at = new Map(ta);
  // The last row of each chunk (the first also carries the state block).
  const latencies = tb.filter(([ordering]) => ordering >= 7 && (ordering - 2) % 5 === 0)
    .map(([ordering, time]) => time - at.get(ordering));
  await Promise.all([a.close(), b.close()]);
  return latencies;
}

async function writers(concurrent) {
  const database = `bench-tabs-${++databases}`;
  const names = ["w1", "w2", "w3"];
  const messages = Math.round(opts.events / 10) - 4;
  const data = names.map((name, i) => syncResponses(name, prng(11 + i), { rooms: 10, messages }));
  if (!concurrent) {
    const page = await openTab(database, "one");
    const started = Date.now();
    let events = 0;
    for (const [i, name] of names.entries()) events += (await ingest(page, data[i], ACCOUNT)).events;
    const ms = Date.now() - started;
    await page.close();
    return { ms, events };
  }
  const pages = [];
  for (const name of names) pages.push(await openTab(database, name));
  const started = Date.now();
  const results = await Promise.all(pages.map((page, i) => ingest(page, data[i], ACCOUNT)));
  const ms = Date.now() - started;
  await Promise.all(pages.map((page) => page.close()));
  return { ms, events: results.reduce((sum, r) => sum + r.events, 0) };
}

/** Raw IndexedDB: the time of --chunks chunk transactions with and without a `stream_positions`
 *  put, alternated run by run, as [withMs[], withoutMs[]]. */
async function positionsUpkeep() {
  const page = await loadPackage(await context.newPage(), base);
  const times = await page.evaluate(async ({ chunks, runs }) => {
    const open = (name) => new Promise((resolve, reject) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("events", { keyPath: "event_id" });
        request.result.createObjectStore("sequences", { keyPath: "name" });
        request.result.createObjectStore("stream_positions", { keyPath: "instance_name" });
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    const body = "x".repeat(900);
    const run = async (db, withPositions) => {
      const started = performance.now();
      let id = 0;
      for (let chunk = 0; chunk < chunks; chunk++) {
        const stores = withPositions ? ["events", "sequences", "stream_positions"] : ["events", "sequences"];
        await new Promise((resolve, reject) => {
          const tx = db.transaction(stores, "readwrite");
          for (let k = 0; k < 6; k++) {
            id += 1;
            tx.objectStore("events").put({ event_id: `$e${id}`, stream_ordering: id, json: body });
          }
          tx.objectStore("sequences").put({ name: "events", last_value: id });
          if (withPositions) tx.objectStore("stream_positions").put({ instance_name: "tab-a", stream_id: id });
          tx.oncomplete = resolve;
          tx.onabort = () => reject(tx.error);
        });
      }
      return performance.now() - started;
    };
    const withMs = [];
    const withoutMs = [];
    for (let r = 0; r < runs; r++) {
      withoutMs.push(await run(await open(`bench-raw-without-${r}`), false));
      withMs.push(await run(await open(`bench-raw-with-${r}`), true));
    }
    return [withMs, withoutMs];
  }, { chunks: opts.chunks, runs: opts.runs + 1 });
  await page.close();
  return times;
}

try {
  const lat = await latency();
  const [withPositions, withoutPositions] = await positionsUpkeep();
  const one = [];
  const three = [];
  for (let run = 0; run < opts.runs; run++) {
    one.push(await writers(false));
    three.push(await writers(true));
  }
  const oneMs = median(one.map((r) => r.ms));
  const threeMs = median(three.map((r) => r.ms));
  const events = one[0].events;
  console.log("\nSeveral tabs (headless Chromium, IndexedDB)\n");
  console.log(`  replication latency, ${lat.length} chunks A -> B: median ${median(lat).toFixed(1)} ms, ` +
    `p99 ${percentile(lat, 0.99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms  ` +
    `(target p99 < 50 ms: ${percentile(lat, 0.99) < 50 ? "PASS" : "MISS"})`);
  console.log(`  ${events} events, 1 tab:  ${oneMs} ms (${Math.round(events / oneMs * 1000)} events/s), runs ${one.map((r) => r.ms).join(", ")}`);
  console.log(`  ${three[0].events} events, 3 tabs at once: ${threeMs} ms (${Math.round(three[0].events / threeMs * 1000)} events/s), runs ${three.map((r) => r.ms).join(", ")}`);
  console.log(`  3 tabs / 1 tab: ${(threeMs / oneMs).toFixed(2)}x the time (target <= 1: ${threeMs <= oneMs ? "PASS" : "MISS"})`);
  const [withMs, withoutMs] = [median(withPositions), median(withoutPositions)];
  console.log(`  stream_positions upkeep (raw IndexedDB, ${opts.chunks} chunk transactions): ` +
    `with ${withMs.toFixed(0)} ms, without ${withoutMs.toFixed(0)} ms: ${(withMs / withoutMs).toFixed(2)}x ` +
    `(runs with ${withPositions.map((ms) => ms.toFixed(0)).join(", ")}; without ${withoutPositions.map((ms) => ms.toFixed(0)).join(", ")})`);
} finally {
  await browser.close();
  await stopServer(server);
}
