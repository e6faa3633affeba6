#!/usr/bin/env node
// Benchmark: several tabs over one store, in headless Chromium (pages of one origin share
// IndexedDB, BroadcastChannel and Web Locks as tabs do).
//
//   npm run bench                 (builds pkg/, then every bench)
//   node bench/tabs.mjs --chunks 1000 --events 2000 --runs 2
//
// 1. replication latency: tab A ingests --chunks /sync responses of one room and 5 new events
//    each, back to back; for each chunk, the time from A's own subscriber being handed it (right
//    after the commit) to tab B's subscriber being handed it. Median and p99; target p99 < 50 ms.
//    Then 100 responses 50 ms apart: chunks stored now and then, whose messages go at once.
// 2. what several writers cost: --events events per writer for 3 writers, stored by one tab one
//    writer's data after the other's, against 3 tabs storing their own at once, each run into a
//    fresh database. Ratio: 3 tabs' time / 1 tab's time (target <= 1: three writers together at
//    least as fast as one). Beside it, 3 tabs storing their own at once each into a database of
//    its own, which shares nothing: how much of the ratio the cores account for, and how much
//    sharing one store. Twice: `persistEvents` of a PDU room of each writer's own
//    (`cargo run --example bench_rooms`, cached in target/bench/) in batches of 1–30 events, and
//    `ingestSync` of /sync responses of 10 rooms of each writer's own and a room all share
//    (responses of one account are stored one at a time across tabs: see the README). On
//    Linux, also the machine's busy processor time in each (medians) and what share of the
//    cores that is: three tabs that keep the cores busy are bound by them, not by IndexedDB.
// 3. what receiving costs a tab: one tab stores the three writers' PDU rooms while another,
//    subscribed, receives them; the receiving tab's processor time (its renderer's, from the
//    DevTools protocol's Performance metrics), per event, how many posts of the channel carried
//    the messages, and in how many calls its subscriber was handed the rows.
// 4. tabs of one account: every tab of a client syncs on its own, so each ingests the same
//    responses (those of the three writers of 2., as one account's series). Three tabs each
//    ingesting all of them at once against one tab ingesting them: what the tabs that find a
//    response stored already cost.
// 5. what `stream_positions` costs: its upkeep is one put of a small row in each chunk's
//    transaction. Raw IndexedDB, one page: --chunks transactions of 6 event-sized records and
//    the `sequences` row, with and without that put, alternated. Ratio: with / without.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
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
    globalThis.calls = 0;
    store.subscribe((rows) => {
      globalThis.calls += 1;
      const now = performance.timeOrigin + performance.now();
      for (const row of rows) handed.set(row.streamOrdering, now);
    });
  }, { database, instance });
  return page;
}

/** Hands `page` the input `i` of a run, before its time starts (see `writers`). */
function handOver(page, i, input) {
  return page.evaluate(({ i, input }) => {
    (globalThis.inputs ??= [])[i] = input;
  }, { i, input });
}

/** Ingests the /sync responses handed over as input `i`, `pause` ms apart. */
function ingest(page, i, ownUserId, pause = 0) {
  return page.evaluate(async ({ i, ownUserId, pause }) => {
    const responses = inputs[i];
    const started = performance.now();
    let events = 0;
    for (const response of responses) {
      const result = await store.ingestSync(response, { ownUserId });
      for (const room of result.rooms) events += room.persisted.length;
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
    }
    return { ms: performance.now() - started, events };
  }, { i, ownUserId, pause });
}

/** The latency of chunks stored now and then: each is posted at once, not with the outbox. */
const [SPACED_CHUNKS, SPACED_PAUSE_MS] = [100, 50];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
let databases = 0;

/** The replication latency of `chunks` /sync responses of one room stored by tab A, `pause` ms
 *  apart, as tab B's subscriber sees them (see 1. above), in ms. */
async function latency(chunks, pause) {
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
  const responses = Array.from({ length: chunks }, (_, k) => ({
    next_batch: `s${k + 1}`,
    rooms: { join: { [roomId]: { state: { events: k === 0 ? state : [] }, timeline: { events: Array.from({ length: 5 }, event) } } } },
  }));
  await handOver(a, 0, responses);
  await ingest(a, 0, ACCOUNT, pause);
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

/** A PDU room of --events (+ a few) events for each writer, from the conformance suite's
 *  synthetic rooms (room version 10, ids computed), generated once into target/bench/. */
function pduRooms() {
  const specs = [0, 1, 2].map((i) => `messages:${opts.events + i}`);
  const dir = join(ROOT, "target", "bench");
  const file = join(dir, `rooms-${specs.join("-").replaceAll(":", "")}.json`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    const out = spawnSync("cargo", ["run", "-q", "--release", "--example", "bench_rooms", "--", ...specs], {
      cwd: ROOT, maxBuffer: 1 << 30, stdio: ["ignore", "pipe", "inherit"],
    });
    if (out.status !== 0) throw new Error("cargo run --example bench_rooms failed");
    writeFileSync(file, out.stdout);
  }
  return JSON.parse(readFileSync(file, "utf8")).rooms.map((room) => room.events);
}

/** Persists the events handed over as input `i` in batches of 1–30 (seeded); resolves to the
 *  events stored. */
function persist(page, i, seed) {
  return page.evaluate(async ({ i, seed }) => {
    const events = inputs[i];
    let state = seed;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return 1 + (state % 30);
    };
    let stored = 0;
    for (let at = 0; at < events.length;) {
      const batch = events.slice(at, at + next());
      at += batch.length;
      const result = await store.persistEvents(batch);
      for (const room of result.rooms) stored += room.persisted.length;
    }
    return { events: stored };
  }, { i, seed });
}

/** Each writer's data (`inputs[i]`) stored by one tab in turn (`way` "one"), or by three tabs at
 *  once, into one database ("shared") or each into a database of its own ("apart": what the
 *  cores allow three tabs that share nothing); the time and the events stored. The time starts
 *  once every tab holds its inputs: moving them from Node into a page is not the store's work,
 *  and one tab taking three writers' inputs in turn would pay it three times. */
async function writers(way, inputs, store) {
  const database = `bench-tabs-${++databases}`;
  const concurrent = way !== "one";
  const names = ["w1", "w2", "w3"];
  const pages = [];
  for (const [i, name] of (concurrent ? names : ["one"]).entries()) {
    pages.push(await openTab(way === "apart" ? `${database}-${i}` : database, name));
  }
  for (const [i, input] of inputs.entries()) await handOver(pages[concurrent ? i : 0], i, input);
  const cpu = cpuTimes();
  const started = Date.now();
  const results = concurrent
    ? await Promise.all(names.map((_, i) => store(pages[i], i)))
    : [await store(pages[0], 0), await store(pages[0], 1), await store(pages[0], 2)];
  const ms = Date.now() - started;
  const used = cpu && cpuTimes();
  await Promise.all(pages.map((page) => page.close()));
  const busy = used ? used.busy - cpu.busy : null;
  return { ms, events: results.reduce((sum, r) => sum + r.events, 0), busy };
}

/** The machine's busy processor time so far, in ms (every core added up), from Linux's
 *  `/proc/stat`; null elsewhere. Several tabs can be bound by the cores rather than by
 *  IndexedDB: the busy time shows which. */
function cpuTimes() {
  if (!existsSync("/proc/stat")) return null;
  const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq] = fields.map(Number);
  // USER_HZ is 100 on Linux: a tick is 10 ms.
  return { busy: (user + nice + system + irq + softirq) * 10 };
}

/** The runs of `store` over the writers' `inputs` by one tab, three tabs sharing a database and
 *  three tabs apart, alternated, as {one, three, apart} lists. */
async function compareWriters(inputs, store) {
  const one = [];
  const three = [];
  const apart = [];
  for (let run = 0; run < opts.runs; run++) {
    one.push(await writers("one", inputs, store));
    three.push(await writers("shared", inputs, store));
    apart.push(await writers("apart", inputs, store));
  }
  return { one, three, apart };
}

function printWriters(what, { one, three, apart }) {
  const msOf = (runs) => median(runs.map((r) => r.ms));
  const [oneMs, threeMs, apartMs] = [msOf(one), msOf(three), msOf(apart)];
  const rate = (events, ms) => Math.round(events / ms * 1000);
  const way = (label, runs, ms) =>
    `${label} ${ms} ms (${rate(runs[0].events, ms)} events/s; runs ${runs.map((r) => r.ms).join(", ")})`;
  console.log(`  ${what}: ${one[0].events} events, ${way("1 tab", one, oneMs)}, ` +
    `${way("3 tabs at once", three, threeMs)}, ${way("3 tabs each into a database of its own", apart, apartMs)}`);
  console.log(`    3 tabs / 1 tab: ${(threeMs / oneMs).toFixed(2)}x the time (target <= 1: ${threeMs <= oneMs ? "PASS" : "MISS"}); ` +
    `3 tabs apart / 1 tab: ${(apartMs / oneMs).toFixed(2)}x (what the cores allow tabs that share nothing); ` +
    `3 tabs / 3 tabs apart: ${(threeMs / apartMs).toFixed(2)}x (what sharing one store costs)`);
  if (one[0].busy !== null) {
    const cores = os.availableParallelism();
    const busy = (runs) => median(runs.map((r) => r.busy));
    const use = (runs) => Math.round(100 * busy(runs) / (cores * msOf(runs)));
    console.log(`    processor time, ${cores} cores: 1 tab ${busy(one)} ms (${use(one)}% of the cores), ` +
      `3 tabs ${busy(three)} ms (${use(three)}%), 3 tabs apart ${busy(apart)} ms (${use(apart)}%)`);
  }
}

/** What receiving costs a tab: one tab stores every writer's data (`persist`) while another,
 *  subscribed, receives it. The reader's processor time, its renderer's and its main thread's
 *  (the DevTools protocol's `Performance` metrics, in ms), and the messages it received in how
 *  many of the writer's posts. The posts are counted in the writer's page, so that the count
 *  costs the reader nothing. */
async function receiving(inputs) {
  const database = `bench-tabs-${++databases}`;
  const [writer, reader] = [await openTab(database, "writer"), await openTab(database, "reader")];
  await writer.evaluate((database) => {
    globalThis.posts = 0;
    new BroadcastChannel(`prejoin:${database}`).onmessage = ({ data }) => {
      if (data[0][0].includes('"instanceName":"writer"')) globalThis.posts += 1;
    };
  }, database);
  for (const [i, input] of inputs.entries()) await handOver(writer, i, input);
  const devtools = await context.newCDPSession(reader);
  await devtools.send("Performance.enable");
  const processorTime = async () => {
    const { metrics } = await devtools.send("Performance.getMetrics");
    const value = (name) => metrics.find((metric) => metric.name === name).value * 1000;
    return { process: value("ProcessTime"), thread: value("ThreadTime") };
  };
  const before = await processorTime();
  let events = 0;
  for (const i of inputs.keys()) events += (await persist(writer, i, 11 + i)).events;
  const total = await writer.evaluate(() => store.currentToken());
  await reader.waitForFunction((total) => store.currentToken() === total, total, { timeout: 60_000 });
  const after = await processorTime();
  const { messages, calls } = await reader.evaluate(() => ({ messages: store.stats().messagesReceived, calls }));
  const posts = await writer.evaluate(() => posts);
  await Promise.all([writer.close(), reader.close()]);
  return { events, process: after.process - before.process, thread: after.thread - before.thread, messages, posts, calls };
}

function printReceiving(runs) {
  const [process, thread] = [median(runs.map((r) => r.process)), median(runs.map((r) => r.thread))];
  const { events, messages } = runs[0];
  console.log(`  receiving, a tab subscribed while another stores ${events} events (persistEvents): ` +
    `${process.toFixed(0)} ms of its renderer's processor time (${(process / events * 1000).toFixed(0)} µs an event; ` +
    `runs ${runs.map((r) => r.process.toFixed(0)).join(", ")}), ${thread.toFixed(0)} ms of it on its main thread; ` +
    `${messages} messages in ${median(runs.map((r) => r.posts))} posts of the channel, ` +
    `handed to its subscriber in ${median(runs.map((r) => r.calls))} calls`);
}

/** One account's `responses` ingested by one tab, then by three tabs each ingesting all of them
 *  at once (see 4. above), alternated run by run, as {one, three} lists of {ms, events}. */
async function sameAccount(responses) {
  const runs = { one: [], three: [] };
  for (let run = 0; run < opts.runs; run++) {
    for (const [way, tabs] of [["one", 1], ["three", 3]]) {
      const database = `bench-tabs-${++databases}`;
      const pages = [];
      for (let i = 0; i < tabs; i++) pages.push(await openTab(database, `t${i}`));
      for (const page of pages) await handOver(page, 0, responses);
      const started = Date.now();
      const results = await Promise.all(pages.map((page) => ingest(page, 0, ACCOUNT)));
      const ms = Date.now() - started;
      await Promise.all(pages.map((page) => page.close()));
      runs[way].push({ ms, events: results.reduce((sum, r) => sum + r.events, 0) });
    }
  }
  return runs;
}

function printSameAccount(responses, { one, three }) {
  const [oneMs, threeMs] = [median(one.map((r) => r.ms)), median(three.map((r) => r.ms))];
  const stored = (runs) => runs.map((r) => r.events).join(", ");
  console.log(`  tabs of one account, ${responses} responses each: 1 tab ${oneMs} ms (runs ${one.map((r) => r.ms).join(", ")}), ` +
    `3 tabs ingesting all of them at once ${threeMs} ms (runs ${three.map((r) => r.ms).join(", ")}): ` +
    `${(threeMs / oneMs).toFixed(2)}x the time; events stored ${stored(one)} by 1 tab, ${stored(three)} by 3 tabs`);
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
  const lat = await latency(opts.chunks, 0);
  const spaced = await latency(SPACED_CHUNKS, SPACED_PAUSE_MS);
  const rooms = pduRooms();
  const persisted = await compareWriters(rooms, (page, i) => persist(page, i, 11 + i));
  const messages = Math.round(opts.events / 10) - 4;
  const data = ["w1", "w2", "w3"].map((name, i) => syncResponses(name, prng(11 + i), { rooms: 10, messages }));
  const synced = await compareWriters(data, (page, i) => ingest(page, i, ACCOUNT));
  // One account's series: next_batch rises from one response to the next.
  const series = data.flat().map((response, k) => ({ ...response, next_batch: `s${k + 1}` }));
  const same = await sameAccount(series);
  const received = [];
  for (let run = 0; run < opts.runs; run++) received.push(await receiving(rooms));
  const [withPositions, withoutPositions] = await positionsUpkeep();
  console.log("\nSeveral tabs (headless Chromium, IndexedDB)\n");
  const latencyLine = (runs, what) => `  replication latency, ${runs.length} chunks A -> B ${what}: ` +
    `median ${median(runs).toFixed(1)} ms, p99 ${percentile(runs, 0.99).toFixed(1)} ms, max ${Math.max(...runs).toFixed(1)} ms`;
  console.log(`${latencyLine(lat, "back to back")}  (target p99 < 50 ms: ${percentile(lat, 0.99) < 50 ? "PASS" : "MISS"})`);
  console.log(latencyLine(spaced, `${SPACED_PAUSE_MS} ms apart`));
  printWriters("persistEvents, a room of each writer's own", persisted);
  printWriters("ingestSync, rooms of each writer's own and one shared", synced);
  printReceiving(received);
  printSameAccount(series.length, same);
  const [withMs, withoutMs] = [median(withPositions), median(withoutPositions)];
  console.log(`  stream_positions upkeep (raw IndexedDB, ${opts.chunks} chunk transactions): ` +
    `with ${withMs.toFixed(0)} ms, without ${withoutMs.toFixed(0)} ms: ${(withMs / withoutMs).toFixed(2)}x ` +
    `(runs with ${withPositions.map((ms) => ms.toFixed(0)).join(", ")}; without ${withoutPositions.map((ms) => ms.toFixed(0)).join(", ")})`);
} finally {
  await browser.close();
  await stopServer(server);
}
