// Several tabs, one store, when tabs misbehave (headless Chromium; pages of one origin share
// IndexedDB, BroadcastChannel and Web Locks as tabs do): a writer idle for 30 s holds nobody
// back; a page closed and a page whose renderer crashed, both while writing, neither stall the
// others nor leave part of a chunk; and the survivors' positions are right after a reopen.
//
//   npm run build && node --test tests/e2e/tabs-stall.test.mjs

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

import { CHROMIUM, CHROMIUM_ARGS, ROOT, serveStatic, stopServer } from "./harness.mjs";
import { ACCOUNT, openTab as tabsOpenTab, prng, syncResponses } from "./tabs-data.mjs";

const WWW = join(ROOT, "www");
const IDLE_MS = 30_000;

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

const openTab = (database, instanceName) => tabsOpenTab(context, base, database, instanceName);

/** Ingests `responses` in the page one after the other, `pauseMs` apart; resolves to the ids
 *  stored. */
function ingest(page, responses, ownUserId, pauseMs = 0) {
  return page.evaluate(
    async ({ responses, ownUserId, pauseMs }) => {
      const stored = [];
      for (const response of responses) {
        const result = await store.ingestSync(response, { ownUserId });
        for (const room of result.rooms) stored.push(...room.persisted);
        if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
      return stored;
    },
    { responses, ownUserId, pauseMs },
  );
}

const token = (page) => page.evaluate(() => store.currentToken());

/** The rows a page was handed are 1..`total`, once each, in order. */
async function assertRows(page, total, what) {
  const orderings = await page.evaluate(() => rows.map((row) => row.streamOrdering));
  assert.equal(orderings.length, total, what);
  assert.ok(orderings.every((ordering, i) => ordering === i + 1), `${what}: rows 1..N in order`);
}

test("a writer idle for 30 s holds back neither the writer nor a reader", async () => {
  const database = "tabs-idle";
  const idle = await openTab(database, "idle");
  const writer = await openTab(database, "writer");
  const reader = await openTab(database, "reader");
  const responses = syncResponses("writer", prng(7), { rooms: 10, messages: 60 });
  // One response every `pause` ms for 30 s; after each, the reader's and the idle writer's
  // tokens reach the writer's within a second: nobody waits on the idle writer.
  const pause = Math.ceil(IDLE_MS / responses.length);
  const started = Date.now();
  let total = 0;
  for (const response of responses) {
    total += (await ingest(writer, [response], ACCOUNT)).length;
    assert.equal(await token(writer), total);
    for (const page of [reader, idle]) {
      await page.waitForFunction((total) => store.currentToken() === total, total, { timeout: 1_000 });
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  assert.ok(Date.now() - started >= IDLE_MS, "the idle writer stayed idle for 30 s");
  for (const page of [writer, reader, idle]) await assertRows(page, total, "after 30 s");
  assert.equal(await idle.evaluate(() => store.stats().storeReads), 0);
  // The idle writer stands at the head in every tab (synapse#8499).
  for (const page of [writer, reader]) {
    const positions = await page.evaluate(() => store.streamPositions());
    assert.equal(positions.idle, total);
  }
  for (const page of [idle, writer, reader]) await page.close();
});

test("a page closed and a page crashed while writing stall nobody and leave no partial chunk", async () => {
  const database = "tabs-crash";
  const names = ["survivor-1", "survivor-2", "closed", "crashed"];
  const pages = [];
  for (const name of names) pages.push(await openTab(database, name));
  const data = names.map((name, i) => syncResponses(name, prng(100 + i), { rooms: 20, messages: 150 }));
  const writing = pages.map((page, i) => ingest(page, data[i], ACCOUNT).catch(() => null));
  // Let every tab write for a while, then close one and crash another, both mid-run.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await pages[2].close();
  const session = await context.newCDPSession(pages[3]);
  // The command never answers (its renderer is gone): wait for the page's crash instead.
  const crashed = pages[3].waitForEvent("crash");
  session.send("Page.crash").catch(() => {});
  await crashed;
  const survivors = pages.slice(0, 2);
  const [stored1, stored2] = await Promise.all(writing.slice(0, 2));
  assert.ok(stored1.length > 0 && stored2.length > 0);

  // A fresh tab reads the stream's end from the store; both survivors reach it.
  const fresh = await openTab(database, "fresh");
  const total = await token(fresh);
  for (const page of survivors) {
    await page.waitForFunction((total) => store.currentToken() === total, total, { timeout: 5_000 });
    await assertRows(page, total, "a survivor");
  }
  // Each room of the closed and the crashed tab holds whole chunks: a prefix of what its
  // responses sent it.
  for (const i of [2, 3]) {
    for (const roomId of Object.keys(data[i][0].rooms.join)) {
      const timeline = await fresh.evaluate(
        async (roomId) => (await store.roomTimeline(roomId, { limit: 1000 })).events.map((e) => e.event_id),
        roomId,
      );
      const sent = data[i].flatMap((response) => response.rooms.join[roomId]?.timeline.events ?? []);
      const boundaries = [0];
      for (const response of data[i]) {
        const chunk = response.rooms.join[roomId]?.timeline.events.length;
        if (chunk) boundaries.push(boundaries.at(-1) + chunk);
      }
      assert.ok(boundaries.includes(timeline.length), `${names[i]}: ${roomId} holds whole chunks`);
      assert.deepEqual(timeline, sent.slice(0, timeline.length).map((e) => e.event_id));
    }
  }
  for (const page of survivors) await page.close();
  await fresh.close();

  // Reopened, the store starts where it ended, with each writer that stored anything at the head.
  const reopened = await openTab(database, "reopened");
  assert.equal(await token(reopened), total);
  const positions = await reopened.evaluate(() => store.streamPositions());
  for (const name of ["survivor-1", "survivor-2"]) assert.equal(positions[name], total, name);
  await reopened.close();
});
