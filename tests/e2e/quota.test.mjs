// The event store at a full quota, in headless Chromium: the origin's quota is forced down with
// the DevTools protocol (Storage.overrideQuotaForOrigin), a small room is persisted, then a large
// one. The large room's result carries QUOTA_EXCEEDED and nothing of it is stored; the small room
// stays readable.
//
// The override is set before the page first uses IndexedDB: Chromium checks a commit against the
// space remaining that it last read from the quota manager and keeps that figure for a while
// (about half a minute here), so an override set after a first write only bites later.
// navigator.storage.estimate() does not show the override either; Storage.getUsageAndQuota does.
//
//   npm run build && node --test tests/e2e/quota.test.mjs
//
// Needs the built package in www/pkg/ and Chromium at /usr/bin/chromium (CHROMIUM overrides).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, ROOT, loadPackage, serveStatic, stopServer } from "./harness.mjs";

const WWW = join(ROOT, "www");

const { rooms } = JSON.parse(
  await readFile(join(ROOT, "tests/fixtures/synapse-1.163.2/pdus.json"), "utf8"),
);
/** The small write: the space room (room version 12, 9 events). */
const small = rooms.find((room) => room.name === "space");
/** The large write: room version 1, whose event ids are not hashes of the events, so each event
 *  can be padded and stay a valid PDU. Each stays under Synapse's 64 KiB PDU limit. The padding
 *  is random: Chromium compresses IndexedDB values, and repeated text would take no room. */
const large = rooms.find((room) => room.name === "v1");
/** The origin's quota: room for the schema and the small room, not for the large one. */
const QUOTA = 512 * 1024;

function padded(room) {
  return room.events.map(({ pdu }) => ({
    ...pdu,
    content: { ...pdu.content, padding: randomBytes(45_000).toString("base64") },
  }));
}

let server;
let context;
let profile;
let page;
let base;

before(async () => {
  assert.ok(existsSync(join(WWW, "pkg", "prejoin.js")), "www/pkg/ is missing: run npm run build first");
  ({ server, base } = await serveStatic(WWW, "/pkg/prejoin.js"));
  profile = await mkdtemp(join(tmpdir(), "prejoin-quota-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  page = await loadPackage(context.pages()[0] ?? (await context.newPage()), base);
});

after(async () => {
  await context?.close().catch(() => {});
  await stopServer(server);
  if (profile) await rm(profile, { recursive: true, force: true });
});

test("a room that does not fit the quota is QUOTA_EXCEEDED and leaves nothing; earlier rooms stay", { timeout: 120_000 }, async () => {
  const cdp = await context.newCDPSession(page);
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: base, quotaSize: QUOTA });
  const usageAndQuota = () => cdp.send("Storage.getUsageAndQuota", { origin: base });
  assert.equal((await usageAndQuota()).quota, QUOTA);

  const smallResult = await page.evaluate(async (pdus) => {
    globalThis.store = await globalThis.prejoin.EventStore.open({ name: "quota" });
    return globalThis.store.persistEvents(pdus);
  }, small.events.map((e) => e.pdu));
  assert.equal(smallResult.rooms[0].error, null);
  assert.equal(smallResult.rooms[0].persisted.length, small.events.length);
  const { usage } = await usageAndQuota();
  assert.ok(usage < QUOTA, `the small room fits (${usage} bytes used)`);

  const pdus = padded(large);
  const bytes = JSON.stringify(pdus).length;
  assert.ok(bytes > 2 * (QUOTA - usage), `the large room (${bytes} bytes of JSON) does not fit`);
  const largeResult = await page.evaluate((pdus) => globalThis.store.persistEvents(pdus), pdus);
  assert.equal(largeResult.rooms.length, 1);
  const [room] = largeResult.rooms;
  assert.equal(room.roomId, large.room_id);
  assert.equal(room.error?.code, "QUOTA_EXCEEDED", JSON.stringify(room.error));
  assert.deepEqual(room.persisted, []);
  assert.equal(room.streamOrderings, null);

  const read = await page.evaluate(async ({ largeIds, smallIds, roomId }) => {
    const store = globalThis.store;
    const get = async (ids) => Promise.all(ids.map((id) => store.getEvent(id)));
    return {
      large: (await get(largeIds)).map((event) => event === undefined),
      small: (await get(smallIds)).map((event) => event?.eventId ?? null),
      largeState: await store.currentState(roomId),
      largeExtremities: await store.forwardExtremities(roomId),
      token: store.currentToken(),
    };
  }, {
    largeIds: large.events.map((e) => e.event_id),
    smallIds: small.events.map((e) => e.event_id),
    roomId: large.room_id,
  });
  assert.ok(read.large.every(Boolean), "no event of the large room is stored");
  assert.deepEqual(read.small, small.events.map((e) => e.event_id), "the small room is still there");
  assert.deepEqual(read.largeState, []);
  assert.deepEqual(read.largeExtremities, []);
  assert.equal(read.token, small.events.length, "the failed room took no stream orderings");
  assert.ok((await usageAndQuota()).usage <= QUOTA, "nothing beyond the quota was kept");

  // With the quota lifted, the same room persists whole.
  await cdp.send("Storage.overrideQuotaForOrigin", { origin: base });
  const retried = await page.evaluate((pdus) => globalThis.store.persistEvents(pdus), pdus);
  assert.equal(retried.rooms[0].error, null);
  assert.equal(retried.rooms[0].persisted.length, large.events.length);
  await page.evaluate(() => globalThis.store.close());
});
