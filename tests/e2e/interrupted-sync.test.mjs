// A /sync response whose ingestion is cut off by closing the page, in headless Chromium over real
// IndexedDB: the sync token stays at the previous response's, the rooms written before the close
// are whole, and ingesting the same response again completes the store without storing anything
// twice (every event once, stream orderings 1..N without a hole).
//
//   npm run build && node --test tests/e2e/interrupted-sync.test.mjs
//
// Needs the built package in www/pkg/ and Chromium at /usr/bin/chromium (CHROMIUM overrides).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, ROOT, loadPackage, serveStatic, stopServer } from "./harness.mjs";

const WWW = join(ROOT, "www");
const USER = "@reader:example.org";
const ROOMS = 400;
const MESSAGES = 40;

/** A client-format event id: `$` and 43 characters of URL-safe base64, unique per `n`. */
function eventId(n) {
  return `$${String(n).padStart(43, "A")}`;
}

/** A first /sync of `ROOMS` joined rooms, each with its state block and a timeline of
 *  `MESSAGES` messages: enough rooms that the page can be closed while they are written. */
function firstSync() {
  let n = 0;
  const event = (fields) => ({
    event_id: eventId(++n),
    origin_server_ts: 1_700_000_000_000 + n,
    unsigned: { age: 5 },
    sender: USER,
    ...fields,
  });
  const join = {};
  for (let room = 0; room < ROOMS; room += 1) {
    const state = [
      event({ type: "m.room.create", state_key: "", content: { room_version: "10" } }),
      event({ type: "m.room.member", state_key: USER, content: { membership: "join" } }),
      event({ type: "m.room.join_rules", state_key: "", content: { join_rule: "invite" } }),
      event({ type: "m.room.name", state_key: "", content: { name: `Room ${room}` } }),
    ];
    const timeline = Array.from({ length: MESSAGES }, (_, i) =>
      event({ type: "m.room.message", content: { msgtype: "m.text", body: `message ${i}` } }),
    );
    join[`!room${room}:example.org`] = {
      state: { events: state },
      timeline: { events: timeline, limited: true, prev_batch: `p${room}` },
    };
  }
  return { next_batch: "s2", rooms: { join } };
}

const response = firstSync();
const EVENTS = ROOMS * (4 + MESSAGES);

let server;
let context;
let profile;
let base;

/** A page of the served origin with the package loaded as `globalThis.prejoin`. */
async function openPage() {
  return loadPackage(await context.newPage(), base);
}

before(async () => {
  assert.ok(existsSync(join(WWW, "pkg", "prejoin.js")), "www/pkg/ is missing: run npm run build first");
  ({ server, base } = await serveStatic(WWW, "/pkg/prejoin.js"));
  profile = await mkdtemp(join(tmpdir(), "prejoin-interrupted-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
});

after(async () => {
  await context?.close().catch(() => {});
  await stopServer(server);
  if (profile) await rm(profile, { recursive: true, force: true });
});

test("a page closed while a response is ingested leaves the previous token; ingesting again completes it once", { timeout: 180_000 }, async () => {
  const first = await openPage();
  await first.evaluate(async (user) => {
    globalThis.store = await globalThis.prejoin.EventStore.open({ name: "interrupted" });
    await globalThis.store.ingestSync({ next_batch: "s1" }, { ownUserId: user });
  }, USER);
  // Told of each room written, the test closes the page once a few are: the rooms after that
  // are cut off wherever the close finds them (between two rooms or inside one's transaction).
  let written = 0;
  let closing;
  const closed = new Promise((resolve) => { closing = resolve; });
  await first.exposeFunction("roomWritten", (done) => {
    written = done;
    if (done === 5) closing(first.close({ runBeforeUnload: false }));
  });
  first.evaluate(
    ({ response, user }) =>
      globalThis.store.ingestSync(response, { ownUserId: user, onProgress: (done) => globalThis.roomWritten(done) }),
    { response, user: USER },
  ).catch(() => {});
  await closed;
  assert.ok(written >= 5 && written < ROOMS, `closed after ${written} of ${ROOMS} rooms`);

  const second = await openPage();
  const partial = await second.evaluate(async ({ user, rooms }) => {
    const store = await globalThis.prejoin.EventStore.open({ name: "interrupted" });
    globalThis.store = store;
    let whole = 0;
    for (let room = 0; room < rooms; room += 1) {
      const { events } = await store.roomTimeline(`!room${room}:example.org`, { limit: 100 });
      if (events.length > 0) whole += 1;
    }
    return { token: store.syncToken(), current: store.currentToken(), whole, user };
  }, { user: USER, rooms: ROOMS });
  assert.equal(partial.token, "s1", "the token of the response stored whole before");
  assert.ok(partial.whole >= 5 && partial.whole < ROOMS, `${partial.whole} rooms stored before the close`);
  assert.equal(partial.current, partial.whole * (4 + MESSAGES), "only whole rooms were written");

  const again = await second.evaluate(
    ({ response, user }) => globalThis.store.ingestSync(response, { ownUserId: user }),
    { response, user: USER },
  );
  assert.equal(again.syncTokenStored, true);
  const stored = again.rooms.filter((room) => room.persisted.length > 0).length;
  assert.equal(stored, ROOMS - partial.whole, "the rooms written before store nothing again");
  assert.equal(again.counts.events, EVENTS - partial.current);

  const complete = await second.evaluate(async ({ rooms, messages }) => {
    const store = globalThis.store;
    const ids = new Set();
    let short = 0;
    for (let room = 0; room < rooms; room += 1) {
      const { events, gap } = await store.roomTimeline(`!room${room}:example.org`, { limit: 100 });
      if (events.length !== messages || gap?.prevBatch !== `p${room}`) short += 1;
      for (const event of events) ids.add(event.event_id);
    }
    const previews = await store.roomPreviews({ ownUserId: "@reader:example.org" });
    return { token: store.syncToken(), current: store.currentToken(), ids: ids.size, short, previews: previews.length };
  }, { rooms: ROOMS, messages: MESSAGES });
  assert.equal(complete.token, "s2");
  assert.equal(complete.short, 0, "every room's timeline is whole, with its gap");
  assert.equal(complete.ids, ROOMS * MESSAGES);
  assert.equal(complete.current, EVENTS, "every event stored once: orderings 1..N, no hole");
  assert.equal(complete.previews, ROOMS);
  await second.close();
});
