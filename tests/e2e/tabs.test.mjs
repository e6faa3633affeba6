// Several tabs, one store, in headless Chromium: pages of one origin share IndexedDB,
// BroadcastChannel and Web Locks as tabs do. Three pages each store 5,000 events of rooms of
// their own (from /sync responses), the same events of a shared room, and the same real Synapse
// rooms (pdus.json, as PDUs), in chunks of random sizes, all at once; a fourth page only reads.
//
//   npm run build && node --test tests/e2e/tabs.test.mjs
//
// Needs the built package in www/pkg/ and Chromium at /usr/bin/chromium (CHROMIUM overrides).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, ROOT, loadPackage, serveStatic, stopServer } from "./harness.mjs";
import {
  ACCOUNT, WRITERS, openTab as tabsOpenTab, pduBatches, pdus, prng, shared, syncResponses,
} from "./tabs-data.mjs";

const WWW = join(ROOT, "www");
const DATABASE = "tabs-test";

const ROOMS = 50; // rooms of each writer's own
const MESSAGES = 96; // each with 4 state events: 5,000 events per writer

const OWN = ROOMS * (4 + MESSAGES);
const SHARED = shared.state.length + shared.timeline.length;
const PDUS = pdus.rooms.reduce((n, r) => n + r.events.length, 0);
const TOTAL = WRITERS.length * OWN + SHARED + PDUS;

let server;
let base;
let browser;
let context;

before(async () => {
  assert.ok(existsSync(join(WWW, "pkg", "prejoin.js")), "build the package first (npm run build)");
  ({ server, base } = await serveStatic(WWW, "/pkg/package.json"));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext();
});

after(async () => {
  await browser?.close();
  await stopServer(server);
});

const openTab = (instanceName) => tabsOpenTab(context, base, DATABASE, instanceName);

/** Waits until the page's current token is `token` (or fails after 30 s). */
async function untilToken(page, token) {
  await page.waitForFunction((token) => store.currentToken() === token, token, { timeout: 30_000 });
}

test("three tabs store every event once; every tab's subscriber gets rows 1..N once, in order, with the events", async () => {
  const writers = await Promise.all(WRITERS.map(openTab));
  const reader = await openTab("reader");
  // The reader checks, from inside its subscriber, that what a row made stale reads fresh.
  await reader.evaluate((owner) => {
    globalThis.checks = [];
    store.subscribe((rows) => {
      for (const row of rows) {
        if (row.type !== "m.room.name" || !row.roomId.startsWith("!tab-a-")) continue;
        checks.push(
          Promise.all([
            store.currentState(row.roomId, { types: [["m.room.name", ""]] }),
            store.roomPreviews({ ownUserId: owner }),
          ]).then(([state, previews]) => ({
            eventId: row.eventId,
            state: state.map((e) => e.event_id),
            name: previews.find((p) => p.roomId === row.roomId)?.displayName ?? null,
            expected: row.event.content.name,
          })),
        );
      }
    });
  }, ACCOUNT);

  const results = await Promise.all(
    writers.map((page, index) => {
      const random = prng(0x5eed + index);
      return page.evaluate(
        async ({ responses, batches, ownUserId }) => {
          const persisted = [];
          for (let k = 0; k < Math.max(responses.length, batches.length); k += 1) {
            if (k < responses.length) {
              const result = await store.ingestSync(responses[k], { ownUserId });
              for (const room of result.rooms) {
                if (room.error) throw new Error(`${room.roomId}: ${room.error.code} ${room.error.message}`);
                persisted.push(...room.persisted);
              }
            }
            if (k < batches.length) {
              const result = await store.persistEvents(batches[k]);
              for (const room of result.rooms) {
                if (room.error) throw new Error(`${room.roomId}: ${room.error.code} ${room.error.message}`);
                persisted.push(...room.persisted);
              }
            }
          }
          return persisted;
        },
        { responses: syncResponses(WRITERS[index], random, { rooms: ROOMS, messages: MESSAGES }), batches: pduBatches(random), ownUserId: ACCOUNT },
      );
    }),
  );
  const stored = results.flat();
  assert.equal(new Set(stored).size, stored.length, "no event stored twice");
  assert.equal(stored.length, TOTAL, "every event stored");

  for (const page of [...writers, reader]) {
    await untilToken(page, TOTAL);
    const { orderings, ids, eventsMatch, writersSeen } = await page.evaluate(() => ({
      orderings: rows.map((row) => row.streamOrdering),
      ids: new Set(rows.map((row) => row.eventId)).size,
      eventsMatch: rows.every((row) => row.event.event_id === row.eventId && row.event.type === row.type),
      writersSeen: [...new Set(rows.map((row) => row.instanceName))].sort(),
    }));
    assert.equal(orderings.length, TOTAL, "every row once");
    assert.ok(orderings.every((ordering, i) => ordering === i + 1), "rows 1..N in order");
    assert.equal(ids, TOTAL);
    assert.ok(eventsMatch, "each row carries its event");
    assert.deepEqual(writersSeen, WRITERS);
  }

  // The reader applied every row from messages alone, and one chunk's invalidations came as one
  // message: one room per chunk message.
  const stats = await reader.evaluate(() => store.stats());
  assert.equal(stats.storeReads, 0, JSON.stringify(stats));
  assert.equal(stats.catchUps, 0);
  assert.equal(stats.rowsDelivered, TOTAL);
  assert.ok(stats.chunksReceived > 0);
  assert.equal(stats.invalidations, stats.chunksReceived, JSON.stringify(stats));

  const checks = await reader.evaluate(() => Promise.all(checks));
  assert.equal(checks.length, ROOMS);
  for (const check of checks) {
    assert.deepEqual(check.state, [check.eventId], "the current state read in the callback has the event");
    assert.equal(check.name, check.expected, "the preview read in the callback has the name");
  }

  // The Synapse rooms are Synapse's, however the tabs interleaved.
  for (const synapseRoom of pdus.rooms) {
    const [extremities, state] = await reader.evaluate(
      async (roomId) => [await store.forwardExtremities(roomId), await store.currentState(roomId)],
      synapseRoom.room_id,
    );
    assert.deepEqual(extremities, [...synapseRoom.forward_extremities].sort(), synapseRoom.name);
    const ours = state.map((e) => `${e.type}|${e.state_key}|${e.event_id}`).sort();
    const theirs = synapseRoom.current_state.map((r) => `${r.type}|${r.state_key}|${r.event_id}`).sort();
    assert.deepEqual(ours, theirs, `${synapseRoom.name}: current state`);
  }

  // Every writer stands at the head, in every tab.
  for (const page of writers) {
    const positions = await page.evaluate(() => store.streamPositions());
    for (const writer of WRITERS) assert.equal(positions[writer], TOTAL, writer);
    assert.equal(await page.evaluate(() => store.currentStreamToken()), `s${TOTAL}`);
  }
  for (const page of [...writers, reader]) await page.close();
});

test("another tab's events reach every subscriber as one object each; messages this version cannot read are caught up from", async () => {
  const database = "tabs-wire";
  const [writer, reader] = [
    await tabsOpenTab(context, base, database, "wire-a"),
    await tabsOpenTab(context, base, database, "wire-b"),
  ];
  // A second subscriber in the reader, and the channel's messages as posted, to post again.
  await reader.evaluate((database) => {
    globalThis.second = [];
    store.subscribe((rows) => globalThis.second.push(...rows));
    globalThis.posted = [];
    globalThis.raw = new BroadcastChannel(`prejoin:${database}`);
    raw.onmessage = ({ data }) => posted.push(...data);
  }, database);
  const responses = syncResponses("wire", prng(7), { rooms: 2, messages: 20 });
  const token = await writer.evaluate(async ({ responses, ownUserId }) => {
    for (const response of responses) await store.ingestSync(response, { ownUserId });
    return store.currentToken();
  }, { responses, ownUserId: ACCOUNT });
  await untilToken(reader, token);
  const handed = await reader.evaluate(async () => {
    const sameObjects = rows.every((row, i) => row.event === second[i].event);
    const events = await Promise.all(rows.map(async (row) => (await store.getEvent(row.eventId)).event));
    return { rows, sameObjects, events, stats: store.stats(), posted };
  });
  assert.equal(handed.rows.length, token, "every row, once");
  assert.ok(handed.sameObjects, "both subscribers were handed the same event objects");
  assert.deepEqual(handed.rows.map((row) => row.event), handed.events, "each row's event is getEvent's");
  assert.equal(handed.stats.storeReads, 0);
  const chunks = handed.posted.filter(([head]) => JSON.parse(head).body.chunk !== undefined);
  assert.ok(chunks.length > 1, `chunk messages: ${chunks.length}`);
  assert.ok(chunks.every(([head, events]) => !head.includes('"event"') && events.startsWith("{")));

  // Posted again as they came, then as this version cannot read them: a post in one text (as
  // version 2 posted), a message alone and not in a list (as version 3 posted before the outbox),
  // events that are not JSON, one event fewer than rows, and a head that is not JSON. Each is
  // counted, none hands a row again, and the reader catches up from the store.
  const [head, events] = chunks[chunks.length - 1];
  const fewer = JSON.stringify(JSON.parse(`[${events}]`).slice(1)).slice(1, -1);
  const after = await reader.evaluate(async ({ head, events, fewer }) => {
    const before = store.stats();
    const unreadable = [
      JSON.stringify({ version: 2, head }), [head, events], [[head, "{"]], [[head, fewer]], [["{", events]],
    ];
    for (const post of [[[head, events]], ...unreadable]) raw.postMessage(post);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const now = store.stats();
    return {
      received: now.messagesReceived - before.messagesReceived,
      unreadable: now.messagesUnreadable - before.messagesUnreadable,
      catchUps: now.catchUps - before.catchUps,
      rows: rows.length,
      token: store.currentToken(),
    };
  }, { head, events, fewer });
  assert.deepEqual(after, { received: 6, unreadable: 5, catchUps: 1, rows: token, token });
  await Promise.all([writer.close(), reader.close()]);
});

test("a tab opened after every other closed starts from stream_positions alone, reading no event", async () => {
  const page = await context.newPage();
  // Counts every request on `events` made from now on.
  await page.addInitScript(() => {
    globalThis.eventsRequests = 0;
    for (const proto of [IDBObjectStore.prototype, IDBIndex.prototype]) {
      for (const method of ["get", "getAll", "getAllKeys", "getKey", "count", "openCursor", "openKeyCursor"]) {
        const original = proto[method];
        proto[method] = function (...args) {
          const store = this instanceof IDBIndex ? this.objectStore : this;
          if (store.name === "events") globalThis.eventsRequests += 1;
          return original.apply(this, args);
        };
      }
    }
  });
  await loadPackage(page, base);
  const opened = await page.evaluate(async (name) => {
    const store = await prejoin.EventStore.open({ name, instanceName: "tab-d" });
    const result = {
      token: store.currentToken(),
      positions: await store.streamPositions(),
      eventsRequests: globalThis.eventsRequests,
    };
    store.close();
    return result;
  }, DATABASE);
  assert.equal(opened.token, TOTAL);
  assert.equal(opened.eventsRequests, 0, "no request on events");
  for (const writer of [...WRITERS, "tab-d"]) assert.equal(opened.positions[writer], TOTAL, writer);
  await page.close();
});
